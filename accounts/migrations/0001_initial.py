from django.db import migrations, models

import mailadmin.lib.fields
from mailadmin.lib.migration_ops import EnsureLegacyTable


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("domains", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Manager",
            fields=[
                (
                    "username",
                    models.CharField(
                        max_length=255, primary_key=True, serialize=False, verbose_name="username"
                    ),
                ),
                ("password", models.CharField(default="", max_length=255, verbose_name="password")),
                (
                    "type",
                    models.CharField(default="postmaster", max_length=64, verbose_name="role"),
                ),
                ("uid", models.CharField(blank=True, default="", max_length=255)),
                (
                    "name",
                    models.CharField(blank=True, default="", max_length=255, verbose_name="name"),
                ),
                ("question", models.TextField(blank=True, default="")),
                ("answer", models.TextField(blank=True, default="")),
                ("disablepwdchange", models.SmallIntegerField(blank=True, null=True)),
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
                "verbose_name": "manager",
                "verbose_name_plural": "managers",
                "db_table": "manager",
                "ordering": ["username"],
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="DomainManager",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "manager",
                        "domain",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "createdate",
                    mailadmin.lib.fields.ZeroDateTimeField(default=mailadmin.lib.fields.local_now),
                ),
                ("active", models.BooleanField(default=True)),
            ],
            options={
                "verbose_name": "domain assignment",
                "verbose_name_plural": "domain assignments",
                "db_table": "domain_manager",
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="PanelSession",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="session key"
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
            ],
            options={
                "verbose_name": "session",
                "verbose_name_plural": "sessions",
                "db_table": "mailadmin_session",
            },
        ),
        EnsureLegacyTable("manager"),
        EnsureLegacyTable("domain_manager"),
    ]
