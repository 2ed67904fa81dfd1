"""Page marks of the big lists (``domains.models.PageMark``): a page number deeper than the
list's ``OFFSET`` range (``mailadmin.lib.listing.OFFSET_ROWS``) is read as a seek from the
nearest mark before it and an ``OFFSET`` of fewer than :data:`STEP` keys, so page 20,000 of
a domain of 1,000,000 mailboxes costs what page 41 costs.

Marks are kept for the mailbox list of one domain in each sort order that an index serves
(address, name, expiry, state, quota, measured use) and for the alias list of one domain
(address order), for domains with more than :data:`MARKS_FROM` rows, and refreshed by the
periodic recompute
(``manage.py recompute_usage``, task ``domains.recompute_usage``). They are positions, not
row numbers: a page read from a mark is always 25 consecutive rows of the list; between two
refreshes its number is off by as many rows as were added or removed before it. Next,
previous, first and last links never use marks and are always exact. Without marks (a new or
renamed domain, a search) a deep page number reads the keys it skips instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from aliases.models import Alias
from domains.models import DomainUsage, PageMark
from mailadmin.lib.listing import MarkReader, Order, decode_position, encode_position, read_keys
from mailboxes.models import Mailbox, MailboxDiskUsage, MailboxSortKey
from mailboxes.sortkeys import DOMAIN_SORT_INDEXES

#: Rows between two marks.
STEP = 1000
#: Lists of more rows than this get marks (below, a deep page skips at most this many keys).
MARKS_FROM = 5000

MAILBOXES = "mailboxes"
ALIASES = "aliases"


#: Keys read per query while marking (the marks are written from a walk of the keys, a few
#: thousand at a time, so that the memory of the recompute stays flat).
CHUNK = 5000


@dataclass(frozen=True)
class _MarkedOrder:
    """One ascending order of a list as the list reads it: its rows in one domain, the sort
    column, the primary key and the index that serves the order."""

    rows: QuerySet
    column: str
    pk: str
    index: str


def _mailbox_order(sort: str) -> Callable[[str], _MarkedOrder]:
    def of(domain: str) -> _MarkedOrder:
        rows = Mailbox.objects.filter(domain_id=domain)
        return _MarkedOrder(rows, MAILBOX_COLUMNS[sort], "username", DOMAIN_SORT_INDEXES[sort])

    return of


def _quota_order(domain: str) -> _MarkedOrder:
    rows = MailboxSortKey.objects.filter(domain=domain)
    return _MarkedOrder(rows, "quota_bytes", "address", "mailadmin_sort_key_quota")


def _used_order(domain: str) -> _MarkedOrder:
    # The measured mailboxes only, as the order by use holds (mailboxes.sortkeys).
    rows = MailboxDiskUsage.objects.filter(domain=domain, used_bytes__isnull=False)
    return _MarkedOrder(rows, "used_bytes", "mailbox_id", "mailadmin_disk_usage_used")


def _alias_order(domain: str) -> _MarkedOrder:
    # The alias list leaves out the forwarding aliases of mailboxes (aliases.views).
    plain = Alias.objects.filter(domain_id=domain).exclude(
        Exists(Mailbox.objects.filter(pk=OuterRef("address")))
    )
    return _MarkedOrder(plain, "address", "address", "mailadmin_alias_domain")


#: The sort keys of the mailbox list whose order is a column of ``mailbox``.
MAILBOX_COLUMNS = {
    "address": "username",
    "name": "name",
    "expiry": "expiredate",
    "active": "active",
}
#: The orders marked, by list and sort key of the list (ascending; the descending order's
#: marks come from the same walk).
ORDERS: dict[str, dict[str, Callable[[str], _MarkedOrder]]] = {
    MAILBOXES: {
        **{sort: _mailbox_order(sort) for sort in MAILBOX_COLUMNS},
        "quota": _quota_order,
        "used": _used_order,
    },
    ALIASES: {"address": _alias_order},
}
_SIZE = {MAILBOXES: "mailboxes", ALIASES: "aliases"}


def _marks_of(marked: _MarkedOrder) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The marks of one order, ascending and descending, from one walk of its keys (by seeks
    of :data:`CHUNK` keys on the order's index)."""
    order = Order(marked.column, marked.pk, descending=False)
    total = marked.rows.count()
    ascending: list[tuple[int, str]] = []
    descending: list[tuple[int, str]] = []
    position = None
    i = 0
    while True:
        keys = read_keys(marked.rows, order, position, CHUNK, marked.index)
        for row in keys:
            value, key = row[0], row[-1]  # an order on the primary key alone has one column
            if i % STEP == STEP - 1:
                ascending.append((i, encode_position(value, key)))
            backwards = total - 1 - i
            if backwards >= 0 and backwards % STEP == STEP - 1:
                descending.append((backwards, encode_position(value, key)))
            i += 1
        if len(keys) < CHUNK:
            return ascending, descending
        position = (keys[-1][0], keys[-1][-1])


def refresh_domain(listing: str, domain: str) -> int:
    """Mark the list ``listing`` of ``domain`` again in every marked order; returns the number
    of marks written."""
    marks = []
    for sort, keys in ORDERS[listing].items():
        ascending, descending = _marks_of(keys(domain))
        marks += [
            PageMark(listing=listing, domain=domain, sort=sort, row=r, position=p)
            for r, p in ascending
        ]
        marks += [
            PageMark(listing=listing, domain=domain, sort=f"-{sort}", row=r, position=p)
            for r, p in descending
        ]
    with transaction.atomic():
        PageMark.objects.filter(listing=listing, domain=domain).delete()
        PageMark.objects.bulk_create(marks, batch_size=1000)
    return len(marks)


def refresh_all() -> int:
    """Mark the lists of every domain with more than :data:`MARKS_FROM` rows (by its usage
    row) and drop the marks of the others; returns the number of marks written."""
    written = 0
    for listing, size in _SIZE.items():
        big = set(
            DomainUsage.objects.filter(**{f"{size}__gt": MARKS_FROM}).values_list(
                "domain_id", flat=True
            )
        )
        PageMark.objects.filter(listing=listing).exclude(domain__in=big).delete()
        for domain in sorted(big):
            written += refresh_domain(listing, domain)
    return written


def forget_domains(names: Iterable[str]) -> None:
    """Drop the marks of domains renamed or deleted (their lists start without marks)."""
    PageMark.objects.filter(domain__in=list(names)).delete()


def reader(listing: str, domain: str) -> MarkReader:
    """The marks of the list ``listing`` of ``domain``, for ``make_listing(marks=...)``: the
    nearest mark at most :data:`STEP` rows before a page (one query on the marks' key)."""

    def nearest(sort: str, offset: int) -> tuple[tuple[Any, Any], int] | None:
        found = (
            PageMark.objects.filter(
                listing=listing,
                domain=domain,
                sort=sort,
                row__lt=offset,
                row__gte=offset - 1 - STEP,
            )
            .order_by("-row")
            .values_list("row", "position")
            .first()
        )
        if found is None:
            return None
        row, token = found
        position = decode_position(token)
        return None if position is None else (position, offset - 1 - row)

    return nearest
