"""Indexes on the expiry dates of the active mailboxes and domains, so that the expiry page reads
those expiring soon (and those expired but still active) as an index range; no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0003_list_sort_indexes"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_active_expiry"),
        AddAdditiveIndex("mailadmin_domain_active_expiry"),
    ]
