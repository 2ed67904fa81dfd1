"""Celery entry points of the status page: the ``mailadmin_status`` remote-control command each
worker answers with its host's status, and the periodic collection of the answers."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.worker.control import control_command

from mailstack import services, status


@control_command()
def mailadmin_status(state: Any) -> dict[str, Any]:
    """A worker's answer to the status broadcast: its queues and its host's status."""
    consumer = getattr(state, "consumer", None)
    task_consumer = getattr(consumer, "task_consumer", None)
    queues = sorted(q.name for q in getattr(task_consumer, "queues", []) or [])
    return {"queues": queues, "status": status.local_status()}


@shared_task(name="mailstack.collect_status")
def collect_status() -> int:
    return services.collect_status()
