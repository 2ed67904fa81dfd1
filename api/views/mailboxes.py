"""Mailboxes over the API: the mailbox pages' forms, services and list (issue 13)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

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
from domains.models import Domain
from mailadmin.lib.access import domain_from_query, get_visible_or_404
from mailadmin.lib.flags import SERVICE_NAMES
from mailadmin.lib.storable import is_storable
from mailboxes import bulk, forwarding, services
from mailboxes.forms import IMPORT_COLUMNS, BulkForm, DeleteForm, MailboxForm, RenameForm
from mailboxes.models import Mailbox
from mailboxes.operations import mailbox_bulk_start, mailbox_import_start
from mailboxes.services import quota_mb
from mailboxes.views import SORT_FIELDS, mailbox_listing
from mailstack.services import is_internal_only


class MailboxRowSerializer(serializers.Serializer):
    """A mailbox in a list: only the columns the list page reads."""

    username = serializers.CharField()
    url = serializers.SerializerMethodField()
    domain = serializers.CharField(source="domain_id")
    name = serializers.CharField()
    quota = serializers.CharField(help_text="As stored (e.g. 104857600S).")
    quota_mb = serializers.SerializerMethodField()
    expiredate = serializers.DateField(allow_null=True)
    active = serializers.BooleanField()
    key_problems = serializers.ListField(child=serializers.CharField())

    def get_url(self, obj: Mailbox) -> str:
        return reverse("api:mailbox-detail", args=[obj.username])

    def get_quota_mb(self, obj: Mailbox) -> int:
        return quota_mb(obj.quota)


class MailboxSerializer(MailboxRowSerializer):
    netdiskquota = serializers.CharField()
    netdiskquota_mb = serializers.SerializerMethodField()
    createdate = serializers.DateTimeField(allow_null=True)
    disablepwdchange = serializers.BooleanField(source="password_change_disabled")
    question = serializers.CharField()
    mailhost = serializers.CharField()
    uidnumber = serializers.IntegerField()
    gidnumber = serializers.IntegerField()
    homedir = serializers.CharField()
    maildir = serializers.CharField()
    services = serializers.SerializerMethodField()
    forward_to = serializers.SerializerMethodField()
    forward_keep_copy = serializers.SerializerMethodField()
    internal_only = serializers.SerializerMethodField()

    def get_netdiskquota_mb(self, obj: Mailbox) -> int:
        return quota_mb(obj.netdiskquota)

    def get_services(self, obj: Mailbox) -> dict[str, bool]:
        return {name: obj.service_enabled(name) for name in SERVICE_NAMES}

    def get_forward_to(self, obj: Mailbox) -> list[str]:
        return forwarding.forwarding_of(obj)[0]

    def get_forward_keep_copy(self, obj: Mailbox) -> bool:
        return forwarding.forwarding_of(obj)[1]

    def get_internal_only(self, obj: Mailbox) -> bool:
        return is_internal_only(obj.username)


MailboxWriteSerializer = form_serializer(
    "MailboxWriteSerializer",
    MailboxForm,
    exclude=("password1", "password2", "forward_to"),
    extra={
        "password": serializers.CharField(required=False, help_text="Empty keeps (on update)."),
        "forward_to": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


def _get_mailbox(request: Request, address: str) -> Mailbox:
    return get_visible_or_404(Mailbox.objects.select_related("domain"), request.user, pk=address)


def _mailbox_form(data: dict[str, Any], **kwargs: Any) -> MailboxForm:
    """The page's form filled like the page: initial values, then what the request gives."""
    if "password" in data:
        password = data.pop("password")
        data.setdefault("password1", password)
        data.setdefault("password2", password)
    blank = MailboxForm(**kwargs)
    return MailboxForm(form_data(MailboxForm, with_defaults(blank, data)), **kwargs)


def _detail(request: Request, address: str, code: int = status.HTTP_200_OK) -> Response:
    mailbox = _get_mailbox(request, address)
    return Response(MailboxSerializer(mailbox).data, status=code)


class MailboxList(ApiView):
    @extend_schema(
        operation_id="mailboxes_list",
        parameters=[DOMAIN_PARAMETER, *list_parameters(SORT_FIELDS)],
        responses=paginated(MailboxRowSerializer),
        description="Sort keys: address, name, quota, expiry, active.",
    )
    def get(self, request: Request) -> Response:
        domain = domain_from_query(django_request(request))
        listing = mailbox_listing(django_request(request), domain)
        return paged(listing, MailboxRowSerializer(listing.objects, many=True).data)

    @extend_schema(request=MailboxWriteSerializer, responses={201: MailboxSerializer})
    def post(self, request: Request) -> Response:
        data = payload(request)
        domain = None
        name = data.get("domain")
        if isinstance(name, str) and is_storable(name):
            domain = Domain.objects.visible_to(request.user).filter(pk=name).first()
        form = _mailbox_form(data, actor=request.user, domain=domain)
        valid(form)
        mailbox = services.mailbox_create(
            **form.service_kwargs(), actor=request.user, request=django_request(request)
        )
        return _detail(request, mailbox.username, status.HTTP_201_CREATED)


class MailboxDetail(ApiView):
    @extend_schema(responses=MailboxSerializer)
    def get(self, request: Request, address: str) -> Response:
        return _detail(request, address)

    @extend_schema(request=MailboxWriteSerializer, responses=MailboxSerializer)
    def patch(self, request: Request, address: str) -> Response:
        mailbox = _get_mailbox(request, address)
        form = _mailbox_form(payload(request), actor=request.user, mailbox=mailbox)
        valid(form)
        services.mailbox_update(
            mailbox=mailbox,
            **form.service_kwargs(),
            actor=request.user,
            request=django_request(request),
        )
        return _detail(request, address)

    put = patch

    @extend_schema(
        parameters=[OpenApiParameter("purge", bool, description="Delete the data, not archive.")],
        responses={204: None},
    )
    def delete(self, request: Request, address: str) -> Response:
        mailbox = _get_mailbox(request, address)
        form = DeleteForm(form_data(DeleteForm, dict(request.query_params.items())))
        valid(form)
        services.mailbox_delete(
            mailbox=mailbox,
            purge=form.purge_requested,
            actor=request.user,
            request=django_request(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MailboxRename(ApiView):
    @extend_schema(
        request=inline_serializer("MailboxRename", {"local_part": serializers.CharField()}),
        responses=MailboxSerializer,
    )
    def post(self, request: Request, address: str) -> Response:
        mailbox = _get_mailbox(request, address)
        data = valid(RenameForm(form_data(RenameForm, payload(request))))
        renamed = services.mailbox_rename(
            mailbox=mailbox,
            local_part=data["local_part"],
            actor=request.user,
            request=django_request(request),
        )
        return _detail(request, renamed.username)


BulkResultSerializer = inline_serializer(
    "MailboxBulkResult",
    {
        "action": serializers.CharField(),
        "addresses": serializers.ListField(child=serializers.CharField()),
        "passwords": serializers.DictField(
            child=serializers.CharField(), help_text="reset_password: shown once."
        ),
        "changed_aliases": serializers.ListField(child=serializers.CharField()),
        "deleted_aliases": serializers.ListField(child=serializers.CharField()),
        "operation": serializers.CharField(
            required=False, help_text="Run in the background: the operation's URL."
        ),
    },
)


class MailboxBulk(ApiView):
    @extend_schema(
        request=form_serializer("MailboxBulkSerializer", BulkForm, exclude=("confirm", "domain")),
        responses={200: BulkResultSerializer, 202: BulkResultSerializer},
        description="Actions: enable, disable, delete, set_quota, reset_password. More than"
        " MAILADMIN_BACKGROUND_BULK_OVER mailboxes run as a background operation (202).",
    )
    def post(self, request: Request) -> Response:
        data = payload(request)
        data.pop("confirm", None)
        form = BulkForm(form_data(BulkForm, data))
        cleaned = valid(form)
        addresses = sorted(set(cleaned["addresses"]))
        visible = Mailbox.objects.visible_to(request.user).filter(pk__in=addresses)
        if not all(is_storable(a) for a in addresses) or visible.count() != len(addresses):
            raise Mailbox.DoesNotExist
        kwargs = {
            "action": cleaned["action"],
            "addresses": addresses,
            "quota": cleaned["quota"],
            "purge": cleaned["purge"],
            "actor": request.user,
            "request": django_request(request),
        }
        if len(addresses) > settings.MAILADMIN_BACKGROUND_BULK_OVER:
            operation = mailbox_bulk_start(**kwargs)
            body = {"action": cleaned["action"], "addresses": addresses, "passwords": {}}
            body["operation"] = reverse("api:operation-detail", args=[operation.pk])
            return Response(body, status=status.HTTP_202_ACCEPTED)
        result = bulk.mailbox_bulk(**kwargs)
        response = Response(
            {
                "action": cleaned["action"],
                "addresses": result.addresses,
                "passwords": dict(result.passwords or {}),
                "changed_aliases": result.changed_aliases,
                "deleted_aliases": result.deleted_aliases,
            }
        )
        response["Cache-Control"] = "no-store"
        return response


ImportRowSerializer = inline_serializer(
    "MailboxImportRow",
    {
        "local_part": serializers.CharField(),
        "name": serializers.CharField(required=False, allow_blank=True),
        "password": serializers.CharField(),
        "quota": serializers.IntegerField(
            required=False, allow_null=True, help_text="MB; empty: the domain template's."
        ),
    },
)


class MailboxImport(ApiView):
    @extend_schema(
        request=inline_serializer(
            "MailboxImport",
            {
                "domain": serializers.CharField(),
                "rows": serializers.ListField(child=ImportRowSerializer),
            },
        ),
        responses={
            201: inline_serializer(
                "MailboxImportResult",
                {
                    "created": serializers.ListField(child=serializers.CharField()),
                    "operation": serializers.CharField(required=False),
                },
            )
        },
        description="The CSV import of the page, as JSON rows: every row checked with the rules"
        " of a single create, all or nothing; refused rows are listed by number (the row's"
        " position, from 1) under ``rows``. More than MAILADMIN_BACKGROUND_IMPORT_OVER rows run"
        " as a background operation (202).",
    )
    def post(self, request: Request) -> Response:
        data = payload(request)
        name, rows = data.get("domain"), data.get("rows")
        if not isinstance(name, str) or not is_storable(name):
            raise exceptions.ValidationError({"domain": [_("Choose one of your domains.")]})
        domain = get_visible_or_404(Domain.objects, request.user, pk=name)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise exceptions.ValidationError({"rows": [_("Send a list of mailboxes.")]})
        clean = []
        for number, row in enumerate(rows, start=1):
            values = {key: row.get(key, "") for key in IMPORT_COLUMNS}
            if not all(
                isinstance(v, str | int) and not isinstance(v, bool) for v in values.values()
            ):
                raise exceptions.ValidationError(
                    {"rows": [_("Line %(line)s: text values only.") % {"line": number}]}
                )
            values = {key: str(value).strip() for key, value in values.items()}
            clean.append({**values, "line": number})
        if len(clean) > settings.MAILADMIN_BACKGROUND_IMPORT_OVER:
            operation = mailbox_import_start(
                domain=domain.domain,
                rows=clean,
                actor=request.user,
                request=django_request(request),
            )
            body = {
                "created": [],
                "operation": reverse("api:operation-detail", args=[operation.pk]),
            }
            return Response(body, status=status.HTTP_202_ACCEPTED)
        try:
            created = bulk.mailbox_import(
                domain=domain.domain,
                rows=clean,
                actor=request.user,
                request=django_request(request),
            )
        except bulk.ImportRejected as exc:
            raise exceptions.ValidationError({"rows": exc.messages}) from exc
        return Response({"created": [m.username for m in created]}, status=status.HTTP_201_CREATED)
