"""Managers over the API (superadmins only; anyone else gets 404), through the manager pages'
form and services (issue 13)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.manager_forms import ManagerForm
from accounts.manager_views import domains_of, manager_listing
from accounts.models import Manager
from api.permissions import SuperadminOnly
from api.views.base import (
    LIST_PARAMETERS,
    ApiView,
    django_request,
    form_data,
    form_serializer,
    paged,
    paginated,
    payload,
    valid,
    with_defaults,
)
from mailadmin.lib.access import get_visible_or_404


class ManagerSerializer(serializers.Serializer):
    username = serializers.CharField()
    url = serializers.SerializerMethodField()
    name = serializers.CharField()
    type = serializers.CharField(help_text="admin = superadmin; anything else: domain admin.")
    is_superadmin = serializers.BooleanField()
    expiredate = serializers.DateField(allow_null=True)
    active = serializers.BooleanField()
    disablepwdchange = serializers.BooleanField(source="password_change_disabled")
    domains = serializers.SerializerMethodField()

    def get_url(self, obj: Manager) -> str:
        return reverse("api:manager-detail", args=[obj.username])

    def get_domains(self, obj: Manager) -> list[str]:
        return sorted(self.context["domains"].get(obj.pk, ()))


ManagerWriteSerializer = form_serializer(
    "ManagerWriteSerializer",
    ManagerForm,
    extra={"password": serializers.CharField(required=False, help_text="Empty keeps.")},
)


def _detail(request: Request, username: str, code: int = status.HTTP_200_OK) -> Response:
    manager = get_visible_or_404(Manager.objects, request.user, pk=username)
    context = {"domains": domains_of([manager])}
    return Response(ManagerSerializer(manager, context=context).data, status=code)


def _form(data: dict[str, Any], instance: Manager | None, initial: dict | None) -> ManagerForm:
    if "password" in data:
        password = data.pop("password")
        data.setdefault("password1", password)
        data.setdefault("password2", password)
    blank = ManagerForm(instance=instance, initial=initial)
    return ManagerForm(
        form_data(ManagerForm, with_defaults(blank, data)), instance=instance, initial=initial
    )


class ManagerList(ApiView):
    permission_classes = [SuperadminOnly]

    @extend_schema(
        operation_id="managers_list",
        parameters=LIST_PARAMETERS,
        responses=paginated(ManagerSerializer),
        description="Sort keys: username, name, type, active, expiredate.",
    )
    def get(self, request: Request) -> Response:
        listing = manager_listing(django_request(request))
        managers = listing.objects
        context = {"domains": domains_of(managers)}
        return paged(listing, ManagerSerializer(managers, many=True, context=context).data)

    @extend_schema(request=ManagerWriteSerializer, responses={201: ManagerSerializer})
    def post(self, request: Request) -> Response:
        data = valid(_form(payload(request), None, None))
        manager = services.manager_create(
            actor=request.user,
            username=data["username"],
            password=data["password1"],
            name=data["name"],
            type=data["type"],
            expiredate=data["expiredate"],
            active=data["active"],
            disablepwdchange=data["disablepwdchange"],
            domains=data["domains"],
            request=django_request(request),
        )
        return _detail(request, manager.pk, status.HTTP_201_CREATED)


class ManagerDetail(ApiView):
    permission_classes = [SuperadminOnly]

    @extend_schema(responses=ManagerSerializer)
    def get(self, request: Request, username: str) -> Response:
        return _detail(request, username)

    @extend_schema(request=ManagerWriteSerializer, responses=ManagerSerializer)
    def patch(self, request: Request, username: str) -> Response:
        manager = get_visible_or_404(Manager.objects, request.user, pk=username)
        initial = {
            "username": manager.pk,
            "name": manager.name,
            "type": Manager.Role.SUPERADMIN if manager.is_superadmin else Manager.Role.DOMAIN_ADMIN,
            "expiredate": manager.expiredate,
            "active": manager.active,
            "disablepwdchange": manager.password_change_disabled,
            "domains": services.assigned_domains(manager),
        }
        data = valid(_form(payload(request), manager, initial))
        services.manager_update(
            actor=request.user,
            manager=manager,
            name=data["name"],
            type=data["type"],
            expiredate=data["expiredate"],
            active=data["active"],
            disablepwdchange=data["disablepwdchange"],
            domains=data["domains"],
            password=data["password1"] or None,
            request=django_request(request),
        )
        return _detail(request, username)

    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request: Request, username: str) -> Response:
        manager = get_visible_or_404(Manager.objects, request.user, pk=username)
        services.manager_delete(
            actor=request.user, manager=manager, request=django_request(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
