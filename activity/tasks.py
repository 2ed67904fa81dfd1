"""Periodic Celery entry point of the activity purge (thin: the work is in activity.services)."""

from __future__ import annotations

from celery import shared_task

from activity import services


@shared_task(name="activity.purge")
def purge() -> dict[str, int]:
    return services.purge_activity()
