"""Server-side search, sorting and paging for list pages (SPEC §3, §7.1).

Everything happens in SQL: one COUNT and one page query, whatever the table size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest

PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_QUERY_LENGTH = 100


@dataclass
class Listing:
    page: Page
    q: str
    sort: str
    per_page: int
    sort_fields: dict[str, str] = field(default_factory=dict)
    per_page_choices: tuple[int, ...] = PER_PAGE_CHOICES

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


def make_listing(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    search_fields: list[str],
    sort_fields: dict[str, str],
    default_sort: str,
) -> Listing:
    """Apply ``q`` (case-insensitive, any of ``search_fields``), ``sort`` (a key of
    ``sort_fields``, ``-`` for descending), ``per_page`` and ``page`` from the query string.
    Unknown values fall back to the defaults instead of failing."""
    q = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if q and search_fields:
        queryset = queryset.filter(
            reduce(or_, (Q(**{f"{f}__icontains": q}) for f in search_fields))
        )
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
    paginator = Paginator(queryset, per_page)
    page = paginator.get_page(request.GET.get("page"))
    return Listing(page=page, q=q, sort=sort, per_page=per_page, sort_fields=sort_fields)
