"""The panel's per-domain usage table, filled from the existing mailbox and alias rows."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

# Quota strings summed by their leading number, as both databases cast them.
MAILBOX_SUMS = {
    True: "SELECT domain, COUNT(*), SUM(CAST(quota AS SIGNED)),"
    " SUM(CAST(netdiskquota AS SIGNED)) FROM mailbox GROUP BY domain",
    False: "SELECT domain, COUNT(*), SUM(CAST(quota AS INTEGER)),"
    " SUM(CAST(netdiskquota AS INTEGER)) FROM mailbox GROUP BY domain",
}


def fill_usage(apps, schema_editor):
    """One row per existing domain, counted as domains.usage.count_usage() counts. Plain SQL
    on the legacy columns: the migration state of the legacy models has no domain columns."""
    DomainUsage = apps.get_model("domains", "DomainUsage")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT domain FROM domain")
        figures = {
            name: {"mailboxes": 0, "aliases": 0, "quota_bytes": 0, "netdisk_bytes": 0}
            for (name,) in cursor.fetchall()
        }
        cursor.execute(MAILBOX_SUMS[connection.vendor == "mysql"])
        for name, count, quota, netdisk in cursor.fetchall():
            if name in figures:
                figures[name].update(
                    mailboxes=count, quota_bytes=int(quota or 0), netdisk_bytes=int(netdisk or 0)
                )
        # A mailbox's own forwarding alias (same address) is not an alias.
        cursor.execute(
            "SELECT a.domain, COUNT(*) FROM alias a WHERE NOT EXISTS"
            " (SELECT 1 FROM mailbox m WHERE m.username = a.address) GROUP BY a.domain"
        )
        for name, count in cursor.fetchall():
            if name in figures:
                figures[name]["aliases"] = count
    now = timezone.now()
    DomainUsage.objects.using(connection.alias).bulk_create(
        [DomainUsage(domain_id=name, updated_at=now, **values) for name, values in figures.items()],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0001_initial"),
        ("mailboxes", "0001_initial"),
        ("aliases", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="DomainUsage",
            fields=[
                (
                    "domain",
                    models.OneToOneField(
                        db_column="domain",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="usage",
                        serialize=False,
                        to="domains.domain",
                    ),
                ),
                ("mailboxes", models.IntegerField(default=0)),
                ("aliases", models.IntegerField(default=0)),
                ("quota_bytes", models.BigIntegerField(default=0)),
                ("netdisk_bytes", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "mailadmin_domain_usage",
            },
        ),
        migrations.RunPython(fill_usage, migrations.RunPython.noop, elidable=True),
    ]
