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
            name="Alias",
            fields=[
                (
                    "address",
                    models.CharField(
                        max_length=255, primary_key=True, serialize=False, verbose_name="address"
                    ),
                ),
                ("goto", models.TextField(default="", verbose_name="targets")),
                (
                    "createdate",
                    mailadmin.lib.fields.ZeroDateTimeField(
                        default=mailadmin.lib.fields.local_now, verbose_name="created"
                    ),
                ),
                ("active", models.BooleanField(default=True, verbose_name="active")),
            ],
            options={
                "verbose_name": "alias",
                "verbose_name_plural": "aliases",
                "db_table": "alias",
                "ordering": ["address"],
                "managed": False,
            },
        ),
        EnsureLegacyTable("alias"),
    ]
