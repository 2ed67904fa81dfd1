"""The extmail tables as the mail stack expects them: one description, three uses.

* The migrations create a missing table from it (fresh install) and leave an existing one
  alone (adopting an ExtMan database); they add the panel's additive indexes.
* ``manage.py check_schema`` compares a live database with it and names every difference.
* The tests check that the models map exactly these columns.

The column types are those of ExtMan's own ``extmail.sql``; fresh tables are InnoDB/utf8mb4.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.backends.base.base import BaseDatabaseWrapper

ZERO_DATE = "0000-00-00"
ZERO_DATETIME = "0000-00-00 00:00:00"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # MySQL column type as ExtMan declares it, e.g. "varchar(255)", "smallint(1)"
    null: bool = False
    default: str | None = None  # SQL literal, None for no default

    @property
    def base_type(self) -> str:
        return self.type.split("(")[0]

    @property
    def length(self) -> int | None:
        if self.base_type in ("varchar", "char") and "(" in self.type:
            return int(self.type.split("(")[1].rstrip(")"))
        return None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (index name, columns) as ExtMan has
    comment: str = ""

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class AdditiveIndex:
    """An index the panel adds to a legacy table; it never changes data."""

    table: str
    name: str
    columns: tuple[str, ...] = field(default_factory=tuple)


def _varchar(name: str, length: int = 255, default: str | None = "''") -> Column:
    return Column(name, f"varchar({length})", default=default)


def _flags(*names: str) -> tuple[Column, ...]:
    return tuple(Column(name, "smallint(1)", null=True, default="NULL") for name in names)


SERVICE_COLUMNS = (
    "disablesmtpd",
    "disablesmtp",
    "disablewebmail",
    "disablenetdisk",
    "disableimap",
    "disablepop3",
)

TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "domain",
            (
                _varchar("domain"),
                _varchar("description"),
                _varchar("hashdirpath"),
                Column("maxalias", "int(10)", default="'0'"),
                Column("maxusers", "int(10)", default="'0'"),
                _varchar("maxquota", 16, "'0'"),
                _varchar("maxnetdiskquota", 16, "'0'"),
                Column("transport", "varchar(255)", null=True, default="NULL"),
                Column("can_signup", "tinyint(1)", default="'0'"),
                Column("default_quota", "varchar(255)", null=True, default="NULL"),
                Column("default_netdiskquota", "varchar(255)", null=True, default="NULL"),
                Column("default_expire", "varchar(12)", null=True, default="NULL"),
                *_flags(*SERVICE_COLUMNS),
                Column("createdate", "datetime", default=f"'{ZERO_DATETIME}'"),
                Column("expiredate", "date", default=f"'{ZERO_DATE}'"),
                Column("active", "tinyint(1)", default="'1'"),
            ),
            primary_key=("domain",),
            keys=(("domain", ("domain",)),),
            comment="ExtMail - Virtual Domains",
        ),
        Table(
            "mailbox",
            (
                _varchar("username"),
                _varchar("uid"),
                _varchar("password"),
                _varchar("clearpwd", 128),
                _varchar("name"),
                _varchar("mailhost"),
                _varchar("maildir"),
                _varchar("homedir"),
                _varchar("quota", 16, "'0'"),
                _varchar("netdiskquota", 16, "'0'"),
                _varchar("domain"),
                Column("uidnumber", "int(6)", default="'1000'"),
                Column("gidnumber", "int(6)", default="'1000'"),
                Column("createdate", "datetime", default=f"'{ZERO_DATETIME}'"),
                Column("expiredate", "date", default=f"'{ZERO_DATE}'"),
                Column("active", "smallint(1)", default="'1'"),
                *_flags("disablepwdchange", *SERVICE_COLUMNS),
                Column("question", "text"),
                Column("answer", "text"),
            ),
            primary_key=("username",),
            keys=(("username", ("username",)),),
            comment="ExtMail - Virtual Mailboxes",
        ),
        Table(
            "alias",
            (
                _varchar("address"),
                Column("goto", "text"),
                _varchar("domain"),
                Column("createdate", "datetime", default=f"'{ZERO_DATETIME}'"),
                Column("active", "tinyint(1)", default="'1'"),
            ),
            primary_key=("address",),
            keys=(("address", ("address",)),),
            comment="ExtMail - Virtual Aliases",
        ),
        Table(
            "manager",
            (
                _varchar("username"),
                _varchar("password"),
                _varchar("type", 64, "'postmaster'"),
                _varchar("uid"),
                _varchar("name"),
                Column("question", "text"),
                Column("answer", "text"),
                *_flags("disablepwdchange"),
                Column("createdate", "datetime", default=f"'{ZERO_DATETIME}'"),
                Column("expiredate", "date", default=f"'{ZERO_DATE}'"),
                Column("active", "tinyint(1)", default="'1'"),
            ),
            primary_key=("username",),
            keys=(("username", ("username",)),),
            comment="Ext/Webman - Admin Accounts",
        ),
        Table(
            "domain_manager",
            (
                _varchar("username"),
                _varchar("domain"),
                Column("createdate", "datetime", default=f"'{ZERO_DATETIME}'"),
                Column("active", "tinyint(1)", default="'1'"),
            ),
            keys=(("username", ("username",)),),
            comment="Ext/Webman - Domain Admins",
        ),
    )
}

ADDITIVE_INDEXES = (
    AdditiveIndex("mailbox", "mailadmin_mailbox_domain", ("domain",)),
    AdditiveIndex("alias", "mailadmin_alias_domain", ("domain",)),
    AdditiveIndex("domain_manager", "mailadmin_dm_username_domain", ("username", "domain")),
    # Whose directory is it (mailboxes.homes): other mailboxes in or around a home.
    AdditiveIndex("mailbox", "mailadmin_mailbox_homedir", ("homedir",)),
    AdditiveIndex("mailbox", "mailadmin_mailbox_maildir", ("maildir",)),
    # The sort orders of a domain's mailbox list, for keyset paging (mailadmin.lib.listing):
    # with InnoDB the primary key completes each index, so a page is a range read in order.
    AdditiveIndex("mailbox", "mailadmin_mailbox_domain_name", ("domain", "name")),
    AdditiveIndex("mailbox", "mailadmin_mailbox_domain_expiry", ("domain", "expiredate")),
    AdditiveIndex("mailbox", "mailadmin_mailbox_domain_active", ("domain", "active")),
    # The expiry page over every domain (expiry.views): the active mailboxes in expiry date
    # order, read as an index range (the expired ones and those expiring soon).
    AdditiveIndex(
        "mailbox", "mailadmin_mailbox_active_expiry", ("active", "expiredate", "username")
    ),
    AdditiveIndex("domain", "mailadmin_domain_active_expiry", ("active", "expiredate", "domain")),
    # The same for a domain admin's domains, each domain's range in date order (InnoDB appends
    # the primary key; on MyISAM the username would not fit the key whole).
    AdditiveIndex(
        "mailbox", "mailadmin_mailbox_domain_active_expiry", ("domain", "active", "expiredate")
    ),
    # The domain list's search by prefix of the name or the description: a union of two
    # ranges instead of a walk of every domain (10,000 domains: 5 ms, then 1 ms).
    AdditiveIndex("domain", "mailadmin_domain_description", ("description",)),
)

# MyISAM limits an index to 1000 bytes; InnoDB (DYNAMIC rows) to 3072.
_MAX_KEY_BYTES = {"myisam": 1000, "aria": 1000, "innodb": 3072}
_CHARSET_BYTES = {"utf8mb4": 4, "utf8": 3, "utf8mb3": 3, "latin1": 1, "ascii": 1}


# SQLite: Django's driver converts columns declared "date"/"datetime" itself and fails on the
# zero date, so those are declared under names it does not convert (text affinity).
_SQLITE_TYPES = {
    "int": "integer",
    "smallint": "integer",
    "tinyint": "integer",
    "date": "date_text",
    "datetime": "datetime_text",
}


def create_table_sql(table: Table, vendor: str) -> str:
    """The CREATE TABLE statement for a fresh install on ``vendor`` (mysql or sqlite)."""
    q = '"' if vendor == "sqlite" else "`"
    lines = []
    for column in table.columns:
        col_type = column.type
        if vendor == "sqlite":
            col_type = _SQLITE_TYPES.get(column.base_type, col_type)
        line = f"{q}{column.name}{q} {col_type} {'NULL' if column.null else 'NOT NULL'}"
        if column.default is not None:
            line += f" DEFAULT {column.default}"
        lines.append(line)
    if table.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(q + c + q for c in table.primary_key)})")
    if vendor == "mysql":
        lines.extend(
            f"KEY {q}{name}{q} ({', '.join(q + c + q for c in columns)})"
            for name, columns in table.keys
            if columns != table.primary_key
        )
    body = ",\n  ".join(lines)
    sql = f"CREATE TABLE {q}{table.name}{q} (\n  {body}\n)"
    if vendor == "mysql":
        sql += (
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci"
            f" COMMENT='{table.comment}'"
        )
    return sql


def create_table_extra_sql(table: Table, vendor: str) -> list[str]:
    """Statements that follow CREATE TABLE (SQLite declares secondary keys separately)."""
    if vendor != "sqlite":
        return []
    return [
        f'CREATE INDEX "{table.name}_{name}" ON "{table.name}" ({", ".join(columns)})'
        for name, columns in table.keys
        if columns != table.primary_key
    ]


def table_storage(connection: BaseDatabaseWrapper, table: str) -> tuple[str, str]:
    """(engine, charset) of a MySQL table, lower-case."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t.ENGINE, c.CHARACTER_SET_NAME FROM information_schema.TABLES t "
            "JOIN information_schema.COLLATION_CHARACTER_SET_APPLICABILITY c "
            "ON c.COLLATION_NAME = t.TABLE_COLLATION "
            "WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = %s",
            [table],
        )
        row = cursor.fetchone()
    if row is None:
        raise LookupError(table)
    return (row[0] or "").lower(), (row[1] or "").lower()


def _key_limit(connection: BaseDatabaseWrapper, table: str) -> int:
    """Bytes one index may span: MyISAM/Aria 1000; InnoDB 3072, or 767 with the old
    COMPACT/REDUNDANT row formats."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ENGINE, ROW_FORMAT FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [table],
        )
        engine, row_format = (value.lower() if value else "" for value in cursor.fetchone())
    if engine == "innodb" and row_format in ("compact", "redundant"):
        return 767
    return _MAX_KEY_BYTES.get(engine, 767)


def _column_char_bytes(connection: BaseDatabaseWrapper, table: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            [table],
        )
        return {name.lower(): _CHARSET_BYTES.get((cs or "").lower(), 4) for name, cs in cursor}


def create_index_sql(connection: BaseDatabaseWrapper, index: AdditiveIndex) -> str:
    """CREATE INDEX for ``index``, with prefix lengths where the engine's key limit needs them
    (the limit and each column's own character set are read from the live table)."""
    table = TABLES[index.table]
    qn = connection.ops.quote_name
    parts = [qn(c) for c in index.columns]
    if connection.vendor == "mysql":
        limit = _key_limit(connection, index.table)
        char_bytes = _column_char_bytes(connection, index.table)
        widths = [(table.column(c).length or 0) * char_bytes.get(c, 4) for c in index.columns]
        if sum(widths) > limit:
            share = limit // len(index.columns)
            parts = [
                f"{qn(c)}({share // char_bytes.get(c, 4)})" if width > share else qn(c)
                for c, width in zip(index.columns, widths, strict=True)
            ]
    return f"CREATE INDEX {qn(index.name)} ON {qn(index.table)} ({', '.join(parts)})"


def index_names(connection: BaseDatabaseWrapper, table: str) -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return set(constraints)


# --- Comparing a live database with the expected schema ------------------------------------

_TYPE_FAMILIES = {
    "string": {"varchar", "char", "text", "tinytext", "mediumtext", "longtext"},
    "integer": {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"},
    "date": {"date", "date_text"},
    "datetime": {"datetime", "timestamp", "datetime_text"},
}


def _family(base_type: str) -> str:
    return next((name for name, types in _TYPE_FAMILIES.items() if base_type in types), base_type)


@dataclass(frozen=True)
class LiveColumn:
    name: str
    base_type: str
    length: int | None
    null: bool


@dataclass(frozen=True)
class Difference:
    level: str  # "error": the panel or the mail stack cannot work; "warning"; "info"
    table: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper():7} {self.table}: {self.message}"


def live_columns(connection: BaseDatabaseWrapper, table: str) -> dict[str, LiveColumn]:
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute(
                "SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, IS_NULLABLE "
                "FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
                [table],
            )
            rows = [(n, t.lower(), length, nullable == "YES") for n, t, length, nullable in cursor]
        else:
            cursor.execute(f"PRAGMA table_info({connection.ops.quote_name(table)})")
            rows = []
            for _cid, name, col_type, notnull, _default, _pk in cursor.fetchall():
                base = col_type.lower().split("(")[0].strip()
                length = int(col_type.split("(")[1].rstrip(")")) if "(" in col_type else None
                rows.append((name, base, length, not notnull))
    return {
        name.lower(): LiveColumn(name.lower(), base, length, null)
        for name, base, length, null in rows
    }


def compare_schema(connection: BaseDatabaseWrapper) -> list[Difference]:
    """Every difference between the live extmail tables and the expected ones."""
    differences: list[Difference] = []
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    for table in TABLES.values():
        if table.name not in existing:
            differences.append(Difference("info", table.name, "missing; `migrate` will create it"))
            continue
        differences.extend(_compare_table(connection, table))
    for index in ADDITIVE_INDEXES:
        if index.table in existing and index.name not in index_names(connection, index.table):
            differences.append(
                Difference(
                    "info",
                    index.table,
                    f"index {index.name} on ({', '.join(index.columns)}) is missing;"
                    " `migrate` will add it (no data changes)",
                )
            )
    return differences


def _compare_table(connection: BaseDatabaseWrapper, table: Table) -> list[Difference]:
    differences = []
    live = live_columns(connection, table.name)
    for column in table.columns:
        found = live.get(column.name)
        if found is None:
            differences.append(Difference("error", table.name, f"column {column.name} is missing"))
            continue
        if _family(found.base_type) != _family(column.base_type):
            differences.append(
                Difference(
                    "error",
                    table.name,
                    f"column {column.name} is {found.base_type}, expected {column.type}",
                )
            )
        elif column.length and found.length and found.length < column.length:
            differences.append(
                Difference(
                    "warning",
                    table.name,
                    f"column {column.name} holds {found.length} characters, expected"
                    f" {column.length}; longer values will be refused",
                )
            )
        if column.null and not found.null:
            differences.append(
                Difference(
                    "warning",
                    table.name,
                    f"column {column.name} is NOT NULL, expected NULL; the panel writes 0 there",
                )
            )
    for name in sorted(set(live) - {c.name for c in table.columns}):
        differences.append(
            Difference("info", table.name, f"extra column {name} (kept, not used by the panel)")
        )
    if connection.vendor == "mysql":
        engine, charset = table_storage(connection, table.name)
        if engine != "innodb":
            differences.append(
                Difference(
                    "info",
                    table.name,
                    f"engine {engine}: works, but without transactions or row locks on this"
                    " table; converting it to InnoDB is recommended (docs/adopting.md)",
                )
            )
        if charset not in ("utf8mb4",):
            differences.append(
                Difference(
                    "info",
                    table.name,
                    f"character set {charset}: names outside it cannot be stored",
                )
            )
    return differences
