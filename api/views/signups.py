"""The signup approval queue over the API (issue 13): the queue page's list and services."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.views.base import (
    DOMAIN_PARAMETER,
    LIST_PARAMETERS,
    ApiView,
    checked_id,
    django_request,
    form_data,
    form_serializer,
    paged,
    paginated,
    payload,
    valid,
)
from mailadmin.lib.access import domain_from_query, get_visible_or_404
from signup import services
from signup.forms import BulkForm, RejectForm
from signup.models import SignupRequest
from signup.operations import signup_bulk_start
from signup.views import queue_listing


class SignupSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    address = serializers.CharField()
    domain = serializers.CharField()
    local_part = serializers.CharField()
    name = serializers.CharField()
    question = serializers.CharField()
    contact_email = serializers.CharField()
    state = serializers.CharField()
    reason = serializers.CharField()
    client_ip = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    decided_by = serializers.CharField()

    def get_url(self, obj: SignupRequest) -> str:
        return reverse("api:signup-detail", args=[obj.pk])


def _get(request: Request, pk: int) -> SignupRequest:
    return get_visible_or_404(
        SignupRequest.objects.defer("password_hash", "answer_hash"), request.user, pk=checked_id(pk)
    )


def _detail(request: Request, pk: int) -> Response:
    return Response(SignupSerializer(_get(request, pk)).data)


class SignupList(ApiView):
    @extend_schema(
        operation_id="signups_list",
        parameters=[
            DOMAIN_PARAMETER,
            OpenApiParameter(
                "state",
                OpenApiTypes.STR,
                enum=["", *SignupRequest.State.values],
                description="Pending by default; empty for every state.",
            ),
            *LIST_PARAMETERS,
        ],
        responses=paginated(SignupSerializer),
        description="Sort keys: address, domain, created, expires, state.",
    )
    def get(self, request: Request) -> Response:
        domain = domain_from_query(django_request(request))
        listing, state = queue_listing(django_request(request), domain)
        return paged(listing, SignupSerializer(listing.objects, many=True).data, state=state)


class SignupDetail(ApiView):
    @extend_schema(responses=SignupSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return _detail(request, pk)


class SignupApprove(ApiView):
    @extend_schema(request=None, responses=SignupSerializer)
    def post(self, request: Request, pk: int) -> Response:
        signup = _get(request, pk)
        services.signup_approve(signup=signup, actor=request.user, request=django_request(request))
        return _detail(request, pk)


class SignupReject(ApiView):
    @extend_schema(
        request=form_serializer("SignupRejectSerializer", RejectForm), responses=SignupSerializer
    )
    def post(self, request: Request, pk: int) -> Response:
        signup = _get(request, pk)
        data = valid(RejectForm(form_data(RejectForm, payload(request))))
        services.signup_reject(
            signup=signup,
            actor=request.user,
            reason=data["reason"],
            request=django_request(request),
        )
        return _detail(request, pk)


class SignupBulk(ApiView):
    @extend_schema(
        request=form_serializer(
            "SignupBulkSerializer",
            BulkForm,
            extra={"ids": serializers.ListField(child=serializers.IntegerField())},
        ),
        responses={
            (200, "application/json"): inline_serializer(
                "SignupBulkResult",
                {
                    "action": serializers.CharField(),
                    "done": serializers.ListField(child=serializers.CharField()),
                    "refused": serializers.DictField(child=serializers.CharField()),
                    "operation": serializers.CharField(required=False),
                },
            )
        },
        description="approve or reject; more than MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER"
        " requests run as a background operation (202).",
    )
    def post(self, request: Request) -> Response:
        data = valid(BulkForm(form_data(BulkForm, payload(request))))
        ids = data["ids"]
        if any(i > 2**63 - 1 for i in ids):
            raise SignupRequest.DoesNotExist
        kwargs = {
            "action": data["action"],
            "ids": ids,
            "actor": request.user,
            "reason": data["reason"],
            "request": django_request(request),
        }
        if len(set(ids)) > settings.MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER:
            operation = signup_bulk_start(**kwargs)
            body = {"action": data["action"], "done": [], "refused": {}}
            body["operation"] = reverse("api:operation-detail", args=[operation.pk])
            return Response(body, status=status.HTTP_202_ACCEPTED)
        result = services.signup_bulk(**kwargs)
        return Response({"action": result.action, "done": result.done, "refused": result.refused})
