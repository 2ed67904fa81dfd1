"""What an export holds: the rows of domains, mailboxes and aliases a manager may see, read
in keyset chunks so that 100,000 rows never sit in memory at once.

The web download (``exports.views``) and the command line (``manage.py mailbox list --csv``)
read the same rows through :func:`export_rows`; :mod:`exports.formats` writes them.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery

from aliases.models import Alias
from domains.models import Domain
from domains.selectors import domain_search, list_scope
from mailadmin.lib.flags import SERVICE_NAMES
from mailadmin.lib.listing import MATCH_CHOICES, MAX_QUERY_LENGTH, PREFIX
from mailadmin.lib.quota import quota_bytes
from mailadmin.lib.storable import is_storable
from mailboxes.models import Mailbox

#: Rows per query: large enough that the round trips do not matter, small enough to stay flat.
CHUNK_SIZE = 2_000
ENABLE_COLUMNS = tuple(f"enable_{service}" for service in SERVICE_NAMES)


def _mb(value: str | None) -> int:
    return _megabytes(value, settings.MAILADMIN_QUOTA_MULTIPLIER)


@functools.lru_cache(maxsize=4096)
def _megabytes(value: str | None, multiplier: int) -> int:
    # Quota strings repeat (a site has a handful of quota sizes): parse each once.
    return quota_bytes(value) // multiplier


def _date(value: datetime.date | None) -> str:
    return value.isoformat() if value is not None else ""


def _services(row: dict[str, Any]) -> dict[str, bool]:
    return {f"enable_{s}": not row[f"disable{s}"] for s in SERVICE_NAMES}


def _domain_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "domain": row["domain"],
        "description": row["description"],
        "active": bool(row["active"]),
        "maxusers": row["maxusers"],
        "maxalias": row["maxalias"],
        "maxquota": _mb(row["maxquota"]),
        "maxnetdiskquota": _mb(row["maxnetdiskquota"]),
        "transport": row["transport"] or "",
        "can_signup": bool(row["can_signup"]),
        "expiredate": _date(row["expiredate"]),
        "default_quota": _mb(row["default_quota"]),
        "default_netdiskquota": _mb(row["default_netdiskquota"]),
        "default_expire": row["default_expire"] or "",
        **_services(row),
        "hashdirpath": row["hashdirpath"],
        "createdate": _date(row["createdate"]),
    }


def _mailbox_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "username": row["username"],
        "domain": row["domain_id"],
        "name": row["name"],
        "active": bool(row["active"]),
        "quota": _mb(row["quota"]),
        "netdiskquota": _mb(row["netdiskquota"]),
        "expiredate": _date(row["expiredate"]),
        **_services(row),
        "disablepwdchange": bool(row["disablepwdchange"]),
        **_forwarding(row["username"], row["forwarding"]),
        "mailhost": row["mailhost"],
        "uidnumber": row["uidnumber"],
        "gidnumber": row["gidnumber"],
        "homedir": row["homedir"],
        "maildir": row["maildir"],
        "createdate": _date(row["createdate"]),
    }


def _alias_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": row["address"],
        "domain": row["domain_id"],
        "goto": row["goto"],
        "active": bool(row["active"]),
        "createdate": _date(row["createdate"]),
    }


def _forwarding(address: str, goto: str | None) -> dict[str, Any]:
    """A mailbox's forwarding: the alias row with its own address (read in the same query)."""
    if not goto:
        return {"forward_to": "", "forward_keep_copy": False}
    targets = [t.strip() for t in goto.replace("\n", ",").split(",") if t.strip()]
    return {
        "forward_to": ",".join(t for t in targets if t != address),
        "forward_keep_copy": address in targets,
    }


@dataclass(frozen=True)
class Table:
    """One exportable table: its key, the columns read, how a row is written."""

    name: str
    model: type
    key: str
    columns: tuple[str, ...]
    read: tuple[str, ...]
    convert: Callable[[dict[str, Any]], dict[str, Any]]
    search: Callable[[str, str], Q]
    #: Values read along with the columns (``name: expression``).
    annotations: Callable[[], dict[str, Any]] | None = None


def _mailbox_search(text: str, match: str) -> Q:
    from mailboxes.views import mailbox_search  # the list page's own search

    return mailbox_search(text, match)


def _alias_search(text: str, match: str) -> Q:
    from aliases.views import alias_search  # the list page's own search

    return alias_search(text, match)


_DISABLE = tuple(f"disable{s}" for s in SERVICE_NAMES)

DOMAIN_COLUMNS = (
    "domain",
    "description",
    "active",
    "maxusers",
    "maxalias",
    "maxquota",
    "maxnetdiskquota",
    "transport",
    "can_signup",
    "expiredate",
    "default_quota",
    "default_netdiskquota",
    "default_expire",
    *ENABLE_COLUMNS,
    "hashdirpath",
    "createdate",
)
MAILBOX_COLUMNS = (
    "username",
    "domain",
    "name",
    "active",
    "quota",
    "netdiskquota",
    "expiredate",
    *ENABLE_COLUMNS,
    "disablepwdchange",
    "forward_to",
    "forward_keep_copy",
    "mailhost",
    "uidnumber",
    "gidnumber",
    "homedir",
    "maildir",
    "createdate",
)
ALIAS_COLUMNS = ("address", "domain", "goto", "active", "createdate")

TABLES: dict[str, Table] = {
    "domains": Table(
        name="domains",
        model=Domain,
        key="domain",
        columns=DOMAIN_COLUMNS,
        read=(
            "domain",
            "description",
            "hashdirpath",
            "maxalias",
            "maxusers",
            "maxquota",
            "maxnetdiskquota",
            "transport",
            "can_signup",
            "default_quota",
            "default_netdiskquota",
            "default_expire",
            *_DISABLE,
            "createdate",
            "expiredate",
            "active",
        ),
        convert=_domain_row,
        search=domain_search,
    ),
    "mailboxes": Table(
        name="mailboxes",
        model=Mailbox,
        key="username",
        columns=MAILBOX_COLUMNS,
        read=(
            "username",
            "domain_id",
            "name",
            "active",
            "quota",
            "netdiskquota",
            "expiredate",
            *_DISABLE,
            "disablepwdchange",
            "mailhost",
            "uidnumber",
            "gidnumber",
            "homedir",
            "maildir",
            "createdate",
            "forwarding",
        ),
        convert=_mailbox_row,
        search=_mailbox_search,
        annotations=lambda: {
            "forwarding": Subquery(Alias.objects.filter(pk=OuterRef("username")).values("goto"))
        },
    ),
    "aliases": Table(
        name="aliases",
        model=Alias,
        key="address",
        columns=ALIAS_COLUMNS,
        read=("address", "domain_id", "goto", "active", "createdate"),
        convert=_alias_row,
        search=_alias_search,
    ),
}


def scoped_queryset(
    table: Table, actor: Any, *, domain: Domain | None = None, q: str = "", match: str = PREFIX
) -> QuerySet:
    """The rows of ``table`` the list page shows ``actor`` for ``domain``, ``q`` and ``match``:
    the same scope and search (aliases without the forwarding of mailboxes, which belongs to
    the mailbox's row)."""
    model = table.model
    if table.name == "domains":
        queryset = Domain.objects.visible_to(actor)
        if domain is not None:
            queryset = queryset.filter(pk=domain.pk)
    else:
        queryset = model.objects.visible_to(actor)
        names = list_scope(actor, domain)
        if names is not None:  # as the list pages: a literal list of domain names
            queryset = model.objects.filter(domain_id__in=names)
            if not getattr(actor, "is_superadmin", False):
                queryset = queryset.address_in(names)
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if match not in MATCH_CHOICES:
        match = PREFIX
    if q and not is_storable(q):
        queryset = queryset.none()
    elif q:
        queryset = queryset.filter(table.search(q, match))
    if table.name == "aliases":
        from aliases.views import NOT_FORWARDING

        queryset = queryset.filter(NOT_FORWARDING)
    return queryset


def export_rows(
    table: Table, queryset: QuerySet, *, chunk_size: int = CHUNK_SIZE
) -> Iterator[dict[str, Any]]:
    """Every row of ``queryset`` in key order, as export rows, read ``chunk_size`` at a time
    by key (``WHERE key > last ORDER BY key LIMIT n``): each query is as fast as the first,
    and only one chunk is held at a time."""
    if table.annotations is not None:
        queryset = queryset.annotate(**table.annotations())
    base = queryset.order_by(table.key).values(*table.read)
    last: str | None = None
    while True:
        chunk = base if last is None else base.filter(**{f"{table.key}__gt": last})
        rows = [table.convert(row) for row in chunk[:chunk_size]]
        if not rows:
            return
        yield from rows
        if len(rows) < chunk_size:
            return
        last = rows[-1][table.columns[0]]
