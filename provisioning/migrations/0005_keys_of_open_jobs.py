"""Order keys for the jobs that were still open when the order of jobs was introduced, so that
they keep their place before the jobs recorded after the upgrade."""

from django.db import migrations

OPEN = ("pending", "running", "failed")


def add_keys(apps, schema_editor):
    from provisioning.services import keys_for

    Job = apps.get_model("provisioning", "Job")
    JobKey = apps.get_model("provisioning", "JobKey")
    keys = []
    for job in Job.objects.filter(state__in=OPEN).iterator():
        payload = job.payload or {}
        addresses = [m.get("address", "") for m in payload.get("mailboxes", [])]
        if payload.get("old_address"):
            addresses += [payload["old_address"], job.object_id]
        domains = [payload["old"]] if job.kind == "domain.move" and payload.get("old") else []
        for key, exclusive in keys_for(
            job.kind,
            domain=job.domain,
            object_id=job.object_id,
            addresses=[a for a in addresses if a],
            domains=domains,
        ).items():
            keys.append(JobKey(job_id=job.pk, key=key[:300], exclusive=exclusive))
    JobKey.objects.bulk_create(keys, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0004_job_order_and_lease"),
    ]

    operations = [
        migrations.RunPython(add_keys, migrations.RunPython.noop),
    ]
