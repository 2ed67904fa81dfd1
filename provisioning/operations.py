"""Background operations: bulk actions and imports too long for a web request (docs/jobs.md).

1. A view of the app that owns the work calls that app's start function (for example
   ``mailboxes.operations.mailbox_bulk_start``), which records an :class:`Operation` through
   :func:`operation_start` (the input in ``payload``, secrets sealed) and redirects to the
   operation's page at once.
2. After the commit the operation is sent: to the ``mailadmin`` queue when a broker is
   configured, else to a daemon thread of the web process (the quick start).
3. Whoever receives it claims it with a conditional UPDATE (queued -> running); only one
   claim succeeds, so a message delivered twice or sent again by the sweeper runs once.
4. The runner that the app registered for the kind (:func:`register`, from its
   ``AppConfig.ready``) calls the app's all-or-nothing service with a progress callback. The
   outcome (``done`` with the result) is written **in the service's transaction**, so the
   operation is ``done`` exactly when its changes are committed; a refusal (a
   ``ValidationError``) rolls everything back and records the messages as ``failed``.
5. While it runs, a heartbeat thread writes the progress and the time through its own
   database connection in autocommit, which every web process and host sees at once although
   the operation's transaction is still open. SQLite has a single writer, so there the
   progress stays in the memory of the running process (the quick start's only process).
6. The sweeper fails a ``running`` operation whose process is gone or whose heartbeat stopped
   (nothing of it was committed) and sends again a ``queued`` one whose message was lost.

A kind registered with ``in_steps=True`` (a group mail) is not all or nothing: its runner
commits its work step by step and records what each item became, asks ``should_stop()``
between two steps (a manager pressed *Stop*: :func:`operation_stop`), and ends ``done`` or
``stopped``. As its work is committed as it goes, an operation of such a kind whose process
died is put back in the queue and resumed (up to :data:`STEP_RUNS` runs), and a failed or
stopped one can be resumed by hand (:func:`operation_resume`); its runner skips the items it
has done.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from mailadmin.lib.clientip import client_ip
from mailadmin.lib.sealing import SealError, seal, unseal
from provisioning.models import Operation

if TYPE_CHECKING:
    from accounts.models import Manager

log = logging.getLogger("mailadmin.jobs")

#: Operations go to the housekeeping queue: they need the database only, not a mail base.
OPERATION_QUEUE = "mailadmin"
#: Queued operations one sweep sends at most (the next sweep takes the rest).
SWEEP_BATCH = 100
#: Runs an operation in steps gets before a dead process fails it instead of resuming it.
STEP_RUNS = 3
_SEAL_INPUT = "operation-input"
_SEAL_RESULT = "operation-result"


# --- what an app registers -----------------------------------------------------------------------
@dataclass
class OperationRun:
    """What a runner gets: the operation, its manager (loaded again and checked), a request
    stand-in that carries the client address for the audit records, the unsealed input secret
    (or None) and the progress callback to hand to the service (``progress(items_done)``)."""

    operation: Operation
    actor: Manager
    request: HttpRequest
    secret: Any
    progress: Callable[[int], None]
    #: In steps only: whether to end after the current step (a manager pressed *Stop*, or
    #: the operation is no longer this run's), and how to record the number of items once
    #: the runner knows it.
    should_stop: Callable[[], bool] = lambda: False
    set_total: Callable[[int], None] = lambda total: None


@dataclass
class Outcome:
    """A runner's result: ``result`` is stored as it is (no secrets in it); ``secret`` is
    sealed and shown once to the manager who started the operation (generated passwords).
    In steps only: ``stopped`` when it ended on a stop request, ``done`` the items done."""

    result: dict[str, Any]
    secret: Any = None
    stopped: bool = False
    done: int | None = None


Runner = Callable[[OperationRun], Outcome]


@dataclass(frozen=True)
class Registration:
    run: Runner
    #: The template that shows a done operation's result on its page (context: ``operation``,
    #: ``result``, ``secret``, ``secret_gone``).
    result_template: str
    #: The runner commits as it goes and may be stopped and resumed (module docstring).
    in_steps: bool = False


RUNNERS: dict[str, Registration] = {}


def register(kind: str, run: Runner, *, result_template: str, in_steps: bool = False) -> None:
    """Called by the app that owns ``kind`` (from its ``AppConfig.ready``): provisioning is a
    lower layer and never imports the apps whose services it runs."""
    RUNNERS[kind] = Registration(run, result_template, in_steps)


def runs_in_steps(operation: Operation) -> bool:
    registration = RUNNERS.get(operation.kind)
    return registration is not None and registration.in_steps


# --- this process --------------------------------------------------------------------------------
_lock = threading.Lock()
#: Operations running in this process -> items done (the progress where the database cannot
#: take it, and the proof that this process still runs them).
_running: dict[int, int] = {}


#: SQLite's shared-cache databases (the test suite's in-memory one) refuse at once, instead of
#: waiting, a read of a table that another connection is writing and a write to a table that
#: another is reading ("database table is locked"). So on SQLite the operation rows are read
#: and written in turns by the threads of a process; elsewhere the database's row locks do it.
_rows = threading.RLock()


@contextmanager
def rows_guard() -> Iterator[None]:
    """Hold while reading or writing operation rows (a no-op except on SQLite)."""
    if progress_in_database():
        yield
        return
    with _rows:
        yield


class _Turn:
    """:func:`rows_guard` taken inside a transaction and given back right after its commit,
    before its other commit callbacks (the Maildir jobs, run inline without a broker)."""

    def __init__(self) -> None:
        self.held = False

    def take(self) -> None:
        if not progress_in_database() and not self.held:
            _rows.acquire()
            self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            _rows.release()


def _process_identity() -> str:
    """Host and PID namespace: where a process id means this process's neighbours."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{socket.gethostname()}|{namespace}"


def _runner_id() -> str:
    return f"{_process_identity()}:{os.getpid()}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, as another user
    return True


def progress_in_database() -> bool:
    """Whether a second connection can write while an operation's transaction is open."""
    return connection.vendor != "sqlite"


def _without_broker() -> bool:
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


# --- starting ------------------------------------------------------------------------------------
def operation_start(
    *,
    kind: str,
    actor: Manager,
    total: int,
    payload: dict[str, Any],
    domain: str = "",
    secret: Any = None,
    request: HttpRequest | None = None,
) -> Operation:
    """Record an operation and send it once the transaction commits. ``payload`` must hold no
    secret; ``secret`` (e.g. the passwords of an import's lines) is sealed and wiped when the
    operation ends."""
    sealed = "" if secret is None else seal(secret, purpose=_SEAL_INPUT)
    with rows_guard(), transaction.atomic():
        operation = Operation.objects.create(
            kind=kind,
            actor=str(actor.pk)[:255],
            domain=domain,
            total=total,
            payload=payload,
            sealed_input=sealed,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            client_ip=client_ip(request) if request is not None else "",
            sent_at=timezone.now(),
        )
        transaction.on_commit(lambda: send(operation.pk))
    return operation


def send(operation_id: int, *, wait: bool = False) -> bool:
    """Hand the operation to a worker of the ``mailadmin`` queue; without a broker, to a
    daemon thread of this process (or, with ``wait``, run it here and now: the sweeper of a
    site without a broker). If the broker is down the operation stays queued and the sweeper
    sends it again. True if it went out."""
    if _without_broker():
        if wait:
            execute(operation_id)
        else:
            threading.Thread(
                target=_run_in_thread,
                args=(operation_id,),
                name=f"mailadmin-operation-{operation_id}",
                daemon=True,
            ).start()
        return True
    # The same pause after a failed send as for jobs: a hung broker never slows a page down.
    from provisioning.dispatch import _broker_paused, _pause_broker
    from provisioning.tasks import run_operation

    if _broker_paused():
        _leave_for_the_sweeper(operation_id)
        return False
    try:
        run_operation.apply_async((operation_id,), queue=OPERATION_QUEUE, retry=False)
    except Exception as exc:  # any broker failure: the sweeper sends it again later
        _pause_broker()
        log.warning("could not send operation %s (%s); the sweeper will retry", operation_id, exc)
        _leave_for_the_sweeper(operation_id)
        return False
    return True


def _leave_for_the_sweeper(operation_id: int) -> None:
    """An operation whose message did not go out: due at once for the next sweep."""
    with rows_guard():
        Operation.objects.filter(pk=operation_id, state=Operation.State.QUEUED).update(sent_at=None)


def _run_in_thread(operation_id: int) -> None:
    try:
        execute(operation_id)
    except Exception:  # execute records failures itself; this is a last resort for the log
        log.exception("operation %s: unexpected error in its thread", operation_id)
    finally:
        connections.close_all()  # this thread's own connections


# --- running -------------------------------------------------------------------------------------
class _Superseded(Exception):
    """The operation is no longer ``running`` as this run claimed it (the sweeper failed it
    meanwhile): this run's changes must not be committed."""


def claim(operation_id: int) -> Operation | None:
    now = timezone.now()
    with rows_guard():
        claimed = Operation.objects.filter(pk=operation_id, state=Operation.State.QUEUED).update(
            state=Operation.State.RUNNING,
            runner=_runner_id(),
            attempts=F("attempts") + 1,
            started_at=now,
            heartbeat_at=now,
        )
        return Operation.objects.get(pk=operation_id) if claimed else None


def execute(operation_id: int) -> str | None:
    """Run one operation if it can be claimed; returns its final state, or None if another
    run has it (or had it)."""
    with _lock:
        if operation_id in _running:
            return None
        _running[operation_id] = 0
    try:
        operation = claim(operation_id)
        if operation is None:
            return None
        with translation.override(operation.language or settings.LANGUAGE_CODE):
            return _run(operation)
    finally:
        with _lock:
            _running.pop(operation_id, None)


def _report(operation_id: int) -> Callable[[int], None]:
    def progress(done: int) -> None:
        with _lock:
            if operation_id in _running:
                _running[operation_id] = done

    return progress


def _run(operation: Operation) -> str | None:
    registration = RUNNERS.get(operation.kind)
    if registration is not None and registration.in_steps:
        return _run_in_steps(operation, registration)
    heartbeat = _Heartbeat(operation.pk)
    heartbeat.start()
    turn = _Turn()
    try:
        registration = RUNNERS.get(operation.kind)
        if registration is None:
            raise LookupError(f"no runner for operation kind {operation.kind!r}")
        run = OperationRun(
            operation=operation,
            actor=_acting_manager(operation),
            request=_request_for(operation),
            secret=_input_secret(operation),
            progress=_report(operation.pk),
        )
        with transaction.atomic():
            transaction.on_commit(turn.give_back)  # the first thing after the commit
            outcome = registration.run(run)
            heartbeat.stop()
            turn.take()
            _record_done(operation, outcome)
    except ValidationError as exc:
        heartbeat.stop()
        return _record_failure(operation, _messages(exc))
    except PermissionDenied:
        heartbeat.stop()
        return _record_failure(
            operation,
            [
                _(
                    "The manager who started this operation may no longer manage these"
                    " objects: nothing was changed."
                )
            ],
        )
    except _Superseded:
        log.warning(
            "operation %s was failed while it ran; its changes were rolled back", operation.pk
        )
        return None
    except Exception:
        heartbeat.stop()
        log.exception("operation %s (%s) failed", operation.pk, operation.kind)
        return _record_failure(
            operation,
            [
                _(
                    "The operation stopped on an unexpected error: nothing was changed. The"
                    " details are in the server's log."
                )
            ],
        )
    finally:
        turn.give_back()  # after a rollback
        heartbeat.stop()
    log.info("operation %s (%s) done", operation.pk, operation.kind)
    return Operation.State.DONE


def _run_in_steps(operation: Operation, registration: Registration) -> str | None:
    """A kind that commits as it goes: no transaction around the runner; the progress is
    written at each step, the outcome at the end. What was done before a failure stays done,
    and the messages say so."""
    heartbeat = _Heartbeat(operation.pk)
    heartbeat.start()
    try:
        run = OperationRun(
            operation=operation,
            actor=_acting_manager(operation),
            request=_request_for(operation),
            secret=_input_secret(operation),
            progress=_report_committed(operation),
            should_stop=lambda: not _still_going(operation),
            set_total=lambda total: _set_total(operation, total),
        )
        outcome = registration.run(run)
    except ValidationError as exc:
        heartbeat.stop()
        return _record_failure(operation, _messages(exc))
    except PermissionDenied:
        heartbeat.stop()
        return _record_failure(
            operation,
            [
                _(
                    "The manager who started this operation may no longer manage these"
                    " objects: it stopped. What it did before stays done."
                )
            ],
        )
    except Exception:
        heartbeat.stop()
        log.exception("operation %s (%s) failed", operation.pk, operation.kind)
        return _record_failure(
            operation,
            [
                _(
                    "The operation stopped on an unexpected error. What it did before stays"
                    " done; the details are in the server's log."
                )
            ],
        )
    finally:
        heartbeat.stop()
    return _record_end(operation, outcome)


def _still_going(operation: Operation) -> bool:
    """Whether a run in steps may go on: still this run's, and nobody asked it to stop."""
    with rows_guard():
        return Operation.objects.filter(
            pk=operation.pk,
            state=Operation.State.RUNNING,
            attempts=operation.attempts,
            stop_requested_at__isnull=True,
        ).exists()


def _report_committed(operation: Operation) -> Callable[[int], None]:
    """The progress of a run in steps, written at once: its steps are committed already."""
    remember = _report(operation.pk)

    def progress(done: int) -> None:
        remember(done)
        with rows_guard():
            Operation.objects.filter(
                pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
            ).update(done_count=done, heartbeat_at=timezone.now())

    return progress


def _set_total(operation: Operation, total: int) -> None:
    operation.total = total
    with rows_guard():
        Operation.objects.filter(
            pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
        ).update(total=total)


def _record_end(operation: Operation, outcome: Outcome) -> str | None:
    """The end of a run in steps: ``done``, or ``stopped`` on a stop request."""
    state = Operation.State.STOPPED if outcome.stopped else Operation.State.DONE
    now = timezone.now()
    with rows_guard():
        updated = Operation.objects.filter(
            pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
        ).update(
            state=state,
            done_count=operation.total if outcome.done is None else outcome.done,
            result=outcome.result,
            sealed_result=""
            if outcome.secret is None
            else seal(outcome.secret, purpose=_SEAL_RESULT),
            sealed_input="",
            errors=[],
            heartbeat_at=now,
            finished_at=now,
        )
    if not updated:
        log.warning("operation %s was taken from this run while it ran", operation.pk)
        return None
    log.info("operation %s (%s) %s", operation.pk, operation.kind, state)
    return state


def _acting_manager(operation: Operation) -> Manager:
    from accounts.models import Manager

    manager = Manager.objects.filter(pk=operation.actor).first()
    if manager is None or not manager.is_active:
        raise ValidationError(
            _("The manager who started this operation can no longer act: nothing was changed.")
        )
    return manager


def _request_for(operation: Operation) -> HttpRequest:
    request = HttpRequest()
    request.META["REMOTE_ADDR"] = operation.client_ip
    return request


def _input_secret(operation: Operation) -> Any:
    if not operation.sealed_input:
        return None
    try:
        return unseal(operation.sealed_input, purpose=_SEAL_INPUT)
    except SealError as exc:
        raise ValidationError(
            _(
                "The operation's input can no longer be read (the server's secret key changed):"
                " nothing was changed. Start it again."
            )
        ) from exc


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [str(m) for messages in exc.message_dict.values() for m in messages]
    return [str(m) for m in exc.messages]


def _record_done(operation: Operation, outcome: Outcome) -> None:
    """Inside the operation's transaction: it commits with the changes or not at all."""
    now = timezone.now()
    updated = Operation.objects.filter(
        pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
    ).update(
        state=Operation.State.DONE,
        done_count=operation.total,
        result=outcome.result,
        sealed_result="" if outcome.secret is None else seal(outcome.secret, purpose=_SEAL_RESULT),
        sealed_input="",
        errors=[],
        heartbeat_at=now,
        finished_at=now,
    )
    if not updated:
        raise _Superseded


def _record_failure(operation: Operation, messages: list[str]) -> str | None:
    now = timezone.now()
    with rows_guard():
        updated = Operation.objects.filter(
            pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
        ).update(
            state=Operation.State.FAILED,
            errors=messages,
            sealed_input="",
            heartbeat_at=now,
            finished_at=now,
        )
    if not updated:
        return None
    log.info(
        "operation %s (%s) refused: %s", operation.pk, operation.kind, "; ".join(messages)[:500]
    )
    return Operation.State.FAILED


class _Heartbeat:
    """Writes the progress and the time of a running operation every
    ``MAILADMIN_OPERATION_HEARTBEAT_MS``, from a thread of its own: Django gives each thread its own
    connection, in autocommit, so the writes are visible at once to every process while the
    operation's transaction stays open. Nothing is written on SQLite (one writer only)."""

    def __init__(self, operation_id: int) -> None:
        self.operation_id = operation_id
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not progress_in_database():
            return
        self._thread = threading.Thread(
            target=self._beat, name=f"mailadmin-heartbeat-{self.operation_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stopped.set()
        self._thread.join()
        self._thread = None

    def _beat(self) -> None:
        try:
            while not self._stopped.wait(settings.MAILADMIN_OPERATION_HEARTBEAT_MS / 1000):
                with _lock:
                    done = _running.get(self.operation_id, 0)
                try:
                    Operation.objects.filter(
                        pk=self.operation_id, state=Operation.State.RUNNING
                    ).update(done_count=done, heartbeat_at=timezone.now())
                except Exception as exc:  # a database hiccup: try again with a new connection
                    log.warning("operation %s: heartbeat failed: %s", self.operation_id, exc)
                    connections.close_all()
        finally:
            connections.close_all()


# --- watching ------------------------------------------------------------------------------------
def progress_of(operation: Operation) -> int:
    """Items done: from the row (written by the heartbeat) or, for an operation running in
    this process, from its memory (the only place on SQLite)."""
    if operation.state == Operation.State.DONE:
        return operation.total
    done = operation.done_count
    if operation.state == Operation.State.RUNNING:
        with _lock:
            done = max(done, _running.get(operation.pk, 0))
    return min(done, operation.total)


def stale_after() -> datetime.timedelta:
    """A running operation whose heartbeat is older than this has lost its process."""
    return datetime.timedelta(seconds=settings.MAILADMIN_OPERATION_STALE_AFTER)


def runner_gone(operation: Operation, now: datetime.datetime | None = None) -> bool:
    """Whether a ``running`` operation's process has ended (a killed worker, a restarted web
    process): a process of this host that no longer exists, or a heartbeat that stopped."""
    if operation.state != Operation.State.RUNNING:
        return False
    identity, _sep, pid = operation.runner.rpartition(":")
    if identity == _process_identity() and pid.isdigit():
        if int(pid) == os.getpid():
            with _lock:
                return operation.pk not in _running
        if not _process_exists(int(pid)):
            return True
    if not progress_in_database():
        return False  # no heartbeat on SQLite; its process (on this host) still exists
    last = operation.heartbeat_at or operation.started_at or operation.created_at
    return last < (now or timezone.now()) - stale_after()


def fail_if_gone(
    operation: Operation, now: datetime.datetime | None = None, *, send_now: bool = False
) -> bool:
    """Fail an operation whose process has ended. Its transaction ended with the process, so
    nothing of it was committed; if it is in fact still running, its final conditional update
    finds it failed and rolls its changes back (:class:`_Superseded`).

    An operation in steps is put back in the queue instead, to be resumed (sent at once with
    ``send_now``, else by the sweeper), unless it was asked to stop (then it is ``stopped``)
    or has lost :data:`STEP_RUNS` runs in a row (then it is ``failed``)."""
    if not runner_gone(operation, now):
        return False
    if runs_in_steps(operation):
        return _settle_lost_run(operation, now or timezone.now(), send_now=send_now)
    with translation.override(operation.language or settings.LANGUAGE_CODE):
        message = _(
            "The operation stopped before it finished (its worker or web process ended):"
            " nothing was changed. Start it again if it is still needed."
        )
    now = now or timezone.now()
    with rows_guard():
        changed = Operation.objects.filter(
            pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
        ).update(
            state=Operation.State.FAILED,
            errors=[message],
            sealed_input="",
            finished_at=now,
        )
        if changed:
            operation.refresh_from_db()
    if changed:
        log.warning("operation %s (%s): its process ended, failed", operation.pk, operation.kind)
    return bool(changed)


def _settle_lost_run(operation: Operation, now: datetime.datetime, *, send_now: bool) -> bool:
    running = Operation.objects.filter(
        pk=operation.pk, state=Operation.State.RUNNING, attempts=operation.attempts
    )
    with translation.override(operation.language or settings.LANGUAGE_CODE):
        message = _(
            "The operation's worker or web process ended %(count)s times while it ran. What it"
            " did stays done; resume it once the cause is settled."
        ) % {"count": operation.lost_runs + 1}
    with rows_guard():
        if operation.stop_requested_at is not None:
            changed = running.update(state=Operation.State.STOPPED, finished_at=now)
        elif operation.lost_runs + 1 >= STEP_RUNS:
            changed = running.update(
                state=Operation.State.FAILED,
                errors=[message],
                lost_runs=F("lost_runs") + 1,
                finished_at=now,
            )
        else:
            changed = running.update(
                state=Operation.State.QUEUED,
                runner="",
                lost_runs=F("lost_runs") + 1,
                sent_at=now if send_now else None,
            )
        if changed:
            operation.refresh_from_db()
    if not changed:
        return False
    log.warning(
        "operation %s (%s): its process ended, %s", operation.pk, operation.kind, operation.state
    )
    if operation.state == Operation.State.QUEUED and send_now:
        send(operation.pk)
    return True


def operation_stop(operation: Operation, manager: Manager) -> bool:
    """Ask an operation in steps to stop after its current step (a queued one stops at once).
    False when it cannot be stopped (another kind, or it has ended or is stopping already)."""
    if not runs_in_steps(operation):
        return False
    now = timezone.now()
    who = str(manager.pk)[:255]
    with rows_guard():
        asked = Operation.objects.filter(pk=operation.pk, state=Operation.State.QUEUED).update(
            state=Operation.State.STOPPED,
            stop_requested_at=now,
            stop_requested_by=who,
            finished_at=now,
        ) or Operation.objects.filter(
            pk=operation.pk, state=Operation.State.RUNNING, stop_requested_at__isnull=True
        ).update(stop_requested_at=now, stop_requested_by=who)
        operation.refresh_from_db()
    return bool(asked)


def operation_resume(operation: Operation) -> bool:
    """Queue a failed or stopped operation in steps again; its runner skips what was done.
    False for another kind or state."""
    if not runs_in_steps(operation):
        return False
    with rows_guard(), transaction.atomic():
        resumed = Operation.objects.filter(
            pk=operation.pk, state__in=(Operation.State.FAILED, Operation.State.STOPPED)
        ).update(
            state=Operation.State.QUEUED,
            stop_requested_at=None,
            stop_requested_by="",
            lost_runs=0,
            errors=[],
            runner="",
            finished_at=None,
            sent_at=timezone.now(),
        )
        if resumed:
            transaction.on_commit(lambda: send(operation.pk))
        operation.refresh_from_db()
    return bool(resumed)


def may_steer(operation: Operation, manager: Manager) -> bool:
    """Who may stop or resume an operation: the manager who started it, or a superadmin."""
    return manager.is_superadmin or operation.actor == str(manager.pk)


def result_secret_kept_for() -> datetime.timedelta:
    return datetime.timedelta(seconds=settings.MAILADMIN_OPERATION_SECRET_TTL)


def take_result_secret(operation: Operation, manager: Manager) -> Any:
    """The sealed result (a bulk reset's passwords) for the manager who started the operation,
    once: the stored copy is wiped by the same request. None for anyone else, for a result
    shown before, or one older than ``MAILADMIN_OPERATION_SECRET_TTL``."""
    if (
        operation.state != Operation.State.DONE
        or not operation.sealed_result
        or operation.actor != str(manager.pk)
    ):
        return None
    expired = (
        operation.finished_at and operation.finished_at < timezone.now() - result_secret_kept_for()
    )
    with rows_guard():
        taken = (
            Operation.objects.filter(pk=operation.pk)
            .exclude(sealed_result="")
            .update(sealed_result="")
        )
    sealed, operation.sealed_result = operation.sealed_result, ""
    if not taken or expired:
        return None
    try:
        return unseal(sealed, purpose=_SEAL_RESULT)
    except SealError:
        return None


# --- the sweeper ---------------------------------------------------------------------------------
def sweep(now: datetime.datetime | None = None) -> dict[str, int]:
    """Part of the periodic sweep (``provisioning.sweep``, ``manage.py sweep_jobs``): fail the
    running operations whose process ended, send again the queued ones whose message could not
    be sent or was not taken within ``MAILADMIN_JOB_RESEND_AFTER`` (it was lost), and wipe
    generated passwords that nobody came to see within ``MAILADMIN_OPERATION_SECRET_TTL``."""
    now = now or timezone.now()
    with rows_guard():
        running = list(
            Operation.objects.filter(state=Operation.State.RUNNING).defer(
                "payload", "sealed_input", "result", "sealed_result", "errors"
            )
        )
    failed = sum(fail_if_gone(operation, now) for operation in running)
    resend_before = now - datetime.timedelta(seconds=settings.MAILADMIN_JOB_RESEND_AFTER)
    waiting = Operation.objects.filter(state=Operation.State.QUEUED).filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=resend_before)
    )
    sent = 0
    with rows_guard():
        candidates = list(waiting.order_by("id").values_list("pk", flat=True)[:SWEEP_BATCH])
    for pk in candidates:
        # Marked as sent first, so that the next sweep waits again before sending it once more.
        with rows_guard():
            touched = waiting.filter(pk=pk).update(sent_at=now)
        if touched and send(pk, wait=True):
            sent += 1
    with rows_guard():
        forgotten = (
            Operation.objects.filter(finished_at__lt=now - result_secret_kept_for())
            .exclude(sealed_result="")
            .update(sealed_result="")
        )
    if failed or sent or forgotten:
        log.info(
            "sweep: %s operations failed (process ended), %s sent again, %s results forgotten",
            failed,
            sent,
            forgotten,
        )
    return {"operations_failed": failed, "operations_sent": sent, "results_forgotten": forgotten}
