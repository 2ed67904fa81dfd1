"""Indexes on the sort columns of a domain's mailbox list, so that keyset paging reads a page
in index order at any depth (mailadmin.lib.listing); no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0002_home_indexes"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_domain_name"),
        AddAdditiveIndex("mailadmin_mailbox_domain_expiry"),
        AddAdditiveIndex("mailadmin_mailbox_domain_active"),
    ]
