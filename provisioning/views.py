"""The jobs page (SPEC §3.8): state, attempts, last error, and retry for failed jobs."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    visible_object,
)
from mailadmin.lib.listing import make_listing
from provisioning import runner
from provisioning.dispatch import dispatch
from provisioning.models import Job


@manager_required
@require_safe
def job_list(request: HttpRequest) -> HttpResponse:
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
    return render(
        request,
        "provisioning/jobs.html",
        {
            "listing": listing,
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
            message=f"{job.kind} {job.object_id}: {job.last_error}"[:1000],
        )
        messages.success(
            request,
            _("Job #%(id)s was given up; the jobs that waited for it go on.") % {"id": job.pk},
        )
    else:
        messages.info(request, _("Only failed jobs can be given up."))
    return redirect("provisioning:jobs")
