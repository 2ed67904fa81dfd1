"""Server-side search, sorting and paging for list pages (SPEC §3, §7.1).

Everything happens in SQL: one COUNT and one page query, whatever the table size.

Pages with large tables search by prefix by default (``?q=text``: ``LIKE 'text%'`` on an
indexed key, so the database reads only the matching rows) and by substring on request
(``?q=text&match=contains``: ``LIKE '%text%'``, which reads every row in scope).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

import idna
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from mailadmin.lib.storable import is_storable
from mailadmin.lib.urlkeys import domain_param

PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_QUERY_LENGTH = 100
PREFIX = "prefix"
CONTAINS = "contains"
MATCH_CHOICES = (PREFIX, CONTAINS)

#: ``search(text, match)`` returns the filter of a query; ``match`` is PREFIX or CONTAINS.
SearchFunction = Callable[[str, str], Q]


@dataclass
class Listing:
    page: Page
    q: str
    sort: str
    per_page: int
    sort_fields: dict[str, str] = field(default_factory=dict)
    per_page_choices: tuple[int, ...] = PER_PAGE_CHOICES
    #: PREFIX or CONTAINS on pages that offer both ways to search, else "".
    match: str = ""

    @property
    def objects(self) -> list[Any]:
        return list(self.page.object_list)

    @property
    def total(self) -> int:
        return self.page.paginator.count


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def address_search_text(text: str) -> str:
    """A search text for address and domain columns: lower case, with the labels of its
    domain part in ASCII (``bücher.example`` -> ``xn--bcher-kva.example``), as they are
    stored. A label that cannot be converted is left as typed."""
    text = text.strip().lower()
    if text.isascii():
        return text
    local, at, domain = text.rpartition("@")
    labels = []
    for label in domain.split("."):
        if not label.isascii():
            with contextlib.suppress(idna.IDNAError):
                label = idna.encode(label, uts46=True).decode("ascii")
        labels.append(label)
    return f"{local}{at}{'.'.join(labels)}"


class KnownCountPaginator(Paginator):
    """A paginator told its count instead of running ``COUNT(*)``."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known_count = count

    @property
    def count(self) -> int:  # type: ignore[override]
        return self._known_count


def make_listing(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    search_fields: list[str] | None = None,
    search: SearchFunction | None = None,
    sort_fields: dict[str, str],
    default_sort: str,
    costly: Any = None,
    total: Callable[[], int] | None = None,
) -> Listing:
    """Apply ``q``, ``sort`` (a key of ``sort_fields``, ``-`` for descending), ``per_page`` and
    ``page`` from the query string. Unknown values fall back to the defaults instead of
    failing.

    ``q`` goes to ``search`` with ``match`` (``prefix`` by default, or ``contains``) when the
    page gives one; otherwise it matches any of ``search_fields`` as a case-insensitive
    substring.

    ``costly`` is a condition (e.g. a subquery) applied after the search: MariaDB evaluates
    the conditions of a scan in their order, so it is then checked on matching rows only.

    ``total`` gives the number of rows when no search applies, where it is known without
    counting them (the usage table); the page itself is still read from the rows.
    """
    q = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    match = ""
    if search is not None:
        match = request.GET.get("match", PREFIX)
        if match not in MATCH_CHOICES:
            match = PREFIX
    if q and not is_storable(q):
        queryset = queryset.none()  # no row can hold it (and MariaDB cannot compare it)
    elif q and search is not None:
        queryset = queryset.filter(search(q, match))
    elif q and search_fields:
        queryset = queryset.filter(
            reduce(or_, (Q(**{f"{f}__icontains": q}) for f in search_fields))
        )
    if costly is not None:
        queryset = queryset.filter(costly)
    sort = request.GET.get("sort", default_sort)
    if sort.lstrip("-") not in sort_fields:
        sort = default_sort
    column = sort_fields[sort.lstrip("-")]
    descending = sort.startswith("-")
    # The primary key breaks ties so that paging is stable.
    pk = queryset.model._meta.pk.name
    queryset = queryset.order_by(f"-{column}" if descending else column, pk)
    per_page = _int(request.GET.get("per_page"), PER_PAGE_CHOICES[0])
    if per_page not in PER_PAGE_CHOICES:
        per_page = PER_PAGE_CHOICES[0]
    if total is not None and not q:
        paginator: Paginator = KnownCountPaginator(queryset, per_page, count=total())
    else:
        paginator = Paginator(queryset, per_page)
    page = paginator.get_page(request.GET.get("page"))
    return Listing(
        page=page, q=q, sort=sort, per_page=per_page, sort_fields=sort_fields, match=match
    )


def list_url(view_name: str, domain: str | None) -> str:
    """The URL of a list page, limited to ``domain`` (a stored name, even an empty one) when
    one is given."""
    url = reverse(view_name)
    return url if domain is None else f"{url}?domain={domain_param(domain)}"
