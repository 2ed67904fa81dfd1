"""Celery entry points: thin wrappers around domains.usage."""

from __future__ import annotations

from celery import shared_task

from domains.usage import recompute_all


@shared_task(name="domains.recompute_usage")
def recompute_usage() -> int:
    """Periodic correction of the usage figures (schedule it with Celery beat)."""
    return recompute_all()
