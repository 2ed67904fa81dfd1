"""Claiming and carrying out jobs (SPEC §4.1).

Order. Jobs of one object run in the order they were recorded: a job is claimed only when no
earlier job that holds one of its keys (``JobKey``: a mailbox's address, a domain) is still
pending, running or failed. A fault (a lost message, a dead worker, a retry delay, a failure
waiting for an admin) may delay the later jobs, never let them overtake. When a job ends, the
jobs that waited for it are sent at once.

Exactly once. A worker claims a job with a conditional UPDATE (pending -> running, attempts
+ 1) and goes on only if it changed one row, so duplicate messages and parallel workers are
harmless. While the handler runs, the worker renews the job's lease; a job whose lease ran
out belonged to a worker that died and is claimed again (``reclaim_stale``). The final state
is written only by the run that holds the claim (same attempt number).

Errors. Transient errors (the file system, a full disk) go back to pending with a growing
delay, up to a limit; errors that a retry cannot fix (a path that is not the mailbox's own, a
conflict on disk, a bad payload) fail the job at once with the error text.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Iterable

from django.conf import settings
from django.db import close_old_connections, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from mailadmin.lib.maildir import MaildirConflictError, OwnershipError, UnsafePathError
from provisioning.handlers import HANDLERS
from provisioning.models import Job, JobKey

log = logging.getLogger("mailadmin.jobs")

MAX_ATTEMPTS = 5
BACKOFF_SECONDS = (5, 30, 120, 600)
# How many jobs one sweep sends at most (the next sweep takes the rest).
SWEEP_BATCH = 1000
# How many waiting jobs one finished job wakes at most (the sweeper sends the rest).
WAKE_BATCH = 1000
PERMANENT_ERRORS = (
    UnsafePathError,
    MaildirConflictError,
    OwnershipError,
    KeyError,
    ValueError,
    TypeError,
)


def lease() -> datetime.timedelta:
    """How long a claim lasts without renewal (``MAILADMIN_JOB_LEASE``)."""
    return datetime.timedelta(seconds=settings.MAILADMIN_JOB_LEASE)


# --- order -------------------------------------------------------------------------------------
def _keys_of(job_id: int) -> tuple[list[str], list[str]]:
    """``(exclusive keys, shared keys)`` of a job."""
    exclusive: list[str] = []
    shared: list[str] = []
    for key, is_exclusive in JobKey.objects.filter(job_id=job_id).values_list("key", "exclusive"):
        (exclusive if is_exclusive else shared).append(key)
    return exclusive, shared


def _conflicts(job_id: int) -> list[models.QuerySet]:
    """Querysets of the key rows of other jobs that conflict with job ``job_id``: its
    exclusive keys held in any mode, its shared keys held exclusively. One query each, each
    a range of an index (``key, job`` or ``key, exclusive, job``): only open jobs have key
    rows, so they stay few whatever the history."""
    exclusive, shared = _keys_of(job_id)
    queries = []
    if exclusive:
        queries.append(JobKey.objects.filter(key__in=exclusive))
    if shared:
        queries.append(JobKey.objects.filter(key__in=shared, exclusive=True))
    return queries


def blocker(job_id: int) -> int | None:
    """The id of the earliest open job recorded before job ``job_id`` that holds one of its
    keys in a conflicting mode (exclusive on either side), or None when the job may run."""
    found = [
        query.filter(job_id__lt=job_id, job__state__in=Job.OPEN_STATES)
        .order_by("job_id")
        .values_list("job_id", flat=True)
        .first()
        for query in _conflicts(job_id)
    ]
    found = [pk for pk in found if pk is not None]
    return min(found) if found else None


def waiting_after(job: Job) -> list[tuple[int, str]]:
    """``(id, queue)`` of the pending jobs recorded after ``job`` that it held back."""
    found: dict[int, str] = {}
    for query in _conflicts(job.pk):
        rows = (
            query.filter(job_id__gt=job.pk, job__state=Job.State.PENDING)
            .order_by("job_id")
            .values_list("job_id", "job__queue")[:WAKE_BATCH]
        )
        found.update(rows)
    return sorted(found.items())[:WAKE_BATCH]


def _release(job: Job) -> None:
    """A job that ended for good (done or given up) holds nothing any more: its key rows go,
    and the jobs it held back are sent (each checks its own order again)."""
    waiting = waiting_after(job)
    JobKey.objects.filter(job_id=job.pk).delete()
    from provisioning.dispatch import send

    for pk, queue in waiting:
        send(pk, queue)


def claim(job_id: int) -> Job | None:
    """Take a pending, due job whose earlier jobs are all finished; None otherwise."""
    # No lock is needed between the check and the claim: the earlier open jobs of an object
    # can only end (a retried job stays open), never appear, so a check that found none
    # stays true, and the conditional UPDATE lets one worker win.
    now = timezone.now()
    due = Q(pk=job_id, state=Job.State.PENDING) & (
        Q(run_after__isnull=True) | Q(run_after__lte=now)
    )
    earlier = blocker(job_id)
    if earlier is not None:
        Job.objects.filter(due).exclude(waiting_for=earlier).update(waiting_for=earlier)
        return None
    claimed = Job.objects.filter(due).update(
        state=Job.State.RUNNING,
        attempts=F("attempts") + 1,
        lease_until=now + lease(),
        waiting_for=None,
        updated_at=now,
    )
    return Job.objects.get(pk=job_id) if claimed else None


def _mine(job: Job):
    """The job's row as long as this run holds the claim."""
    return Job.objects.filter(pk=job.pk, state=Job.State.RUNNING, attempts=job.attempts)


class Lease:
    """Renews the claim of a running job every third of the lease, from a thread of its own
    (with its own database connection), until the job ends."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._renew, name=f"lease-{job.pk}", daemon=True)

    def __enter__(self) -> Lease:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join()

    def _renew(self) -> None:
        interval = max(settings.MAILADMIN_JOB_LEASE / 3, 0.1)
        try:
            while not self.stop.wait(interval):
                try:
                    now = timezone.now()
                    _mine(self.job).update(lease_until=now + lease(), updated_at=now)
                except Exception as exc:  # the database may be away for a moment: try again
                    log.warning("job %s: could not renew its lease: %s", self.job.pk, exc)
                    close_old_connections()
        finally:
            connection.close()


def execute(job_id: int) -> str | None:
    """Run one job if it can be claimed; returns its final state, or None if not claimed."""
    job = claim(job_id)
    if job is None:
        return None
    handler = HANDLERS.get(job.kind)
    try:
        if handler is None:
            raise ValueError(f"no handler for job kind {job.kind!r}")
        with Lease(job):
            note = handler(job)
    except PERMANENT_ERRORS as exc:
        return _finish(job, Job.State.FAILED, f"{type(exc).__name__}: {exc}")
    except OSError as exc:
        if job.attempts >= MAX_ATTEMPTS:
            return _finish(job, Job.State.FAILED, f"{type(exc).__name__}: {exc}")
        delay = BACKOFF_SECONDS[min(job.attempts - 1, len(BACKOFF_SECONDS) - 1)]
        _mine(job).update(
            state=Job.State.PENDING,
            last_error=f"{type(exc).__name__}: {exc}",
            run_after=timezone.now() + datetime.timedelta(seconds=delay),
            lease_until=None,
            updated_at=timezone.now(),
        )
        log.warning(
            "job %s failed (attempt %s), retrying in %ss: %s", job.pk, job.attempts, delay, exc
        )
        return Job.State.PENDING
    return _finish(job, Job.State.DONE, "", note=note or "")


def _finish(job: Job, state: str, error: str, note: str = "") -> str | None:
    fields = {"state": state, "last_error": error, "lease_until": None}
    if note:
        fields["note"] = note[:4000]
    if not _mine(job).update(**fields, updated_at=timezone.now()):
        # The claim was lost (reclaimed after the lease ran out): the run that holds it now
        # writes the outcome.
        log.warning("job %s: claim lost before the end; outcome %s not recorded", job.pk, state)
        return None
    if state == Job.State.FAILED:
        log.error("job %s (%s %s) failed: %s", job.pk, job.kind, job.object_id, error)
    else:
        _release(job)
    return state


def retry(job: Job) -> bool:
    """Put a failed job back in the queue (the admin's "retry" button)."""
    with transaction.atomic():
        changed = Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(
            state=Job.State.PENDING, attempts=0, run_after=None, updated_at=timezone.now()
        )
    return bool(changed)


def cancel(job: Job) -> bool:
    """Give up a failed job (the admin's "cancel" button, after settling its cause by hand):
    the jobs that waited for it may run."""
    changed = Job.objects.filter(pk=job.pk, state=Job.State.FAILED).update(
        state=Job.State.CANCELLED, updated_at=timezone.now()
    )
    if changed:
        job.refresh_from_db()
        _release(job)
    return bool(changed)


# --- the sweeper -------------------------------------------------------------------------------
def reclaim_stale(now: datetime.datetime | None = None) -> int:
    """Jobs left "running" by a worker that died (their lease ran out) go back to pending,
    due at once (the same sweep sends them); returns how many."""
    now = now or timezone.now()
    stale = Job.objects.filter(state=Job.State.RUNNING).filter(
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, updated_at__lt=now - lease())
    )
    ids = list(stale.values_list("pk", flat=True))
    if ids:
        Job.objects.filter(pk__in=ids, state=Job.State.RUNNING).filter(
            Q(lease_until__lt=now) | Q(lease_until__isnull=True)
        ).update(state=Job.State.PENDING, lease_until=None, run_after=now, updated_at=now)
        log.warning("reclaimed %s jobs of a worker that stopped renewing them: %s", len(ids), ids)
    return len(ids)


def due_jobs(now: datetime.datetime | None = None) -> list[Job]:
    now = now or timezone.now()
    return list(
        Job.objects.filter(state=Job.State.PENDING)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .order_by("id")
    )


def _send_all(candidates: Iterable[tuple[int, str]], now: datetime.datetime) -> int:
    from provisioning.dispatch import send

    sent = 0
    for pk, queue in candidates:
        # Marked as sent now, so that the next sweep waits again before sending it once more.
        touched = Job.objects.filter(pk=pk, state=Job.State.PENDING).update(
            run_after=None, updated_at=now
        )
        if not touched:
            continue
        earlier = blocker(pk)
        if earlier is not None:
            # It waits for an earlier job, which wakes it when it ends.
            Job.objects.filter(pk=pk).update(waiting_for=earlier)
            continue
        if send(pk, queue):
            sent += 1
    return sent


def sweep(now: datetime.datetime | None = None) -> dict[str, int]:
    """The periodic safety net (SPEC §4.1): reclaim jobs of dead workers, then send again the
    pending jobs that nobody took: reclaimed jobs and retries whose delay has passed, and jobs
    that waited longer than MAILADMIN_JOB_RESEND_AFTER (their message was lost, e.g. the
    broker was down). A job that waits for an earlier one is left for that one to wake.

    Sending a job twice is harmless: only one worker can claim it.
    """
    now = now or timezone.now()
    # Key rows of jobs that ended while their worker died before releasing them.
    JobKey.objects.filter(job__state__in=[Job.State.DONE, Job.State.CANCELLED]).delete()
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
    sent = _send_all(list(candidates), now)
    if reclaimed or sent:
        log.info("sweep: %s stale jobs reclaimed, %s jobs sent", reclaimed, sent)
    return {"reclaimed": reclaimed, "sent": sent}
