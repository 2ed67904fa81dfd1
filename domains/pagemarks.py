"""Page marks of the big lists (``domains.models.PageMark``): a page number deeper than the
list's ``OFFSET`` range (``mailadmin.lib.listing.OFFSET_ROWS``) is read as a seek from the
nearest mark before it and an ``OFFSET`` of fewer than :data:`STEP` keys, so page 20,000 of
a domain of 1,000,000 mailboxes costs what page 41 costs.

Marks are kept for the mailbox list of one domain in each sort order that an index serves
(address, name, expiry, state, quota) and for the alias list of one domain (address order),
for domains with more than :data:`MARKS_FROM` rows, and refreshed by the periodic recompute
(``manage.py recompute_usage``, task ``domains.recompute_usage``). They are positions, not
row numbers: a page read from a mark is always 25 consecutive rows of the list; between two
refreshes its number is off by as many rows as were added or removed before it. Next,
previous, first and last links never use marks and are always exact. Without marks (a new or
renamed domain, a search) a deep page number reads the keys it skips instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet

from aliases.models import Alias
from domains.models import DomainUsage, PageMark
from mailadmin.lib.listing import MarkReader, decode_position, encode_position
from mailboxes.models import Mailbox, MailboxSortKey

#: Rows between two marks.
STEP = 1000
#: Lists of more rows than this get marks (below, a deep page skips at most this many keys).
MARKS_FROM = 5000

MAILBOXES = "mailboxes"
ALIASES = "aliases"


def _mailbox_keys(domain: str, column: str) -> QuerySet:
    return (
        Mailbox.objects.filter(domain_id=domain)
        .order_by(column, "username")
        .values_list(column, "username")
    )


def _quota_keys(domain: str) -> QuerySet:
    return (
        MailboxSortKey.objects.filter(domain=domain)
        .order_by("quota_bytes", "address")
        .values_list("quota_bytes", "address")
    )


def _alias_keys(domain: str) -> QuerySet:
    # The alias list leaves out the forwarding aliases of mailboxes (aliases.views).
    plain = Alias.objects.filter(domain_id=domain).exclude(
        Exists(Mailbox.objects.filter(pk=OuterRef("address")))
    )
    return plain.order_by("address").values_list("address")


#: The orders marked, by list: sort key of the list -> its keys in ascending order (sort
#: value, primary key; the primary key alone when the list sorts by it), as the list orders
#: them. The descending order's marks come from the same read.
ORDERS: dict[str, dict[str, Callable[[str], QuerySet]]] = {
    MAILBOXES: {
        "address": lambda d: _mailbox_keys(d, "username"),
        "name": lambda d: _mailbox_keys(d, "name"),
        "expiry": lambda d: _mailbox_keys(d, "expiredate"),
        "active": lambda d: _mailbox_keys(d, "active"),
        "quota": _quota_keys,
    },
    ALIASES: {"address": _alias_keys},
}
_SIZE = {MAILBOXES: "mailboxes", ALIASES: "aliases"}


def _marks_of(keys: QuerySet) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """The marks of one order, ascending and descending, from one read of its keys."""
    total = keys.count()
    ascending: list[tuple[int, str]] = []
    descending: list[tuple[int, str]] = []
    for i, row in enumerate(keys.iterator(chunk_size=5000)):
        value, key = row[0], row[-1]  # an order on the primary key alone has one column
        if i % STEP == STEP - 1:
            ascending.append((i, encode_position(value, key)))
        backwards = total - 1 - i
        if backwards >= 0 and backwards % STEP == STEP - 1:
            descending.append((backwards, encode_position(value, key)))
    return ascending, descending


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
