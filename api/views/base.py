"""What every API view shares: JSON in through the panel's own forms (the same validation and
messages), lists through the pages' own listings (the same scoping, search and paging)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.exceptions import NON_FIELD
from mailadmin.lib.listing import MAX_QUERY_LENGTH, PER_PAGE_CHOICES, Listing

LIST_PARAMETERS = [
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description=f"Search text (at most {MAX_QUERY_LENGTH} characters used): by prefix"
        " (``anna``, ``@exa``) or, with ``match=contains``, by substring.",
    ),
    OpenApiParameter("match", OpenApiTypes.STR, enum=["prefix", "contains"]),
    OpenApiParameter("sort", OpenApiTypes.STR, description="A sort key, ``-`` for descending."),
    OpenApiParameter("page", OpenApiTypes.INT),
    OpenApiParameter("per_page", OpenApiTypes.INT, enum=list(PER_PAGE_CHOICES)),
]


def list_parameters(sorts: Iterable[str]) -> list[OpenApiParameter]:
    """:data:`LIST_PARAMETERS` with the list's own sort keys named (each also with ``-``)."""
    keys = list(sorts)
    sort = OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        enum=[*keys, *(f"-{key}" for key in keys)],
        description="A sort key, ``-`` for descending (another value: the list's default).",
    )
    return [sort if p.name == "sort" else p for p in LIST_PARAMETERS]


DOMAIN_PARAMETER = OpenApiParameter(
    "domain", OpenApiTypes.STR, description="Only the rows of this domain (404 if not yours)."
)


def django_request(request: Request) -> HttpRequest:
    """The HttpRequest under DRF's request: what services take for the audit record."""
    return request._request


def payload(request: Request) -> dict[str, Any]:
    """The JSON body as a dict (400 for anything else)."""
    data = request.data
    if not isinstance(data, dict):
        raise exceptions.ValidationError({NON_FIELD: ["Send a JSON object."]})
    return dict(data)


def form_data(form_class: type[forms.BaseForm], data: dict[str, Any]) -> MultiValueDict:
    """JSON values as form data: lists stay lists for multiple-choice fields; for a text field
    (targets, forwarding) a list becomes one line per item, as typed in the textarea."""
    multiple = {
        name
        for name, field in form_class.base_fields.items()
        if isinstance(field, forms.MultipleChoiceField)
    }
    converted: dict[str, list[Any]] = {}
    for key, value in data.items():
        if key in multiple:
            items = value if isinstance(value, list) else [value]
            converted[key] = [v if isinstance(v, str | int) else str(v) for v in items]
        elif isinstance(value, list):
            converted[key] = ["\n".join(str(v) for v in value)]
        elif value is None:
            converted[key] = [""]
        elif isinstance(value, dict):
            converted[key] = [str(value)]
        else:
            converted[key] = [value]
    return MultiValueDict(converted)


def with_defaults(form: forms.BaseForm, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` completed with the form's initial values (what the page shows before one types:
    the domain's template, the current values of an edited object), so that a field left out
    of a request keeps the value the page would have submitted."""
    complete: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        initial = form.get_initial_for_field(field, name)
        if initial is None:
            continue
        if isinstance(field, forms.DateField) and hasattr(initial, "isoformat"):
            initial = initial.isoformat()
        complete[name] = initial
    complete.update(data)
    return complete


def form_errors(form: forms.BaseForm) -> exceptions.ValidationError:
    detail: dict[str, list[str]] = {}
    for field, errors in form.errors.items():
        detail[NON_FIELD if field == "__all__" else field] = [str(e) for e in errors]
    return exceptions.ValidationError(detail)


def valid(form: forms.BaseForm) -> dict[str, Any]:
    """The cleaned data of a valid form, or 400 with its messages by field."""
    if not form.is_valid():
        raise form_errors(form)
    return form.cleaned_data


def paged(listing: Listing, rows: list[Any], **extra: Any) -> Response:
    page = listing.page
    body = {
        "count": listing.total,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "per_page": listing.per_page,
        "sort": listing.sort,
        **extra,
        "results": rows,
    }
    return Response(body)


def paginated(serializer: type[serializers.Serializer]) -> serializers.Serializer:
    """The schema of a page of ``serializer`` rows."""
    name = serializer.__name__.removesuffix("Serializer")
    fields = {
        "count": serializers.IntegerField(),
        "page": serializers.IntegerField(),
        "pages": serializers.IntegerField(),
        "per_page": serializers.IntegerField(),
        "sort": serializers.CharField(),
        "results": serializer(many=True),
    }
    return type(f"Paged{name}Serializer", (serializers.Serializer,), fields)()


def form_serializer(
    name: str,
    form_class: type[forms.BaseForm],
    *,
    exclude: tuple[str, ...] = (),
    extra: dict[str, serializers.Field] | None = None,
) -> type[serializers.Serializer]:
    """A serializer describing ``form_class``'s fields, for the schema only: the data is
    validated by the form itself."""
    fields: dict[str, serializers.Field] = {}
    for field_name, field in form_class.base_fields.items():
        if field_name in exclude:
            continue
        kwargs: dict[str, Any] = {
            "required": False,
            "help_text": str(field.help_text or field.label or ""),
        }
        if isinstance(field, forms.BooleanField):
            fields[field_name] = serializers.BooleanField(**kwargs)
        elif isinstance(field, forms.IntegerField):
            fields[field_name] = serializers.IntegerField(allow_null=True, **kwargs)
        elif isinstance(field, forms.DateField):
            fields[field_name] = serializers.DateField(allow_null=True, **kwargs)
        elif isinstance(field, forms.MultipleChoiceField):
            fields[field_name] = serializers.ListField(child=serializers.CharField(), **kwargs)
        else:
            fields[field_name] = serializers.CharField(allow_blank=True, **kwargs)
    fields.update(extra or {})
    return type(name, (serializers.Serializer,), fields)


#: Larger ids name no row (and some databases refuse to compare them).
MAX_ID = 2**63 - 1


def checked_id(pk: int) -> int:
    if not 0 < pk <= MAX_ID:
        raise exceptions.NotFound
    return pk


class ApiView(APIView):
    """The API's views: throttled before the permission check, so that requests without a
    valid login (a wrong token too) are counted per client address like the others."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(
            request
        )
        request.version, request.versioning_scheme = self.determine_version(
            request, *args, **kwargs
        )
        try:
            self.perform_authentication(request)
        except exceptions.AuthenticationFailed:
            self.check_throttles(request)
            raise
        self.check_throttles(request)
        self.check_permissions(request)
