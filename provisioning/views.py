"""The jobs page (SPEC §3.8): state, attempts, last error, and retry for failed jobs; the page
of a background operation with its progress and result."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    visible_object,
)
from mailadmin.lib.listing import Listing, make_listing
from provisioning import operations, runner
from provisioning.dispatch import dispatch
from provisioning.models import Job, Operation

#: Background operations listed above the jobs (the latest ones the manager may see).
RECENT_OPERATIONS = 10


def job_listing(request: HttpRequest) -> tuple[Listing, str, str, str]:
    """The jobs, filtered by ``state``, ``kind`` and ``domain`` (q, sort, page, per_page), and
    those three filters as applied; shared with the API."""
    jobs = Job.objects.visible_to(request.user)
    state = request.GET.get("state", "")
    if state in Job.State.values:
        jobs = jobs.filter(state=state)
    kind = request.GET.get("kind", "")
    if kind in Job.Kind.values:
        jobs = jobs.filter(kind=kind)
    selected = domain_from_query(request)
    domain = selected.pk if selected else ""
    if selected:
        jobs = jobs.filter(domain=domain)
    listing = make_listing(
        request,
        jobs,
        search_fields=["object_id", "last_error"],
        sort_fields={"created": "created_at", "state": "state", "kind": "kind"},
        default_sort="-created",
    )
    return listing, state, kind, domain


@manager_required
@require_safe
def job_list(request: HttpRequest) -> HttpResponse:
    listing, state, kind, domain = job_listing(request)
    with operations.rows_guard():
        operations_ = list(
            Operation.objects.visible_to(request.user)
            .only("kind", "state", "actor", "domain", "total", "created_at")
            .order_by("-created_at", "-id")[:RECENT_OPERATIONS]
        )
    return render(
        request,
        "provisioning/jobs.html",
        {
            "listing": listing,
            "operations": operations_,
            "states": Job.State.choices,
            "kinds": Job.Kind.choices,
            "state": state,
            "kind": kind,
            "domain": domain,
        },
    )


def _get_job(request: HttpRequest, pk: int) -> Job:
    return get_visible_or_404(Job.objects, request.user, pk=pk)


@manager_required
@visible_object(_get_job, param="pk", name="job")
@require_POST
def job_retry(request: HttpRequest, job: Job) -> HttpResponse:
    if runner.retry(job):
        dispatch(job)
        messages.success(request, _("Job #%(id)s will be tried again.") % {"id": job.pk})
    else:
        messages.info(request, _("Only failed jobs can be retried."))
    return redirect("provisioning:jobs")


@manager_required
@visible_object(_get_job, param="pk", name="job")
@require_POST
def job_cancel(request: HttpRequest, job: Job) -> HttpResponse:
    """Give up a failed job (its cause was settled by hand): the jobs waiting for it go on."""
    if runner.cancel(job):
        audit_record(
            actor=request.user,
            action="job.cancel",
            request=request,
            object_type="job",
            object_id=str(job.pk),
            domain=job.domain,
            changes={"state": [Job.State.FAILED, Job.State.CANCELLED]},
            message=gettext_noop("%(kind)s %(object)s: %(error)s"),
            message_args={
                "kind": job.kind,
                "object": job.object_id,
                "error": job.last_error[:400],
            },
        )
        messages.success(
            request,
            _("Job #%(id)s was given up; the jobs that waited for it go on.") % {"id": job.pk},
        )
    else:
        messages.info(request, _("Only failed jobs can be given up."))
    return redirect("provisioning:jobs")


# --- background operations ---------------------------------------------------------------------
def _get_operation(request: HttpRequest, pk: int) -> Operation:
    with operations.rows_guard():
        operation = get_visible_or_404(Operation.objects.defer("sealed_input"), request.user, pk=pk)
        # Without a sweeper (the quick start) this is where an operation whose process ended
        # (a restarted web server) is seen to have failed (or, in steps, is resumed).
        operations.fail_if_gone(operation, send_now=True)
    return operation


def _progress(operation: Operation) -> dict[str, object]:
    done = operations.progress_of(operation)
    total = operation.total
    percent = 100 if operation.state == Operation.State.DONE else done * 100 // max(total, 1)
    if operation.state == Operation.State.QUEUED:
        label = _("Waiting for a worker…")
    else:
        label = _("%(done)s of %(total)s (%(percent)s%%)") % {
            "done": done,
            "total": total,
            "percent": percent,
        }
    state_label = operation.get_state_display()
    if operation.state == Operation.State.RUNNING and operation.stop_requested_at:
        state_label = _("stopping after the current batch")
    return {
        "state": operation.state,
        "state_label": state_label,
        "done": done,
        "total": total,
        "percent": percent,
        "label": label,
        "finished": operation.finished,
    }


@manager_required
@visible_object(_get_operation, param="pk", name="operation")
@require_safe
@never_cache
def operation_detail(request: HttpRequest, operation: Operation) -> HttpResponse:
    """The operation's page: a progress bar while it waits or runs (a small script polls
    :func:`operation_progress`; without script the page reloads itself), then its result,
    the problems that stopped it, or the generated passwords, once, for whom it started it."""
    registration = operations.RUNNERS.get(operation.kind)
    secret = None
    if request.method == "GET":  # a HEAD request must not use up the passwords
        secret = operations.take_result_secret(operation, request.user)
    context = {
        "operation": operation,
        "progress": _progress(operation),
        "result": operation.result,
        "result_template": registration.result_template if registration else "",
        "secret": secret,
        "started_by_viewer": operation.actor == str(request.user.pk),
        "in_steps": bool(registration and registration.in_steps),
        "may_steer": operations.may_steer(operation, request.user),
    }
    return render(request, "provisioning/operation.html", context)


@manager_required
@visible_object(_get_operation, param="pk", name="operation")
@require_safe
@never_cache
def operation_progress(request: HttpRequest, operation: Operation) -> JsonResponse:
    """The progress of an operation as JSON, for the page's script."""
    return JsonResponse(_progress(operation))


def _steer(request: HttpRequest, operation: Operation) -> None:
    if not operations.may_steer(operation, request.user):
        raise PermissionDenied


@manager_required
@visible_object(_get_operation, param="pk", name="operation")
@require_POST
def operation_stop(request: HttpRequest, operation: Operation) -> HttpResponse:
    """Stop an operation run in steps after its current step (the manager who started it, or
    a superadmin; others who may see it get 403)."""
    _steer(request, operation)
    if operations.operation_stop(operation, request.user):
        audit_record(
            actor=request.user,
            action="operation.stop",
            request=request,
            object_type="operation",
            object_id=str(operation.pk),
            domain=operation.domain,
            message=gettext_noop("%(kind)s: %(done)s of %(total)s"),
            message_args={
                "kind": operation.kind,
                "done": operations.progress_of(operation),
                "total": operation.total,
            },
        )
        messages.success(request, _("The operation stops after its current batch."))
    else:
        messages.info(request, _("The operation has ended or is stopping already."))
    return redirect(operation)


@manager_required
@visible_object(_get_operation, param="pk", name="operation")
@require_POST
def operation_resume(request: HttpRequest, operation: Operation) -> HttpResponse:
    """Go on with a failed or stopped operation run in steps: what was done is skipped."""
    _steer(request, operation)
    if operations.operation_resume(operation):
        audit_record(
            actor=request.user,
            action="operation.resume",
            request=request,
            object_type="operation",
            object_id=str(operation.pk),
            domain=operation.domain,
            message=gettext_noop("%(kind)s: %(done)s of %(total)s done before"),
            message_args={
                "kind": operation.kind,
                "done": operation.done_count,
                "total": operation.total,
            },
        )
        messages.success(request, _("The operation goes on where it ended."))
    else:
        messages.info(request, _("Only a failed or stopped operation can be resumed."))
    return redirect(operation)
