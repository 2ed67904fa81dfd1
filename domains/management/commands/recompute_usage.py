"""``manage.py recompute_usage``: correct the per-domain usage figures from the legacy rows."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from aliases import index as alias_index
from domains import pagemarks
from domains.usage import disk_usage_recompute_all, recompute_all
from mailboxes import indexes as mailbox_indexes


class Command(BaseCommand):
    help = (
        "Count every domain's mailboxes, aliases and allocated quotas again and correct the"
        " usage rows that differ, sum every domain's measured disk use again, and bring the"
        " reverse index of alias targets and the tables derived from the mailbox rows (name"
        " words, sort keys) up to date, then mark the pages of the big lists"
        " (after changes made outside the panel, e.g. by ExtMan)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changed = recompute_all()
        self.stdout.write(f"usage rows corrected: {changed}")
        self.stdout.write(f"disk usage rows corrected: {disk_usage_recompute_all()}")
        self.stdout.write(f"alias target index rows corrected: {alias_index.reindex_all()}")
        for table, count in mailbox_indexes.reindex_all().items():
            self.stdout.write(f"{table} rows corrected: {count}")
        self.stdout.write(f"page marks written: {pagemarks.refresh_all()}")
