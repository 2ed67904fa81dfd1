"""Errors of the API as JSON: a service's ``ValidationError({field: message})`` becomes
400 ``{field: [message]}``, so a script sees the messages the forms show."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

#: The key of errors that belong to no field (as DRF names them).
NON_FIELD = "non_field_errors"


def validation_detail(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            (field if field and field != "__all__" else NON_FIELD): [str(m) for m in messages]
            for field, messages in exc.message_dict.items()
        }
    return {NON_FIELD: [str(m) for m in exc.messages]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_detail(exc))
    elif isinstance(exc, ObjectDoesNotExist | Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        # Services refuse what the actor may not see; outsiders learn nothing more than 404.
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)
