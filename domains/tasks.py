"""Celery entry points: thin wrappers around domains.usage."""

from __future__ import annotations

from celery import shared_task

from aliases import index as alias_index
from domains.usage import recompute_all


@shared_task(name="domains.recompute_usage")
def recompute_usage() -> int:
    """Periodic correction of the usage figures and of the reverse index of alias targets,
    for rows written behind the panel's back (schedule it with Celery beat)."""
    return recompute_all() + alias_index.reindex_all()
