"""The per-domain sums of the measured disk use, filled from the stored measurements."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

# The domain part of an address (after its last "@"), as mailadmin.lib.expressions.AddressDomain.
ADDRESS_DOMAIN = {
    True: "SUBSTRING_INDEX(u.address, '@', -1)",
    False: "REPLACE(u.address, RTRIM(u.address, REPLACE(u.address, '@', '')), '')",
}

# One statement over every measurement, counted as domains.usage.count_disk_usage() counts:
# the domain's own mailboxes (the mailbox exists, its domain column and its address in the
# domain) of existing domains.
FILL = (
    "INSERT INTO mailadmin_domain_disk_usage"
    " (domain, measured, used_bytes, messages, over_90, measured_at, updated_at)"
    " SELECT u.domain, COUNT(u.used_bytes), COALESCE(SUM(u.used_bytes), 0),"
    " COALESCE(SUM(u.messages), 0), COUNT(CASE WHEN u.percent >= 90 THEN 1 END),"
    " MAX(u.measured_at), %s"
    " FROM mailadmin_mailbox_disk_usage u"
    " JOIN mailbox m ON m.username = u.address AND m.domain = u.domain"
    " JOIN domain d ON d.domain = u.domain"
    " WHERE {address_domain} = u.domain"
    " GROUP BY u.domain"
)


def fill_disk_usage(apps, schema_editor):
    connection = schema_editor.connection
    sql = FILL.format(address_domain=ADDRESS_DOMAIN[connection.vendor == "mysql"])
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(timezone.now())])


class Migration(migrations.Migration):
    dependencies = [
        ("domains", "0004_usage_sort_indexes"),
        ("mailboxes", "0003_mailbox_disk_usage"),
    ]

    operations = [
        migrations.CreateModel(
            name="DomainDiskUsage",
            fields=[
                (
                    "domain",
                    models.OneToOneField(
                        db_column="domain",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="disk_usage",
                        serialize=False,
                        to="domains.domain",
                    ),
                ),
                ("measured", models.IntegerField(default=0)),
                ("used_bytes", models.BigIntegerField(default=0)),
                ("messages", models.BigIntegerField(default=0)),
                ("over_90", models.IntegerField(default=0)),
                ("measured_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "db_table": "mailadmin_domain_disk_usage",
            },
        ),
        migrations.RunPython(fill_disk_usage, migrations.RunPython.noop, elidable=True),
    ]
