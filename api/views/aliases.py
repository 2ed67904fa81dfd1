"""Aliases over the API: the alias pages' forms, services and list (issue 13)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from aliases import services
from aliases.forms import AliasEditForm, AliasForm
from aliases.models import Alias
from aliases.views import SORT_FIELDS, _plain_aliases, alias_listing
from api.views.base import (
    DOMAIN_PARAMETER,
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
from mailadmin.lib.access import domain_from_query, get_visible_or_404
from mailstack.services import is_internal_only


class AliasRowSerializer(serializers.Serializer):
    address = serializers.CharField()
    url = serializers.SerializerMethodField()
    domain = serializers.CharField(source="domain_id")
    goto = serializers.ListField(child=serializers.CharField(), source="targets")
    active = serializers.BooleanField()
    is_catchall = serializers.BooleanField()
    key_problems = serializers.ListField(child=serializers.CharField())

    def get_url(self, obj: Alias) -> str:
        return reverse("api:alias-detail", args=[obj.address])


class AliasSerializer(AliasRowSerializer):
    internal_only = serializers.SerializerMethodField()
    missing_local_targets = serializers.SerializerMethodField(
        help_text="Targets in your domains that are neither a mailbox nor an alias."
    )

    def get_internal_only(self, obj: Alias) -> bool:
        return is_internal_only(obj.address)

    def get_missing_local_targets(self, obj: Alias) -> list[str]:
        return services.missing_local_targets(obj.targets, actor=self.context["actor"])


_GOTO = {"goto": serializers.ListField(child=serializers.CharField(), required=False)}
AliasWriteSerializer = form_serializer("AliasWriteSerializer", AliasForm, extra=_GOTO)
AliasUpdateSerializer = form_serializer("AliasUpdateSerializer", AliasEditForm, extra=_GOTO)


def _get(request: Request, address: str) -> Alias:
    # Forwarding aliases of mailboxes are the mailbox's (forward_to), as on the pages.
    return get_visible_or_404(_plain_aliases(), request.user, pk=address)


def _detail(request: Request, address: str, code: int = status.HTTP_200_OK) -> Response:
    alias = _get(request, address)
    return Response(AliasSerializer(alias, context={"actor": request.user}).data, status=code)


class AliasList(ApiView):
    @extend_schema(
        operation_id="aliases_list",
        parameters=[DOMAIN_PARAMETER, *list_parameters(SORT_FIELDS)],
        responses=paginated(AliasRowSerializer),
        description="Sort keys: address, active, domain.",
    )
    def get(self, request: Request) -> Response:
        domain = domain_from_query(django_request(request))
        listing = alias_listing(django_request(request), domain)
        return paged(listing, AliasRowSerializer(listing.objects, many=True).data)

    @extend_schema(request=AliasWriteSerializer, responses={201: AliasSerializer})
    def post(self, request: Request) -> Response:
        blank = AliasForm(manager=request.user)
        form = AliasForm(
            form_data(AliasForm, with_defaults(blank, payload(request))), manager=request.user
        )
        data = valid(form)
        alias = services.alias_create(
            actor=request.user,
            local_part=data["local_part"],
            domain=data["domain"],
            goto=data["goto"],
            active=data["active"],
            internal_only=data["internal_only"],
            request=django_request(request),
        )
        return _detail(request, alias.address, status.HTTP_201_CREATED)


class AliasDetail(ApiView):
    @extend_schema(responses=AliasSerializer)
    def get(self, request: Request, address: str) -> Response:
        return _detail(request, address)

    @extend_schema(request=AliasUpdateSerializer, responses=AliasSerializer)
    def patch(self, request: Request, address: str) -> Response:
        alias = _get(request, address)
        initial = {
            "goto": "\n".join(alias.targets),
            "active": alias.active,
            "internal_only": is_internal_only(alias.address),
        }
        blank = AliasEditForm(initial=initial)
        form = AliasEditForm(form_data(AliasEditForm, with_defaults(blank, payload(request))))
        data = valid(form)
        services.alias_update(
            actor=request.user,
            alias=alias,
            goto=data["goto"],
            active=data["active"],
            internal_only=data["internal_only"],
            request=django_request(request),
        )
        return _detail(request, address)

    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request: Request, address: str) -> Response:
        alias = _get(request, address)
        services.alias_delete(actor=request.user, alias=alias, request=django_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
