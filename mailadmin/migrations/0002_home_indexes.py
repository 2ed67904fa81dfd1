"""Indexes on the mailbox paths, for the check that a disk job acts on a mailbox's own
directory only (mailboxes.homes); no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("mailadmin", "0001_additive_indexes"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_homedir"),
        AddAdditiveIndex("mailadmin_mailbox_maildir"),
    ]
