from django.db import migrations, models

import mailadmin.lib.fields
import mailadmin.lib.flags
from mailadmin.lib.migration_ops import EnsureLegacyTable


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Domain",
            fields=[
                (
                    "domain",
                    models.CharField(
                        max_length=255, primary_key=True, serialize=False, verbose_name="domain"
                    ),
                ),
                (
                    "description",
                    models.CharField(
                        blank=True, default="", max_length=255, verbose_name="description"
                    ),
                ),
                ("hashdirpath", models.CharField(blank=True, default="", max_length=255)),
                ("maxalias", models.IntegerField(default=0, verbose_name="max aliases")),
                ("maxusers", models.IntegerField(default=0, verbose_name="max mailboxes")),
                (
                    "maxquota",
                    models.CharField(default="0", max_length=16, verbose_name="max total quota"),
                ),
                (
                    "maxnetdiskquota",
                    models.CharField(
                        default="0", max_length=16, verbose_name="max total netdisk quota"
                    ),
                ),
                (
                    "transport",
                    models.CharField(
                        blank=True, max_length=255, null=True, verbose_name="transport"
                    ),
                ),
                ("can_signup", models.BooleanField(default=False, verbose_name="signup allowed")),
                ("default_quota", models.CharField(blank=True, max_length=255, null=True)),
                ("default_netdiskquota", models.CharField(blank=True, max_length=255, null=True)),
                ("default_expire", models.CharField(blank=True, max_length=12, null=True)),
                ("disablesmtpd", models.SmallIntegerField(blank=True, null=True)),
                ("disablesmtp", models.SmallIntegerField(blank=True, null=True)),
                ("disablewebmail", models.SmallIntegerField(blank=True, null=True)),
                ("disablenetdisk", models.SmallIntegerField(blank=True, null=True)),
                ("disableimap", models.SmallIntegerField(blank=True, null=True)),
                ("disablepop3", models.SmallIntegerField(blank=True, null=True)),
                (
                    "createdate",
                    mailadmin.lib.fields.ZeroDateTimeField(
                        default=mailadmin.lib.fields.local_now, verbose_name="created"
                    ),
                ),
                (
                    "expiredate",
                    mailadmin.lib.fields.ZeroDateField(
                        blank=True, default=None, null=True, verbose_name="expires"
                    ),
                ),
                ("active", models.BooleanField(default=True, verbose_name="active")),
            ],
            options={
                "verbose_name": "domain",
                "verbose_name_plural": "domains",
                "db_table": "domain",
                "ordering": ["domain"],
                "managed": False,
            },
            bases=(mailadmin.lib.flags.ServiceFlagsMixin, models.Model),
        ),
        EnsureLegacyTable("domain"),
    ]
