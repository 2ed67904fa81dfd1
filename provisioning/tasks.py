"""Celery entry points: thin wrappers around provisioning.runner."""

from __future__ import annotations

from celery import shared_task

from provisioning import runner


@shared_task(name="provisioning.run_job", acks_late=True)
def run_job(job_id: int) -> str | None:
    return runner.execute(job_id)


@shared_task(name="provisioning.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Periodic (celery beat, MAILADMIN_JOB_SWEEP_INTERVAL): see runner.sweep."""
    return runner.sweep()
