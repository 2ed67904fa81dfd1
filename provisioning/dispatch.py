"""Sending jobs to the workers, after the transaction that recorded them has committed."""

from __future__ import annotations

import logging

from django.db import transaction

from provisioning.models import Job

log = logging.getLogger("mailadmin.jobs")


def send(job_id: int, queue: str) -> bool:
    """Wake a worker of ``queue`` for the job; if the broker is down the job stays pending and
    the periodic sweeper sends it again, so nothing is lost. True if the message went out."""
    from provisioning.tasks import run_job

    try:
        run_job.apply_async((job_id,), queue=queue)
    except Exception as exc:  # any broker failure: the sweeper sends the job again later
        log.warning("could not send job %s to %s (%s); the sweeper will retry", job_id, queue, exc)
        return False
    return True


def dispatch(job: Job) -> None:
    transaction.on_commit(lambda: send(job.pk, job.queue))
