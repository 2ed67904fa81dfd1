"""Claiming and carrying out jobs (SPEC §4.1).

A worker claims a job with a conditional UPDATE (pending -> running) and goes on only if it
changed one row, so duplicate messages and parallel workers are harmless. Transient errors
(the file system, a full disk) go back to pending with a growing delay, up to a limit; errors
that a retry cannot fix (a path outside the mail base, a conflict on disk, a bad payload)
fail the job at once with the error text.
"""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mailadmin.lib.maildir import MaildirConflictError, OwnershipError, UnsafePathError
from provisioning.handlers import HANDLERS
from provisioning.models import Job

log = logging.getLogger("mailadmin.jobs")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (5, 30, 120, 600)
# How many jobs one sweep sends at most (the next sweep takes the rest).
SWEEP_BATCH = 1000
PERMANENT_ERRORS = (
    UnsafePathError,
    MaildirConflictError,
    OwnershipError,
    KeyError,
    ValueError,
    TypeError,
)


def claim(job_id: int) -> Job | None:
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id, state=Job.State.PENDING)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .update(state=Job.State.RUNNING, attempts=F("attempts") + 1, updated_at=now)
    )
    return Job.objects.get(pk=job_id) if claimed else None


def execute(job_id: int) -> str | None:
    """Run one job if it can be claimed; returns its final state, or None if not claimed."""
    job = claim(job_id)
    if job is None:
        return None
    handler = HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise ValueError(f"no handler for job kind {job.kind!r}")
        handler(job)
    except PERMANENT_ERRORS as exc:
        return _finish(job, Job.State.FAILED, f"{type(exc).__name__}: {exc}")
    except OSError as exc:
        if job.attempts >= MAX_ATTEMPTS:
            return _finish(job, Job.State.FAILED, f"{type(exc).__name__}: {exc}")
        delay = BACKOFF_SECONDS[min(job.attempts - 1, len(BACKOFF_SECONDS) - 1)]
        Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
            state=Job.State.PENDING,
            last_error=f"{type(exc).__name__}: {exc}",
            run_after=timezone.now() + datetime.timedelta(seconds=delay),
            updated_at=timezone.now(),
        )
        log.warning(
            "job %s failed (attempt %s), retrying in %ss: %s", job.pk, job.attempts, delay, exc
        )
        return Job.State.PENDING
    return _finish(job, Job.State.DONE, "")


def _finish(job: Job, state: str, error: str) -> str:
    Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
        state=state, last_error=error, updated_at=timezone.now()
    )
    if state == Job.State.FAILED:
        log.error("job %s (%s %s) failed: %s", job.pk, job.kind, job.object_id, error)
    return state


def retry(job: Job) -> bool:
    """Put a failed job back in the queue (the admin's "retry" button)."""
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(
            state=Job.State.PENDING, attempts=0, run_after=None, updated_at=timezone.now()
        )
    return bool(changed)


def stale_after() -> datetime.timedelta:
    """A job "running" for longer than this belonged to a worker that died."""
    return datetime.timedelta(seconds=settings.MAILADMIN_JOB_STALE_AFTER)


def reclaim_stale(now: datetime.datetime | None = None) -> int:
    """Jobs left "running" by a worker that died go back to pending."""
    now = now or timezone.now()
    return Job.objects.filter(state=Job.State.RUNNING, updated_at__lt=now - stale_after()).update(
        state=Job.State.PENDING, updated_at=now
    )


def due_jobs(now: datetime.datetime | None = None) -> list[Job]:
    now = now or timezone.now()
    return list(
        Job.objects.filter(state=Job.State.PENDING)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .order_by("id")
    )


def sweep(now: datetime.datetime | None = None) -> dict[str, int]:
    """The periodic safety net (SPEC §4.1): reclaim jobs of dead workers, then send again the
    pending jobs that nobody took: retries whose delay has passed, and jobs that waited longer
    than MAILADMIN_JOB_RESEND_AFTER (their message was lost, e.g. the broker was down).

    Sending a job twice is harmless: only one worker can claim it.
    """
    from provisioning.dispatch import send

    now = now or timezone.now()
    reclaimed = reclaim_stale(now)
    resend_before = now - datetime.timedelta(seconds=settings.MAILADMIN_JOB_RESEND_AFTER)
    candidates = (
        Job.objects.filter(state=Job.State.PENDING)
        .filter(
            Q(run_after__isnull=False, run_after__lte=now)
            | Q(run_after__isnull=True, updated_at__lt=resend_before)
        )
        .order_by("id")
        .values_list("pk", "queue")[:SWEEP_BATCH]
    )
    sent = 0
    for pk, queue in candidates:
        # Mark it as sent now, so that the next sweep waits again before sending it once more.
        touched = Job.objects.filter(pk=pk, state=Job.State.PENDING).update(
            run_after=None, updated_at=now
        )
        if touched and send(pk, queue):
            sent += 1
    if reclaimed or sent:
        log.info("sweep: %s stale jobs reclaimed, %s jobs sent", reclaimed, sent)
    return {"reclaimed": reclaimed, "sent": sent}
