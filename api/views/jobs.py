"""Jobs, background operations and the audit log over the API (issue 13): the pages' lists,
scoping and actions."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_noop
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.views.base import (
    DOMAIN_PARAMETER,
    LIST_PARAMETERS,
    ApiView,
    checked_id,
    django_request,
    paged,
    paginated,
)
from audit.models import AuditEntry
from audit.services import audit_record
from audit.views import _domain_filter, audit_listing
from mailadmin.lib.access import get_visible_or_404
from provisioning import operations, runner
from provisioning.dispatch import dispatch
from provisioning.models import Job, Operation
from provisioning.views import _get_operation, _progress, job_listing


class JobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    kind = serializers.CharField()
    state = serializers.CharField()
    queue = serializers.CharField()
    domain = serializers.CharField()
    object_id = serializers.CharField()
    attempts = serializers.IntegerField()
    last_error = serializers.CharField()
    note = serializers.CharField()
    created_by = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_url(self, obj: Job) -> str:
        return reverse("api:job-detail", args=[obj.pk])


def _get_job(request: Request, pk: int) -> Job:
    return get_visible_or_404(Job.objects, request.user, pk=checked_id(pk))


class JobList(ApiView):
    @extend_schema(
        operation_id="jobs_list",
        parameters=[
            DOMAIN_PARAMETER,
            OpenApiParameter("state", OpenApiTypes.STR, enum=Job.State.values),
            OpenApiParameter("kind", OpenApiTypes.STR, enum=Job.Kind.values),
            *LIST_PARAMETERS,
        ],
        responses=paginated(JobSerializer),
        description="Sort keys: created, state, kind.",
    )
    def get(self, request: Request) -> Response:
        listing, _state, _kind, _domain = job_listing(django_request(request))
        return paged(listing, JobSerializer(listing.objects, many=True).data)


class JobDetail(ApiView):
    @extend_schema(responses=JobSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(JobSerializer(_get_job(request, pk)).data)


class JobRetry(ApiView):
    @extend_schema(request=None, responses={200: JobSerializer, 409: None})
    def post(self, request: Request, pk: int) -> Response:
        """Try a failed job again (409 for a job that has not failed)."""
        job = _get_job(request, pk)
        if not runner.retry(job):
            return Response({"detail": "Only failed jobs can be retried."}, status=409)
        dispatch(job)
        return Response(JobSerializer(_get_job(request, pk)).data)


class JobCancel(ApiView):
    @extend_schema(request=None, responses={200: JobSerializer, 409: None})
    def post(self, request: Request, pk: int) -> Response:
        """Give up a failed job: the jobs waiting for it go on (409 for any other job)."""
        job = _get_job(request, pk)
        if not runner.cancel(job):
            return Response({"detail": "Only failed jobs can be given up."}, status=409)
        audit_record(
            actor=request.user,
            action="job.cancel",
            request=django_request(request),
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
        return Response(JobSerializer(_get_job(request, pk)).data)


class OperationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    domain = serializers.CharField()
    actor = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    finished = serializers.BooleanField()
    result = serializers.JSONField()
    errors = serializers.JSONField()
    passwords = serializers.JSONField(required=False, help_text="Shown once, to its starter.")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class OperationDetail(ApiView):
    @extend_schema(responses=OperationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        """A background operation: progress, then its result (a bulk password reset's new
        passwords once, to whom started it)."""
        with operations.rows_guard():
            operation: Operation = _get_operation(django_request(request), checked_id(pk))
            progress = _progress(operation)
            secret = operations.take_result_secret(operation, request.user)
        body = {
            "id": operation.pk,
            "kind": operation.kind,
            "state": operation.state,
            "domain": operation.domain,
            "actor": operation.actor,
            "total": operation.total,
            "done": progress["done"],
            "finished": progress["finished"],
            "result": operation.result,
            "errors": operation.errors,
            "created_at": operation.created_at,
            "finished_at": operation.finished_at,
        }
        if secret:
            body["passwords"] = secret
        response = Response(OperationSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response


class AuditSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    actor = serializers.CharField()
    actor_kind = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    action = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.CharField()
    domain = serializers.CharField()
    changes = serializers.JSONField(help_text="{field: [before, after]}; secrets as (changed).")
    message = serializers.CharField()


class AuditList(ApiView):
    @extend_schema(
        operation_id="audit_list",
        parameters=[
            DOMAIN_PARAMETER,
            OpenApiParameter("action", OpenApiTypes.STR, description="e.g. mailbox.create"),
            *LIST_PARAMETERS,
        ],
        responses=paginated(AuditSerializer),
        description="Sort keys: time, actor, action (newest first by default).",
    )
    def get(self, request: Request) -> Response:
        http = django_request(request)
        entries = AuditEntry.objects.visible_to(request.user)
        action = request.query_params.get("action", "").strip()
        listing = audit_listing(http, entries, domain=_domain_filter(http), action=action)
        return paged(listing, AuditSerializer(listing.objects, many=True).data)


class AuditDetail(ApiView):
    @extend_schema(responses=AuditSerializer)
    def get(self, request: Request, pk: int) -> Response:
        entry = get_visible_or_404(AuditEntry.objects, request.user, pk=checked_id(pk))
        return Response(AuditSerializer(entry).data, status=status.HTTP_200_OK)
