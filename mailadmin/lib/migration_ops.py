"""Migration operations for the legacy extmail tables (see mailadmin.lib.schema)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from mailadmin.lib import schema


class EnsureLegacyTable(migrations.operations.base.Operation):
    """Create an extmail table exactly as ExtMan would, unless it already exists.

    An existing table (an ExtMan database being adopted) is left untouched, whatever its
    engine, charset or data. Reversing never drops it: the table belongs to the mail system.
    """

    reversible = True
    reduces_to_sql = False

    def __init__(self, table: str) -> None:
        self.table = table

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.table], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            existing = connection.introspection.table_names(cursor)
        if self.table in existing:
            return
        table = schema.TABLES[self.table]
        schema_editor.execute(schema.create_table_sql(table, connection.vendor))
        for statement in schema.create_table_extra_sql(table, connection.vendor):
            schema_editor.execute(statement)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        pass

    def describe(self) -> str:
        return f"Create the extmail table {self.table} if it does not exist"


class AddAdditiveIndex(migrations.operations.base.Operation):
    """Add one of the panel's indexes to a legacy table unless an index of that name exists."""

    reversible = True
    reduces_to_sql = False

    def __init__(self, name: str) -> None:
        self.name = name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.name], {})

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def _index(self) -> schema.AdditiveIndex:
        return next(i for i in schema.ADDITIVE_INDEXES if i.name == self.name)

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        index = self._index()
        connection = schema_editor.connection
        if index.name in schema.index_names(connection, index.table):
            return
        schema_editor.execute(schema.create_index_sql(connection, index))

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        index = self._index()
        connection = schema_editor.connection
        if index.name not in schema.index_names(connection, index.table):
            return
        qn = connection.ops.quote_name
        if connection.vendor == "mysql":
            schema_editor.execute(f"DROP INDEX {qn(index.name)} ON {qn(index.table)}")
        else:
            schema_editor.execute(f"DROP INDEX {qn(index.name)}")

    def describe(self) -> str:
        return f"Add the index {self.name} if it does not exist"
