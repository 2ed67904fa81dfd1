"""Domains over the API: the domain pages' forms, services and list (issue 13)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from aliases.models import Alias
from api.permissions import ManagerWithScope, SuperadminOnly
from api.views.base import (
    ApiView,
    django_request,
    form_data,
    form_serializer,
    list_parameters,
    paged,
    paginated,
    payload,
    valid,
    with_defaults,
)
from domains import services
from domains.forms import DomainAddForm, DomainDeleteForm, DomainEditForm, DomainRenameForm
from domains.models import Domain
from domains.selectors import attach_missing_usage, with_usage
from domains.views import SORT_FIELDS, domain_listing
from mailadmin.lib.access import get_visible_or_404
from mailadmin.lib.flags import SERVICE_NAMES
from mailboxes.models import Mailbox


class DomainSerializer(serializers.Serializer):
    domain = serializers.CharField()
    url = serializers.SerializerMethodField()
    description = serializers.CharField()
    maxusers = serializers.IntegerField()
    maxalias = serializers.IntegerField()
    maxquota = serializers.CharField(help_text="As stored; 0 = unlimited.")
    maxnetdiskquota = serializers.CharField()
    transport = serializers.CharField(allow_null=True)
    can_signup = serializers.BooleanField()
    default_quota = serializers.CharField(allow_null=True)
    default_netdiskquota = serializers.CharField(allow_null=True)
    default_expire = serializers.CharField(allow_null=True)
    createdate = serializers.DateTimeField(allow_null=True)
    expiredate = serializers.DateField(allow_null=True)
    active = serializers.BooleanField()
    services = serializers.SerializerMethodField()
    used_users = serializers.IntegerField()
    used_aliases = serializers.IntegerField()
    used_quota = serializers.IntegerField(help_text="Bytes.")
    used_netdisk = serializers.IntegerField(help_text="Bytes.")
    key_problems = serializers.ListField(child=serializers.CharField())

    def get_url(self, obj: Domain) -> str:
        return reverse("api:domain-detail", args=[obj.domain])

    def get_services(self, obj: Domain) -> dict[str, bool]:
        return {name: obj.service_enabled(name) for name in SERVICE_NAMES}


DomainWriteSerializer = form_serializer("DomainWriteSerializer", DomainAddForm)
DomainUpdateSerializer = form_serializer("DomainUpdateSerializer", DomainEditForm)


def _get(request: Request, name: str) -> Domain:
    return get_visible_or_404(Domain.objects, request.user, pk=name)


def _detail(request: Request, name: str, code: int = status.HTTP_200_OK) -> Response:
    domain = get_visible_or_404(with_usage(Domain.objects.all()), request.user, pk=name)
    attach_missing_usage([domain])
    return Response(DomainSerializer(domain).data, status=code)


class DomainList(ApiView):
    def get_permissions(self) -> list:
        # Domain admins read their own domains; only a superadmin adds one.
        return [SuperadminOnly() if self.request.method == "POST" else ManagerWithScope()]

    @extend_schema(
        operation_id="domains_list",
        parameters=list_parameters(SORT_FIELDS),
        responses=paginated(DomainSerializer),
        description="Sort keys: name, users, aliases, quota, expiry, active.",
    )
    def get(self, request: Request) -> Response:
        listing = domain_listing(django_request(request))
        return paged(listing, DomainSerializer(listing.objects, many=True).data)

    @extend_schema(request=DomainWriteSerializer, responses={201: DomainSerializer})
    def post(self, request: Request) -> Response:
        blank = DomainAddForm()
        form = DomainAddForm(form_data(DomainAddForm, with_defaults(blank, payload(request))))
        valid(form)
        domain = services.domain_create(
            name=form.cleaned_data["domain"],
            values=form.values(),
            actor=request.user,
            request=django_request(request),
        )
        return _detail(request, domain.pk, status.HTTP_201_CREATED)


class DomainDetail(ApiView):
    def get_permissions(self) -> list:
        return [ManagerWithScope() if self.request.method == "GET" else SuperadminOnly()]

    @extend_schema(responses=DomainSerializer)
    def get(self, request: Request, domain: str) -> Response:
        return _detail(request, domain)

    @extend_schema(request=DomainUpdateSerializer, responses=DomainSerializer)
    def patch(self, request: Request, domain: str) -> Response:
        obj = _get(request, domain)
        blank = DomainEditForm(instance=obj)
        form = DomainEditForm(
            form_data(DomainEditForm, with_defaults(blank, payload(request))), instance=obj
        )
        valid(form)
        services.domain_update(
            domain=obj,
            values=form.values(),
            apply_template=form.cleaned_data["apply_template"],
            actor=request.user,
            request=django_request(request),
        )
        return _detail(request, domain)

    put = patch

    @extend_schema(
        request=form_serializer("DomainDeleteSerializer", DomainDeleteForm),
        responses={204: None},
        description="A domain with mailboxes or aliases needs delete_all and confirm_domain"
        " (its name), in the body or the query string.",
    )
    def delete(self, request: Request, domain: str) -> Response:
        obj = _get(request, domain)
        data = dict(request.query_params.items())
        if isinstance(request.data, dict):
            data.update(request.data)
        has_content = (
            Mailbox.objects.filter(domain_id=obj.pk).exists()
            or Alias.objects.filter(domain_id=obj.pk).exists()
        )
        form = DomainDeleteForm(form_data(DomainDeleteForm, data), has_content=has_content)
        cleaned = valid(form)
        services.domain_delete(
            domain=obj,
            delete_all=cleaned.get("delete_all", False),
            confirm_domain=cleaned.get("confirm_domain", ""),
            actor=request.user,
            request=django_request(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class DomainRename(ApiView):
    permission_classes = [SuperadminOnly]

    @extend_schema(
        request=form_serializer("DomainRenameSerializer", DomainRenameForm),
        responses=DomainSerializer,
    )
    def post(self, request: Request, domain: str) -> Response:
        obj = _get(request, domain)
        data = valid(DomainRenameForm(form_data(DomainRenameForm, payload(request))))
        renamed = services.domain_rename(
            domain=obj, new_name=data["domain"], actor=request.user, request=django_request(request)
        )
        return _detail(request, renamed.pk)
