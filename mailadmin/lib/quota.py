"""Quota strings of the extmail schema.

Stored forms: ``104857600S`` (Maildir++ size quota, quota type ``courier``, the EMOS
default), ``104857600`` (quota type ``vda``), either optionally followed by a message-count
part ``,1000C``. Existing databases mix them; every form is read, and new values are written
in the configured form, keeping a count part that was already there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings

_QUOTA_RE = re.compile(r"^\s*(?P<bytes>\d+)[Ss]?\s*(?:,\s*(?P<count>\d+)[Cc])?\s*$")


@dataclass(frozen=True)
class Quota:
    """A parsed quota: a size in bytes (0 = unlimited) and an optional message count."""

    bytes: int
    count: int | None = None

    @property
    def unlimited(self) -> bool:
        return self.bytes == 0

    def megabytes(self) -> int:
        """The size in MB of the configured multiplier, rounded down."""
        return self.bytes // settings.MAILADMIN_QUOTA_MULTIPLIER


def parse_quota(value: str | int | None) -> Quota:
    """Read any stored quota string; an empty value is 0 (unlimited).

    Raises ValueError for a string that is not a quota at all.
    """
    if value is None:
        return Quota(0)
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"negative quota: {value}")
        return Quota(value)
    if value.strip() == "":
        return Quota(0)
    match = _QUOTA_RE.match(value)
    if not match:
        raise ValueError(f"not a quota string: {value!r}")
    count = match.group("count")
    return Quota(int(match.group("bytes")), int(count) if count is not None else None)


def format_quota(quota: Quota, quota_type: str | None = None) -> str:
    """The stored form of ``quota`` in the configured (or given) quota type."""
    quota_type = quota_type or settings.MAILADMIN_QUOTA_TYPE
    text = f"{quota.bytes}S" if quota_type == "courier" else str(quota.bytes)
    if quota.count is not None:
        text += f",{quota.count}C"
    return text


def quota_bytes(value: str | None) -> int:
    """The size part of a stored quota string in bytes; unreadable legacy values count as 0."""
    try:
        return parse_quota(value).bytes
    except ValueError:
        return 0


def mb_to_bytes(megabytes: int) -> int:
    return megabytes * settings.MAILADMIN_QUOTA_MULTIPLIER


def quota_from_mb(megabytes: int, previous: str | None = None) -> str:
    """A stored quota string for ``megabytes`` MB, keeping the count part of ``previous``.

    When ``previous`` already stands for the same size it is returned unchanged, so that an
    edit that does not touch the quota keeps the legacy form byte for byte. A new mailbox
    takes :func:`quota_for_new` instead: its template's form is not to be copied.
    """
    if megabytes < 0:
        raise ValueError("a quota cannot be negative")
    try:
        old = parse_quota(previous) if previous is not None else None
    except ValueError:
        old = None
    new_bytes = mb_to_bytes(megabytes)
    if old is not None and old.bytes == new_bytes and previous:
        return previous
    return format_quota(Quota(new_bytes, old.count if old else None))


def quota_for_new(megabytes: int, template: str | None = None) -> str:
    """The stored quota string of a new mailbox for ``megabytes`` MB, made from the domain's
    ``template`` (``default_quota``): always in the configured form, keeping the template's
    count part. ExtMan stores templates without the ``S`` (``5242880``); copied as they are,
    a courier mailbox would get a quota that maildrop cannot parse, and no limit at all.
    """
    if megabytes < 0:
        raise ValueError("a quota cannot be negative")
    try:
        count = parse_quota(template).count
    except ValueError:
        count = None
    return format_quota(Quota(mb_to_bytes(megabytes), count))


#: Largest sort key a BIGINT column holds (a legacy quota string can be longer).
SORT_KEY_MAX = 2**63 - 1
# The stored forms of _QUOTA_RE, for the database's own regular expressions.
_QUOTA_SQL_PATTERN = r"^\s*[0-9]+[Ss]?\s*(,\s*[0-9]+[Cc])?\s*$"


def quota_sort_key(value: str | None) -> int:
    """The number a quota sorts by: its size in bytes, 0 for an unreadable legacy value."""
    return min(quota_bytes(value), SORT_KEY_MAX)


def quota_sort_key_sql(column: str, vendor: str) -> tuple[str, list[str]]:
    """SQL computing :func:`quota_sort_key` of ``column`` on the database (for filling a sort
    key table from the ``mailbox`` table in one statement), and its parameters. In strict mode
    MariaDB refuses to insert a cast that warns, so only the digits are cast."""
    if vendor == "mysql":
        digits = f"REGEXP_SUBSTR({column}, '[0-9]+')"
        value = (
            f"CASE WHEN CHAR_LENGTH({digits}) > 19 THEN {SORT_KEY_MAX} ELSE"
            f" CAST(LEAST(CAST({digits} AS DECIMAL(20, 0)), {SORT_KEY_MAX}) AS SIGNED) END"
        )
    else:
        value = f"CAST({column} AS INTEGER)"  # SQLite: the leading integer, capped
    return f"(CASE WHEN {column} REGEXP %s THEN {value} ELSE 0 END)", [_QUOTA_SQL_PATTERN]
