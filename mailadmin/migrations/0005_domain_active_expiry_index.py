"""An index on the expiry dates of each domain's active mailboxes, so that the expiry page of a
domain admin reads the mailboxes expired but still active, and those expiring soon, as one
index range per domain in date order; no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0004_expiry_index"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_domain_active_expiry"),
    ]
