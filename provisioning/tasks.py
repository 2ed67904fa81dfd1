"""Celery entry points: thin wrappers around provisioning.runner and provisioning.operations."""

from __future__ import annotations

from celery import shared_task

from provisioning import operations, runner


@shared_task(name="provisioning.run_job", acks_late=True)
def run_job(job_id: int) -> str | None:
    return runner.execute(job_id)


@shared_task(name="provisioning.run_operation", acks_late=True)
def run_operation(operation_id: int) -> str | None:
    """A background operation (a large bulk action or import): see operations.execute."""
    return operations.execute(operation_id)


@shared_task(name="provisioning.sweep", ignore_result=True)
def sweep() -> dict[str, int]:
    """Periodic (celery beat, MAILADMIN_JOB_SWEEP_INTERVAL): see runner.sweep and
    operations.sweep."""
    return {**runner.sweep(), **operations.sweep()}
