"""Model fields for the legacy column conventions of the extmail tables.

ExtMan stores "never" in ``NOT NULL`` DATE/DATETIME columns as a zero date. These fields show
it as ``None`` in Python and write it back as the zero date, on MariaDB/MySQL (where the
driver already returns ``None`` for a zero date) and on SQLite (where it is a string).
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core import exceptions
from django.db import models
from django.db.models.lookups import IsNull
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.schema import ZERO_DATE, ZERO_DATETIME


class ZeroDateField(models.Field):
    """A legacy ``DATE NOT NULL`` column; ``0000-00-00`` <-> ``None`` ("never")."""

    description = _("Date, or never (stored as 0000-00-00)")
    empty_strings_allowed = False
    zero = ZERO_DATE

    def db_type(self, connection: Any) -> str:
        return "date"

    def get_internal_type(self) -> str:
        # Not "DateField": the backends' date converters would choke on the zero date.
        return "ZeroDateField"

    def parse(self, value: str) -> datetime.date | None:
        return parse_date(value)

    def to_python(self, value: Any) -> Any:
        if value is None or value == "" or value == self.zero:
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        try:
            parsed = self.parse(str(value))
        except ValueError:
            parsed = None
        if parsed is None:
            raise exceptions.ValidationError(
                _("Enter a valid date (YYYY-MM-DD)."), code="invalid", params={"value": value}
            )
        return parsed

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == self.zero:
            return None
        if isinstance(value, str):
            try:
                return self.parse(value)
            except ValueError:
                return None  # an impossible legacy date such as 2010-02-30 reads as "never"
        return value

    def get_prep_value(self, value: Any) -> Any:
        value = self.to_python(value)
        return self.zero if value is None else value.isoformat()

    def formfield(self, **kwargs: Any) -> forms.Field:
        return super().formfield(**{"form_class": forms.DateField, "required": False, **kwargs})


class ZeroDateTimeField(ZeroDateField):
    """A legacy ``DATETIME NOT NULL`` column holding local wall-clock time, zero = unknown.

    Values are naive datetimes in the panel's TIME_ZONE, like ExtMan's ``NOW()``, so that a
    row read and saved again keeps its value to the second.
    """

    description = _("Date and time, or unknown (stored as 0000-00-00 00:00:00)")
    zero = ZERO_DATETIME

    def db_type(self, connection: Any) -> str:
        return "datetime"

    def get_internal_type(self) -> str:
        return "ZeroDateTimeField"

    def parse(self, value: str) -> datetime.datetime | None:
        return parse_datetime(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            if timezone.is_aware(value):
                value = timezone.make_naive(value)
            return value.replace(microsecond=0)
        if isinstance(value, datetime.date):
            return datetime.datetime.combine(value, datetime.time())
        return super().to_python(value)

    def get_prep_value(self, value: Any) -> Any:
        value = self.to_python(value)
        return self.zero if value is None else value.isoformat(sep=" ")

    def formfield(self, **kwargs: Any) -> forms.Field:
        return super().formfield(**{"form_class": forms.DateTimeField, **kwargs})


class ZeroAwareIsNull(IsNull):
    """``field=None`` / ``field__isnull=True`` match the zero date ("never")."""

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sql, params = compiler.compile(self.lhs)
        zero = self.lhs.output_field.zero
        if self.rhs:
            return f"({sql} IS NULL OR {sql} = %s)", [*params, *params, zero]
        return f"({sql} IS NOT NULL AND {sql} <> %s)", [*params, *params, zero]


ZeroDateField.register_lookup(ZeroAwareIsNull)


def local_now() -> datetime.datetime:
    """The current local time, naive, to the second: the form of legacy ``createdate``."""
    return timezone.localtime().replace(tzinfo=None, microsecond=0)
