"""An index on the active mailboxes' expiry dates, so that the expiry page reads the mailboxes
expiring soon (and those expired but still active) of every domain as an index range; no data
changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0003_list_sort_indexes"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_active_expiry"),
    ]
