"""Server-side search, sorting and paging for list pages (SPEC §3, §7.1).

Everything happens in SQL, and no request costs more because the list is long or the page deep:

- **Keyset ("seek") paging.** The rows are ordered by the sort column and then the primary key
  (both in the chosen direction), and a page is read as "the next ``per_page`` rows after the
  last row of the page before" (``?after=<position>``), "the rows before the first row of the
  page after" (``?before=<position>``) or "the last rows" (``?last=1``, the order reversed). A
  position is the (sort value, primary key) pair of a row, in a URL-safe token. Any column can
  be the sort key, an annotated or joined one too (e.g. the usage figures of the domain list):
  the seek is a ``WHERE`` on the same expression as the ``ORDER BY``. NULL (and the zero date
  of the legacy date columns, which reads as None) sorts as the smallest value, as MariaDB and
  SQLite both do.
- **Side tables.** An order whose key the list's own table cannot index (the legacy quota
  string) reads the keys of its page from a panel table that holds the key with an index
  (:class:`SideKeys`), each checked against the list's own query, then the rows.
- **Page numbers** (``?page=N``, the "go to page" box and old links) are read with ``OFFSET``
  up to :data:`OFFSET_ROWS` rows; deeper, from the nearest page mark before the page (a
  position every 1,000 rows that the list keeps for a big list, ``marks``) and an ``OFFSET``
  of less than 1,000 keys after it; without marks, the position of the page's first row is
  found by reading only the sort key and primary key of the rows skipped (one index-only
  query). Either way the page itself is a seek. Next, previous, first and last never skip
  rows.
- **Totals are never counted over a big table.** A page whose number of rows is known without
  counting them (the usage rows of ``mailadmin_domain_usage``) passes ``total``; otherwise, and
  with a search, at most :data:`COUNT_LIMIT` + 1 rows are counted and the page says "more than
  1,000".

Pages with large tables search by prefix by default (``?q=text``: ``LIKE 'text%'`` on an
indexed key, and a word index for display names), and by substring on request
(``?q=text&match=contains``: ``LIKE '%text%'``, which reads every row in scope).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_
from typing import Any

import idna
from django.core.exceptions import FieldDoesNotExist, FieldError, ValidationError
from django.db import DatabaseError, connections
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse

from mailadmin.lib.storable import is_storable
from mailadmin.lib.urlkeys import domain_param

PER_PAGE_CHOICES = (25, 50, 100, 200)
MAX_QUERY_LENGTH = 100
PREFIX = "prefix"
CONTAINS = "contains"
MATCH_CHOICES = (PREFIX, CONTAINS)
#: Rows counted at most for a total that is not known otherwise ("more than 1,000").
COUNT_LIMIT = 1000
#: Page numbers whose first row is at most this far from the start are read with OFFSET.
OFFSET_ROWS = 1000
#: Highest page number taken from a URL.
MAX_PAGE = 10_000_000
#: Longest position token accepted from a URL.
MAX_TOKEN_LENGTH = 2000

#: ``search(text, match)`` returns the filter of a query; ``match`` is PREFIX or CONTAINS.
SearchFunction = Callable[[str, str], Q]
#: ``marks(sort, offset)``: the position of a row before the row at ``offset`` of the list in
#: the order ``sort`` and how many rows lie between them (about a mark's step at most), or
#: None when the list keeps no mark there.
MarkReader = Callable[[str, int], "tuple[tuple[Any, Any], int] | None"]


class _Paginator:
    """What older templates and tests read from ``listing.page.paginator``."""

    def __init__(self, listing: Listing) -> None:
        self.count = listing.total
        self.num_pages = listing.num_pages


class _Page:
    def __init__(self, listing: Listing) -> None:
        self.object_list = listing.objects
        self.number = listing.number
        self.paginator = _Paginator(listing)


@dataclass
class Listing:
    objects: list[Any]
    q: str
    sort: str
    per_page: int
    sort_fields: dict[str, str] = field(default_factory=dict)
    per_page_choices: tuple[int, ...] = PER_PAGE_CHOICES
    #: PREFIX or CONTAINS on pages that offer both ways to search, else "".
    match: str = ""
    #: Rows in the list; when ``total_capped``, "more than" this many.
    total: int = 0
    total_capped: bool = False
    #: The page's number, when known (not after a jump back from the last page of a list
    #: whose total is capped).
    number: int | None = 1
    has_next: bool = False
    has_previous: bool = False
    #: Positions of the page's last and first rows (for the next and previous links).
    next_token: str = ""
    previous_token: str = ""

    @property
    def page(self) -> _Page:
        return _Page(self)

    @property
    def num_pages(self) -> int | None:
        if self.total_capped:
            return None
        return max(1, -(-self.total // self.per_page))

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def next_number(self) -> int | None:
        return self.number + 1 if self.number is not None else None

    @property
    def previous_number(self) -> int | None:
        return self.number - 1 if self.number is not None and self.number > 1 else None


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


# --- positions -------------------------------------------------------------------------------


def _tag(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"d": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"n": str(value)}
    return value


def _untag(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, text),) = value.items()
        if not isinstance(text, str):
            raise ValueError("bad tagged value")
        if kind == "dt":
            return datetime.datetime.fromisoformat(text)
        if kind == "d":
            return datetime.date.fromisoformat(text)
        if kind == "n":
            return decimal.Decimal(text)
        raise ValueError("unknown tag")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and is_storable(value):
        return value
    raise ValueError("bad value")


def encode_position(value: Any, key: Any) -> str:
    """A URL-safe token for the row at (sort value, primary key)."""
    data = json.dumps([_tag(value), _tag(key)], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(data.encode()).decode("ascii").rstrip("=")


def decode_position(token: str) -> tuple[Any, Any] | None:
    """The (sort value, primary key) of a token; None for anything that is not one."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(data, list) or len(data) != 2:
            return None
        value, key = _untag(data[0]), _untag(data[1])
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, decimal.DecimalException):
        return None
    if key is None or isinstance(key, bool | float):
        return None
    return value, key


# --- the seek conditions ---------------------------------------------------------------------


def _beyond(column: str, value: Any, descending: bool) -> Q:
    """Rows whose ``column`` comes strictly after ``value`` in the order (NULL is smallest)."""
    if not descending:
        if value is None:
            return Q(**{f"{column}__isnull": False})
        return Q(**{f"{column}__gt": value})
    if value is None:
        return Q(pk__in=[])  # nothing sorts below NULL
    return Q(**{f"{column}__lt": value}) | Q(**{f"{column}__isnull": True})


def _equal(column: str, value: Any) -> Q:
    return Q(**{f"{column}__isnull": True}) if value is None else Q(**{column: value})


@dataclass(frozen=True)
class Order:
    """A list's order: ``column`` then the primary key ``pk``, both ascending or both
    descending (so that one index can serve the order in either direction)."""

    column: str
    pk: str
    descending: bool

    def reversed(self) -> Order:
        return Order(self.column, self.pk, not self.descending)

    def columns(self) -> list[str]:
        return [self.column] if self.column == self.pk else [self.column, self.pk]

    def order_by(self) -> list[Any]:
        return [F(c).desc() if self.descending else F(c).asc() for c in self.columns()]

    def after(self, value: Any, key: Any) -> Q:
        """Rows after the row at (value, key) in this order."""
        if self.column == self.pk:
            return _beyond(self.pk, key, self.descending)
        tie = Q(**{f"{self.pk}__lt" if self.descending else f"{self.pk}__gt": key})
        return _beyond(self.column, value, self.descending) | (_equal(self.column, value) & tie)

    def position(self, row: Any) -> str:
        return encode_position(_value(row, self.column), _value(row, self.pk))


def _value(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name)
    with contextlib.suppress(FieldDoesNotExist):
        name = row._meta.get_field(name).attname
    return getattr(row, name, None)


def _seek(
    queryset: QuerySet,
    order: Order,
    position: tuple[Any, Any],
    limit: int,
    key_index: str = "",
    offset: int = 0,
) -> list[Any]:
    """Up to ``limit`` rows after ``position`` in ``order`` (skipping ``offset`` rows first); a
    position that does not fit the column (a hand-made or stale token) reads from the start
    of the order.

    Two queries: the keys of the rows (sort column and primary key only, which an index on
    (domain, column) covers, so MariaDB reads index entries in order and no row), then the
    rows by primary key. Read in one query, MariaDB plans a seek on a domain's rows as a
    ``ref`` on the domain and reads every row between the start (or, backwards, the end) of
    the domain and the position: 1.2 s for a "previous" link deep in 100,000 mailboxes
    sorted by name, against under a millisecond for the keys.

    ``key_index`` names an index MariaDB must use for the key query (``FORCE INDEX``): for an
    order on the primary key within one domain, the domain's index, which the primary key
    extends; left to itself MariaDB walks that index from the domain's first entry."""
    keys = read_keys(queryset, order, position, limit, key_index, offset)
    return rows_by_pk(queryset, order.pk, [key[-1] for key in keys])


def read_keys(
    queryset: QuerySet,
    order: Order,
    position: tuple[Any, Any] | None,
    limit: int,
    key_index: str = "",
    offset: int = 0,
) -> list[tuple[Any, ...]]:
    """The keys (``order.columns()``) of up to ``limit`` rows after ``position`` (from the
    start when None) in ``order``, ``offset`` skipped: one query on an index that covers them,
    ``key_index`` when one is named (see :func:`_seek`)."""
    if position is not None:
        with contextlib.suppress(ValidationError, ValueError, TypeError, FieldError):
            queryset = queryset.filter(order.after(*position))
    ordered = queryset.order_by(*order.order_by()).values_list(*order.columns())
    ordered = ordered[offset : offset + limit]
    return _keys_with_index(ordered, key_index) if key_index else [tuple(k) for k in ordered]


def rows_by_pk(queryset: QuerySet, pk: str, pks: list[Any]) -> list[Any]:
    """The rows of ``pks``, in that order (one query; none for no keys)."""
    if not pks:
        return []
    rows = {row.pk: row for row in queryset.filter(**{f"{pk}__in": pks}).order_by()}
    return [rows[key] for key in pks if key in rows]


@dataclass(frozen=True)
class SideKeys:
    """An order whose key lives in a panel side table: ``rows`` are that table's rows in the
    list's scope (e.g. of its domains), ``value`` the sort key column and ``key`` the column
    holding the list's primary key, with an index on (scope columns, ``value``, ``key``).

    The keys of a page are read from that index in order, each checked against the list's own
    query (``EXISTS`` on its primary key, so the list's scoping decides what is shown), then
    the rows by primary key: a range read of the side index at any depth. A row of the list
    without a side row is not in this order until the side table has one for it.

    ``index`` names the side index that MariaDB must use (as ``key_index`` does: left to
    itself it reads the index from the start of the domain); ``scope`` is the list's query
    without the annotations of its page (joins the check does not need), when it has some.

    ``partial``: the order holds only the rows that have a side row by design (the mailboxes
    with a measured disk use), so its total is not the list's ``total`` but ``total()`` (a
    figure kept elsewhere, e.g. the domains' sums of measured mailboxes) or, without one, the
    side rows counted (``rows``, bounded: :func:`bounded_count`, an index-only read of at
    most 1,001 entries, not each checked against the list's query)."""

    rows: QuerySet
    value: str
    key: str
    index: str = ""
    scope: QuerySet | None = None
    partial: bool = False
    total: Callable[[], int] | None = None

    def rows_in(self, queryset: QuerySet) -> QuerySet:
        """The side rows whose key is a row of ``queryset`` (or of ``scope`` when given)."""
        scope = queryset if self.scope is None else self.scope
        return self.rows.filter(Exists(scope.filter(pk=OuterRef(self.key))))


class _Reader:
    """Reads a run of the list's rows in an order, from its own table."""

    def __init__(self, queryset: QuerySet, hint: str = "") -> None:
        self.queryset = queryset
        self.hint = hint

    def read(
        self, order: Order, position: tuple[Any, Any] | None, offset: int, limit: int
    ) -> list[Any]:
        """``limit`` rows after ``position`` (from the start when None), ``offset`` skipped."""
        if position is None:
            return list(self.queryset.order_by(*order.order_by())[offset : offset + limit])
        return _seek(self.queryset, order, position, limit, self.hint, offset)

    def read_after_mark(
        self, order: Order, mark: tuple[Any, Any], skip: int, limit: int
    ) -> list[Any]:
        """``limit`` rows after the page mark ``mark``, ``skip`` rows skipped (no search)."""
        return self.read(order, mark, skip, limit)

    def deep(self, order: Order, offset: int, limit: int) -> list[Any]:
        """``limit`` rows from ``offset``: the position of the row before them first, reading
        only the key columns of the rows skipped (an index-only scan where the order has an
        index), then a seek."""
        columns = order.columns()
        ordered = self.queryset.order_by(*order.order_by()).values_list(*columns)
        boundary = list(ordered[offset - 1 : offset])
        if not boundary:
            return []
        value, key = (boundary[0][0], boundary[0][0]) if len(columns) == 1 else boundary[0]
        return _seek(self.queryset, order, (value, key), limit, self.hint)


class _SideReader(_Reader):
    """Reads a run of the list's rows in an order kept by a side table (:class:`SideKeys`)."""

    def __init__(self, queryset: QuerySet, side: SideKeys) -> None:
        super().__init__(queryset)
        self.side = side

    def _side_order(self, order: Order) -> Order:
        return Order(self.side.value, self.side.key, order.descending)

    def read(
        self, order: Order, position: tuple[Any, Any] | None, offset: int, limit: int
    ) -> list[Any]:
        side = self.side
        rows = side.rows_in(self.queryset)
        keys = read_keys(rows, self._side_order(order), position, limit, side.index, offset)
        return rows_by_pk(self.queryset, order.pk, [key[-1] for key in keys])

    def read_after_mark(
        self, order: Order, mark: tuple[Any, Any] | None, skip: int, limit: int
    ) -> list[Any]:
        """The rows skipped after a mark (from the start without one) are read from the side
        index alone, as the marks were taken (an index-only read), instead of each being
        checked against the list's query; the page's own keys are checked."""
        if skip:
            side = self.side
            before = read_keys(side.rows, self._side_order(order), mark, 1, side.index, skip - 1)
            if not before:
                return []
            mark = (before[0][0], before[0][-1])
        return self.read(order, mark, 0, limit)

    def deep(self, order: Order, offset: int, limit: int) -> list[Any]:
        """Without a page mark: the ``offset`` keys skipped on the side index alone (checking
        each against the list cost 1.6 s for page 20,000 of the order by use at 1,000,000)."""
        return self.read_after_mark(order, None, offset, limit)


def _hinted_sql(queryset: QuerySet, index: str) -> tuple[str, Any]:
    """The SQL of ``queryset`` with ``FORCE INDEX (index)`` on its own table (MariaDB/MySQL)."""
    connection = connections[queryset.db]
    sql, params = queryset.query.sql_with_params()
    qn = connection.ops.quote_name
    table = qn(queryset.model._meta.db_table)
    return sql.replace(f"FROM {table}", f"FROM {table} FORCE INDEX ({qn(index)})", 1), params


def _keys_with_index(ordered: QuerySet, index: str) -> list[Any]:
    """Run a key query with ``FORCE INDEX (index)`` on MariaDB/MySQL (elsewhere as it is)."""
    connection = connections[ordered.db]
    if connection.vendor != "mysql":
        return list(ordered)
    hinted, params = _hinted_sql(ordered, index)
    try:
        with connection.cursor() as cursor:
            cursor.execute(hinted, params)
            return [tuple(row) for row in cursor.fetchall()]
    except DatabaseError:  # the index is missing (a database not migrated): no hint
        return list(ordered)


def bounded_count(
    queryset: QuerySet, limit: int | None = None, index: str = ""
) -> tuple[int, bool]:
    """The number of rows, counting at most ``limit`` (:data:`COUNT_LIMIT`) + 1 of them:
    (count, capped).

    ``index`` names an index MariaDB must use (``FORCE INDEX``): for a prefix search of one
    domain, its index in primary key order, which the primary key extends, so that the count
    is a range read of (domain, key prefix). Left to itself MariaDB reads the whole domain by
    that index (``ref`` on the domain, the prefix checked on each of its entries): 120 ms for
    100 aliases of a domain of 1,000,000 against under a millisecond."""
    limit = COUNT_LIMIT if limit is None else limit
    rows = queryset.order_by()[: limit + 1]
    connection = connections[queryset.db]
    if index and connection.vendor == "mysql":
        inner, params = _hinted_sql(queryset.order_by().values("pk")[: limit + 1], index)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT COUNT(*) FROM ({inner}) counted", params)  # noqa: S608
                n = cursor.fetchone()[0]
        except DatabaseError:  # the index is missing (a database not migrated): no hint
            n = rows.count()
    else:
        n = rows.count()
    return (limit, True) if n > limit else (n, False)


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
    key_index: dict[str, str] | None = None,
    side_keys: dict[str, SideKeys] | None = None,
    marks: MarkReader | None = None,
) -> Listing:
    """Apply ``q``, ``sort`` (a key of ``sort_fields``, ``-`` for descending), ``per_page`` and
    the position (``page``, ``after``, ``before``, ``last``) from the query string. Unknown
    values fall back to the defaults instead of failing.

    ``q`` goes to ``search`` with ``match`` (``prefix`` by default, or ``contains``) when the
    page gives one; otherwise it matches any of ``search_fields`` as a case-insensitive
    substring.

    ``costly`` is a condition (e.g. a subquery) applied after the search: MariaDB evaluates
    the conditions of a scan in their order, so it is then checked on matching rows only.

    ``total`` gives the number of rows when no search applies, where it is known without
    counting them (the usage table); otherwise at most :data:`COUNT_LIMIT` + 1 rows are counted.

    ``key_index`` maps sort keys to an index that MariaDB must use for the key query of a
    seek (see :func:`_seek`).

    ``side_keys`` maps sort keys to the side table that orders them (:class:`SideKeys`), for
    the list without a search; with one, the list sorts its own rows by ``sort_fields``. An
    order that holds only the rows with a side row (``partial``) counts them, bounded.

    ``marks`` gives the page marks of the list (see :data:`MarkReader`) for page numbers
    deeper than :data:`OFFSET_ROWS`; the caller passes it only for a list the marks are kept
    for, and a search never reads them.
    """
    q = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    match = ""
    if search is not None:
        match = request.GET.get("match", PREFIX)
        if match not in MATCH_CHOICES:
            match = PREFIX
    at_least = 0  # rows a search knows to match without counting them
    listed = None  # addresses a search knows to hold its first matches (mailboxes.names)
    unsearched = queryset
    if q and not is_storable(q):
        queryset = queryset.none()  # no row can hold it (and MariaDB cannot compare it)
    elif q and search is not None:
        condition = search(q, match)
        at_least = getattr(condition, "at_least", 0)
        listed = getattr(condition, "listed", None)
        queryset = queryset.filter(condition)
    elif q and search_fields:
        queryset = queryset.filter(
            reduce(or_, (Q(**{f"{f}__icontains": q}) for f in search_fields))
        )
    if costly is not None:
        queryset = queryset.filter(costly)
    sort = request.GET.get("sort", default_sort)
    if sort.lstrip("-") not in sort_fields:
        sort = default_sort
    order = Order(sort_fields[sort.lstrip("-")], queryset.model._meta.pk.name, sort.startswith("-"))
    hint = (key_index or {}).get(sort.lstrip("-"), "")
    # A search by prefix is counted by the index of the primary key's order (bounded_count);
    # a substring search reads every row in scope whichever index it takes.
    pk_sort = next((k for k, f in sort_fields.items() if f == order.pk), "")
    count_hint = (key_index or {}).get(pk_sort, "") if q and match != CONTAINS else ""
    side = (side_keys or {}).get(sort.lstrip("-")) if not q else None
    reader = _SideReader(queryset, side) if side is not None else _Reader(queryset, hint)
    per_page = _int(request.GET.get("per_page"), PER_PAGE_CHOICES[0])
    if per_page not in PER_PAGE_CHOICES:
        per_page = PER_PAGE_CHOICES[0]
    listing = Listing(
        objects=[], q=q, sort=sort, per_page=per_page, sort_fields=sort_fields, match=match
    )

    counted: list[tuple[int, bool]] = []

    def count() -> tuple[int, bool]:
        if not counted:
            if side is not None and side.partial:
                if side.total is not None:
                    counted.append((side.total(), False))
                else:
                    counted.append(bounded_count(side.rows))
            elif total is not None and not q:
                counted.append((total(), False))
            elif at_least > COUNT_LIMIT:
                counted.append((COUNT_LIMIT, True))
            else:
                counted.append(bounded_count(queryset, index=count_hint))
        return counted[0]

    # A page number beyond any list (and beyond what SQL's OFFSET takes) is cut down first.
    number = min(max(1, _int(request.GET.get("page"), 1)), MAX_PAGE)
    after = decode_position(request.GET.get("after", ""))
    before = decode_position(request.GET.get("before", ""))
    rows: list[Any]
    if request.GET.get("last") == "1":
        rows = _last_page(reader, order, listing, count())
    elif after is not None:
        rows = reader.read(order, after, 0, per_page + 1)
        listing.has_next = len(rows) > per_page
        listing.has_previous = True
        listing.number = number if "page" in request.GET else None
    elif before is not None:
        rows = reader.read(order.reversed(), before, 0, per_page + 1)
        listing.has_previous = len(rows) > per_page
        rows = rows[:per_page][::-1]
        listing.has_next = True
        listing.number = number if "page" in request.GET else None
        if not listing.has_previous:
            listing.number = 1
            if len(rows) < per_page:  # rows were removed meanwhile: show a full first page
                rows = reader.read(order, None, 0, per_page + 1)
                listing.has_next = len(rows) > per_page
    else:
        if number > 1:
            n, capped = count()
            if not capped:
                number = min(number, max(1, -(-n // per_page)))
        mark = None if marks is None or q else lambda offset: marks(sort, offset)
        rows = []
        if number == 1 and listed is not None and side is None:
            rows = _listed_page(unsearched, costly, order, listed, per_page + 1)
        if len(rows) <= per_page:
            rows = _numbered_page(reader, order, number, per_page, mark)
        listing.number = number
        listing.has_previous = number > 1
        listing.has_next = len(rows) > per_page
        if not rows and number > 1:  # beyond the end of a capped count: the last page
            rows = _last_page(reader, order, listing, count())
    if len(rows) > per_page:
        rows = rows[:per_page]
    listing.objects = rows
    listing.total, listing.total_capped = count()
    if listing.number is not None and not listing.total_capped:
        # Usage figures may lag behind rows written by another program: never show fewer.
        listing.total = max(listing.total, (listing.number - 1) * per_page + len(rows))
    if rows:
        listing.previous_token = order.position(rows[0])
        listing.next_token = order.position(rows[-1])
    return listing


def _numbered_page(
    reader: _Reader,
    order: Order,
    number: int,
    per_page: int,
    mark: Callable[[int], tuple[tuple[Any, Any], int] | None] | None = None,
) -> list[Any]:
    offset = (number - 1) * per_page
    if offset <= OFFSET_ROWS:
        return reader.read(order, None, offset, per_page + 1)
    # Deep: a seek from the nearest page mark and fewer than a mark's step of keys skipped,
    # or, without one, from the position of the row before the page.
    found = mark(offset) if mark is not None else None
    if found is not None:
        position, skip = found
        return reader.read_after_mark(order, position, skip, per_page + 1)
    return reader.deep(order, offset, per_page + 1)


def _listed_page(
    unsearched: QuerySet, costly: Any, order: Order, listed: Any, limit: int
) -> list[Any]:
    """The first ``limit`` rows of a search in primary key order, read from the addresses its
    lookup knows to hold its first matches (``listed``, see ``mailboxes.names.Listed``: a
    list of primary keys and a range of them) instead of walking the list's rows to the last
    of them (2,000 rows for the 26th "wei chen" of 1,000,000 mailboxes); [] when they are
    fewer (the caller reads the page as usual). A row before the last one read matches the
    search up to the lookup's bound, so it is among them. The list's query without the
    search's own condition (``unsearched``, then ``costly``): those addresses are its matches
    as the lookup read them, and its literal list cost MariaDB as much to plan again."""
    addresses, bound = listed.candidates(limit)
    if order.column != order.pk or order.descending or len(addresses) < limit:
        return []
    known = Q(**{f"{order.pk}__in": addresses})
    if listed.also is not None:
        known |= listed.also
    rows = unsearched.filter(known)
    if bound is not None:
        rows = rows.filter(**{f"{order.pk}__lte": bound})
    if costly is not None:
        rows = rows.filter(costly)
    found = list(rows.order_by(*order.order_by())[:limit])
    return found if len(found) == limit else []


def _last_page(
    reader: _Reader, order: Order, listing: Listing, counted: tuple[int, bool]
) -> list[Any]:
    """The last page, read backwards; with an exact total it holds the rows after the last
    full page, so that the page numbers stay those of the first page's links."""
    n, capped = counted
    per_page = listing.per_page
    size = per_page
    if not capped and n:
        size = n - (-(-n // per_page) - 1) * per_page
    rows = reader.read(order.reversed(), None, 0, size + 1)
    listing.has_previous = len(rows) > size
    listing.has_next = False
    listing.number = None if capped else max(1, -(-n // per_page))
    return rows[:size][::-1]


def list_url(view_name: str, domain: str | None) -> str:
    """The URL of a list page, limited to ``domain`` (a stored name, even an empty one) when
    one is given."""
    url = reverse(view_name)
    return url if domain is None else f"{url}?domain={domain_param(domain)}"
