"""An index on the domains' descriptions, so that the domain list's search by prefix (of the
name or the description) reads two index ranges instead of every domain; no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0005_domain_active_expiry_index"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_domain_description"),
    ]
