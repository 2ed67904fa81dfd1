"""Sending jobs to the workers, after the transaction that recorded them has committed.

Sending never delays or fails a response for long: the broker connection has short timeouts
and no retries, and once a send has failed, the process stops trying for
``MAILADMIN_JOB_BROKER_PAUSE`` seconds (a hung Redis would otherwise cost its timeout for each
of the hundreds of jobs of a bulk change). A job that was not sent stays pending, marked due,
and the periodic sweeper sends it once the broker answers again: nothing is lost.
"""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning.models import Job

log = logging.getLogger("mailadmin.jobs")

_lock = threading.Lock()
_paused_until = 0.0


def _broker_paused() -> bool:
    return time.monotonic() < _paused_until


def _pause_broker() -> None:
    global _paused_until
    with _lock:
        _paused_until = time.monotonic() + settings.MAILADMIN_JOB_BROKER_PAUSE


def resume_broker() -> None:
    """Forget an earlier failure (tests, and the sweeper once a send went through)."""
    global _paused_until
    with _lock:
        _paused_until = 0.0


def _leave_for_the_sweeper(job_id: int) -> None:
    """A job whose message did not go out: due at once for the next sweep."""
    Job.objects.filter(pk=job_id, state=Job.State.PENDING, run_after__isnull=True).update(
        run_after=timezone.now()
    )


def send(job_id: int, queue: str) -> bool:
    """Wake a worker of ``queue`` for the job; if the broker is down the job stays pending and
    the periodic sweeper sends it again, so nothing is lost. True if the message went out."""
    from provisioning.tasks import run_job

    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker (the quick start): the job runs here and now. Its own failures are
        # recorded on the job; anything else is logged, never turned into an error page.
        try:
            run_job.apply((job_id,), throw=True)
        except Exception:
            log.exception("job %s could not be run inline", job_id)
            return False
        return True
    if _broker_paused():
        _leave_for_the_sweeper(job_id)
        return False
    try:
        run_job.apply_async((job_id,), queue=queue, retry=False)
    except Exception as exc:  # any broker failure: the sweeper sends the job again later
        _pause_broker()
        log.warning("could not send job %s to %s (%s); the sweeper will retry", job_id, queue, exc)
        _leave_for_the_sweeper(job_id)
        return False
    return True


def dispatch(job: Job) -> None:
    transaction.on_commit(lambda: send(job.pk, job.queue))
