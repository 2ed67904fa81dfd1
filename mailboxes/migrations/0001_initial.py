from django.db import migrations, models

import mailadmin.lib.fields
import mailadmin.lib.flags
from mailadmin.lib.migration_ops import EnsureLegacyTable


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("domains", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Mailbox",
            fields=[
                (
                    "username",
                    models.CharField(
                        max_length=255, primary_key=True, serialize=False, verbose_name="address"
                    ),
                ),
                ("uid", models.CharField(default="", max_length=255, verbose_name="local part")),
                ("password", models.CharField(default="", max_length=255)),
                ("clearpwd", models.CharField(default="", editable=False, max_length=128)),
                (
                    "name",
                    models.CharField(
                        blank=True, default="", max_length=255, verbose_name="display name"
                    ),
                ),
                (
                    "mailhost",
                    models.CharField(
                        blank=True, default="", max_length=255, verbose_name="storage host"
                    ),
                ),
                ("maildir", models.CharField(default="", max_length=255)),
                ("homedir", models.CharField(default="", max_length=255)),
                ("quota", models.CharField(default="0", max_length=16, verbose_name="quota")),
                (
                    "netdiskquota",
                    models.CharField(default="0", max_length=16, verbose_name="netdisk quota"),
                ),
                ("uidnumber", models.IntegerField(default=1000, verbose_name="uid")),
                ("gidnumber", models.IntegerField(default=1000, verbose_name="gid")),
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
                ("disablepwdchange", models.SmallIntegerField(blank=True, null=True)),
                ("disablesmtpd", models.SmallIntegerField(blank=True, null=True)),
                ("disablesmtp", models.SmallIntegerField(blank=True, null=True)),
                ("disablewebmail", models.SmallIntegerField(blank=True, null=True)),
                ("disablenetdisk", models.SmallIntegerField(blank=True, null=True)),
                ("disableimap", models.SmallIntegerField(blank=True, null=True)),
                ("disablepop3", models.SmallIntegerField(blank=True, null=True)),
                (
                    "question",
                    models.TextField(blank=True, default="", verbose_name="recovery question"),
                ),
                ("answer", models.TextField(blank=True, default="")),
            ],
            options={
                "verbose_name": "mailbox",
                "verbose_name_plural": "mailboxes",
                "db_table": "mailbox",
                "ordering": ["username"],
                "managed": False,
            },
            bases=(mailadmin.lib.flags.ServiceFlagsMixin, models.Model),
        ),
        EnsureLegacyTable("mailbox"),
    ]
