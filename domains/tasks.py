"""Celery entry points: thin wrappers around domains.usage."""

from __future__ import annotations

from celery import shared_task

from aliases import index as alias_index
from domains import pagemarks
from domains.usage import disk_usage_recompute_all, recompute_all
from mailboxes import indexes as mailbox_indexes


@shared_task(name="domains.recompute_usage")
def recompute_usage() -> int:
    """Periodic correction of the usage figures, of the sums of the measured disk use, of the
    reverse index of alias targets and of the tables derived from the mailbox rows (the word
    index of display names, the sort keys), for rows written behind the panel's back, then the
    page marks of the big lists (schedule it with Celery beat)."""
    changed = (
        recompute_all()
        + disk_usage_recompute_all()
        + alias_index.reindex_all()
        + sum(mailbox_indexes.reindex_all().values())
    )
    pagemarks.refresh_all()
    return changed
