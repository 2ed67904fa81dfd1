"""Indexes the panel adds to the legacy tables for its list pages; no data changes."""

from django.db import migrations

from mailadmin.lib.migration_ops import AddAdditiveIndex


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("mailboxes", "0001_initial"),
        ("aliases", "0001_initial"),
    ]

    operations = [
        AddAdditiveIndex("mailadmin_mailbox_domain"),
        AddAdditiveIndex("mailadmin_alias_domain"),
        AddAdditiveIndex("mailadmin_dm_username_domain"),
    ]
