"""The numeric sort keys of the mailboxes (mailboxes.sortkeys), filled from the existing rows in
one INSERT ... SELECT computed by the database."""

from django.db import migrations, models

from mailadmin.lib.quota import quota_sort_key_sql


def fill(apps, schema_editor):
    """A key for every mailbox already there (an adopted ExtMan database): the quota strings
    are read by the database, so 1,000,000 rows take seconds. The periodic recompute reads
    them again in Python (mailadmin.lib.derived) and corrects any row it reads otherwise."""
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    quota, params = quota_sort_key_sql(f"m.{qn('quota')}", connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mailadmin_mailbox_sort_key (address, domain, quota_bytes)"  # noqa: S608
            f" SELECT m.username, m.{qn('domain')}, {quota} FROM {qn('mailbox')} m",
            params,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("mailboxes", "0003_mailbox_disk_usage"),
    ]

    operations = [
        migrations.CreateModel(
            name="MailboxSortKey",
            fields=[
                ("address", models.CharField(max_length=255, primary_key=True, serialize=False)),
                ("domain", models.CharField(max_length=255)),
                ("quota_bytes", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "mailadmin_mailbox_sort_key",
                "indexes": [
                    models.Index(
                        fields=["domain", "quota_bytes", "address"],
                        name="mailadmin_sort_key_quota",
                    ),
                    models.Index(
                        fields=["quota_bytes", "address"], name="mailadmin_sort_key_quota_all"
                    ),
                ],
            },
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
