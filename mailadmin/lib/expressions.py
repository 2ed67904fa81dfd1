"""SQL expressions over the legacy columns."""

from __future__ import annotations

from typing import Any

from django.db.models import CharField, Func


class AddressDomain(Func):
    """The domain part of an address column: what follows its last ``@`` (the whole value
    when it has none), as ``mailadmin.lib.addresses.split_address`` reads it.

    An index cannot serve it; it filters rows that an indexed condition (the ``domain``
    column) has already chosen.
    """

    arity = 1
    output_field = CharField()

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="SUBSTRING_INDEX(%(expressions)s, '@', -1)", **extra
        )

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # rtrim() with every character but "@" strips the part after the last "@"; what is
        # left is the local part and the "@", which replace() then removes.
        sql, params = compiler.compile(self.source_expressions[0])
        template = f"REPLACE({sql}, RTRIM({sql}, REPLACE({sql}, '@', '')), '')"
        return template, (*params, *params, *params)
