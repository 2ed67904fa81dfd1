"""Keyset paging of the list pages (mailadmin.lib.listing): every sort order walks the whole
list by its next, previous, last and page-number links without a row lost or shown twice
(ties, empty strings, zero dates, legacy quota strings and odd legacy keys included); a hostile
position token falls back to the first page; and the number of queries is the same at the
first, middle and last page of a list of 30 or 300 rows."""

from __future__ import annotations

import datetime
import html
import re

import pytest

from aliases.models import Alias
from audit.models import AuditEntry
from domains.models import Domain
from domains.usage import fill_missing, recompute_all, recompute_domain
from mailadmin.lib import listing as listing_module
from mailadmin.lib.listing import decode_position, encode_position
from mailboxes import indexes
from mailboxes.models import Mailbox

MB = 1024 * 1024
ODD_LOCALS = ["o'brien", "UPPER", "a%b", "x y", "ü", "under_score", "z" * 60, "-dash"]


def mailbox_rows(domain: str, count: int) -> list[Mailbox]:
    rows = []
    for i in range(count):
        local = ODD_LOCALS[i] if i < len(ODD_LOCALS) else f"m{i:04d}"
        rows.append(
            Mailbox(
                username=f"{local}@{domain}",
                uid=local,
                domain_id=domain,
                homedir=f"{domain}/{local}",
                maildir=f"{domain}/{local}/Maildir/",
                name="" if i % 7 == 0 else ("Same" if i % 5 == 0 else f"N{i % 13}"),
                quota=["0", f"{MB}S", f"{2 * MB}S", "104857600S,2000C", "5242880"][i % 5],
                expiredate=None if i % 3 == 0 else datetime.date(2027, 1, 1 + i % 4),
                active=bool(i % 2),
            )
        )
    return rows


@pytest.fixture
def mailboxes(personas):
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 70))
    recompute_all()
    indexes.reindex_all()  # the rows were written in bulk: as the periodic recompute does


def links(body: str) -> dict[str, str]:
    return {
        name: html.unescape(href)
        for name, href in re.findall(r'data-testid="page-(\w+)" href="([^"]+)"', body)
    }


def page(client, path: str) -> tuple[list[str], dict[str, str], object]:
    response = client.get(path)
    assert response.status_code == 200, path
    listing = response.context["listing"]
    return [obj.pk for obj in listing.objects], links(response.content.decode()), listing


def walk(client, base: str, query: str) -> tuple[list[str], list[str]]:
    """The rows by next links from the first page, and by previous links from the last."""
    forward: list[str] = []
    rows, found, _ = page(client, f"{base}?{query}")
    forward += rows
    for _step in range(50):
        if "next" not in found:
            break
        rows, found, _ = page(client, base + found["next"])
        forward += rows
    backward: list[str] = []
    rows, found, listing = page(client, f"{base}?{query}&last=1")
    backward = rows + backward
    assert "next" not in found
    for _step in range(50):
        if "previous" not in found:
            break
        rows, found, listing = page(client, base + found["previous"])
        backward = rows + backward
    assert listing.number == 1
    return forward, backward


MAILBOX_SORTS = ["address", "name", "quota", "expiry", "active"]


@pytest.mark.parametrize("sort", MAILBOX_SORTS + [f"-{s}" for s in MAILBOX_SORTS])
def test_every_mailbox_sort_order_walks_the_whole_list(client_as, mailboxes, sort):
    client = client_as("superadmin")
    everything, _, _ = page(client, f"/mailboxes/?domain=a.test&sort={sort}&per_page=200")
    assert len(everything) == 71  # and user@a.test
    forward, backward = walk(client, "/mailboxes/", f"domain=a.test&sort={sort}")
    assert forward == everything
    assert backward == everything


@pytest.mark.parametrize("sort", [*MAILBOX_SORTS, "-name", "-expiry"])
def test_page_numbers_read_the_same_rows_near_and_deep(client_as, mailboxes, sort, monkeypatch):
    client = client_as("superadmin")
    everything, _, _ = page(client, f"/mailboxes/?domain=a.test&sort={sort}&per_page=200")
    for deep in (False, True):
        if deep:  # every page beyond the first by a key-only scan and a seek
            monkeypatch.setattr(listing_module, "OFFSET_ROWS", 0)
        for number in (1, 2, 3):
            rows, _, listing = page(client, f"/mailboxes/?domain=a.test&sort={sort}&page={number}")
            assert rows == everything[(number - 1) * 25 : number * 25]
            assert listing.number == number and listing.num_pages == 3
        # beyond the end: the last page
        rows, _, listing = page(client, f"/mailboxes/?domain=a.test&sort={sort}&page=99")
        assert rows == everything[50:] and listing.number == 3


def test_the_last_page_lines_up_with_the_page_numbers(client_as, mailboxes):
    client = client_as("superadmin")
    rows, found, listing = page(client, "/mailboxes/?domain=a.test&last=1")
    assert len(rows) == 21 and listing.number == 3 and listing.total == 71
    assert "Page 3 of 3" in client.get("/mailboxes/?domain=a.test&last=1").content.decode()
    rows, found, listing = page(client, "/mailboxes/" + found["previous"])
    assert listing.number == 2 and len(rows) == 25


def test_the_page_number_box_keeps_the_search_and_sort(client_as, mailboxes):
    body = client_as("superadmin").get("/mailboxes/?domain=a.test&sort=-name&q=m00").content
    form = body.decode().split('data-testid="page-jump"')[1].split("</form>")[0]
    assert 'name="sort" value="-name"' in form and 'name="q" value="m00"' in form
    assert 'name="after"' not in form


ALIAS_SORTS = ["address", "active", "domain", "-address", "-active", "-domain"]


@pytest.mark.parametrize("sort", ALIAS_SORTS)
def test_every_alias_sort_order_walks_the_whole_list(client_as, personas, sort):
    Alias.objects.bulk_create(
        Alias(
            address=f"{'x' if i % 2 else 'y'}{i:03d}@{'a.test' if i % 3 else 'b.test'}",
            goto="t@elsewhere.example",
            domain_id="a.test" if i % 3 else "b.test",
            active=bool(i % 4),
        )
        for i in range(60)
    )
    recompute_all()
    client = client_as("superadmin")
    everything, _, _ = page(client, f"/aliases/?sort={sort}&per_page=200")
    assert len(everything) == 60
    forward, backward = walk(client, "/aliases/", f"sort={sort}")
    assert forward == everything == backward


DOMAIN_SORTS = ["name", "users", "aliases", "quota", "expiry", "active"]


@pytest.mark.parametrize("sort", DOMAIN_SORTS + [f"-{s}" for s in DOMAIN_SORTS])
def test_every_domain_sort_order_walks_the_whole_list(client_as, personas, sort):
    """Sorts on the usage figures are sorts on a joined, annotated column."""
    Domain.objects.bulk_create(
        Domain(
            domain=f"d{i:02d}.test",
            active=bool(i % 3),
            expiredate=None if i % 2 else datetime.date(2027, 1, 1 + i % 3),
        )
        for i in range(55)
    )
    Mailbox.objects.bulk_create(mailbox_rows("d07.test", 9) + mailbox_rows("d08.test", 3))
    recompute_all()
    client = client_as("superadmin")
    everything, _, _ = page(client, f"/domains/?sort={sort}&per_page=200")
    assert len(everything) == 57
    forward, backward = walk(client, "/domains/", f"sort={sort}")
    assert forward == everything == backward


@pytest.mark.parametrize("sort", ["time", "-time", "actor", "-actor", "action", "-action"])
def test_every_audit_sort_order_walks_the_whole_list(client_as, personas, sort):
    AuditEntry.objects.bulk_create(
        AuditEntry(actor=["", "root", "Root", "b"][i % 4], action=f"act.{i % 3}", domain="a.test")
        for i in range(60)
    )
    client = client_as("superadmin")
    everything, _, _listing = page(client, f"/audit/?sort={sort}&per_page=200")
    assert len(everything) == 60
    forward, backward = walk(client, "/audit/", f"sort={sort}")
    assert forward == everything == backward


# --- hostile positions -------------------------------------------------------------------------
HOSTILE = [
    "!!!",
    "x" * 5000,
    encode_position("x", "x")[:-3],
    encode_position({"dt": 5}, "k"),
    encode_position("😀", "k"),
    encode_position("text", None),
    encode_position([1, 2], "k"),
    encode_position("2027-99-99", "k"),
]


@pytest.mark.parametrize("token", HOSTILE)
@pytest.mark.parametrize("sort", ["quota", "-expiry"])
@pytest.mark.parametrize("param", ["after", "before"])
def test_a_hostile_position_never_fails(client_as, mailboxes, token, sort, param):
    """A token that is not one reads the first page; one that decodes (a plausible value of
    the wrong type) reads some run of the list, never an error."""
    client = client_as("superadmin")
    everything, _, _ = page(client, f"/mailboxes/?domain=a.test&sort={sort}&per_page=200")
    response = client.get("/mailboxes/", {"domain": "a.test", "sort": sort, param: token})
    assert response.status_code == 200
    rows = [m.pk for m in response.context["listing"].objects]
    if decode_position(token) is None:
        assert rows == everything[:25]
    else:
        start = everything.index(rows[0]) if rows else 0
        assert rows == everything[start : start + len(rows)]


@pytest.mark.parametrize("number", ["99999999999999999999999", "-3", "abc", "1e9", ""])
def test_any_page_number_answers(client_as, personas, monkeypatch, number):
    monkeypatch.setattr(listing_module, "COUNT_LIMIT", 2)  # a capped total: no clamping by it
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 30))
    client = client_as("admin_a")
    for query in (f"?q=m0&page={number}", f"?domain=a.test&page={number}"):
        assert client.get(f"/mailboxes/{query}").status_code == 200


def test_a_position_of_the_wrong_type_for_the_sort_reads_from_the_start(client_as, mailboxes):
    client = client_as("superadmin")
    first, _, _ = page(client, "/mailboxes/?domain=a.test&sort=quota")
    token = encode_position("not a number", "m0010@a.test")
    rows, _, _ = page(client, f"/mailboxes/?domain=a.test&sort=quota&after={token}")
    assert rows == first or rows[0] != first[0]  # never a 500


def test_positions_round_trip_every_kind_of_value():
    for value in [None, "", "Wei", 0, -5, True, 1.5, datetime.date(2027, 1, 2)]:
        assert decode_position(encode_position(value, "k@a.test")) == (value, "k@a.test")
    moment = datetime.datetime(2026, 12, 1, 3, 4, 5, tzinfo=datetime.UTC)
    assert decode_position(encode_position(moment, 7)) == (moment, 7)
    assert decode_position("") is None and decode_position("%%%") is None


# --- counts and queries ------------------------------------------------------------------------
def test_a_search_counts_at_most_a_thousand_rows(client_as, personas, monkeypatch):
    monkeypatch.setattr(listing_module, "COUNT_LIMIT", 40)
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 70))
    recompute_all()
    client = client_as("superadmin")
    response = client.get("/mailboxes/?q=m0")
    listing = response.context["listing"]
    assert listing.total_capped and listing.total == 40 and listing.num_pages is None
    assert "more than 40 items" in response.content.decode()
    # the last page is still reached, by a reversed seek
    rows, found, listing = page(client, "/mailboxes/?q=m0&last=1")
    assert rows[-1] == "m0069@a.test" and listing.number is None and "previous" in found
    # without a search the total is the usage figure, exact
    assert client.get("/mailboxes/?domain=a.test").context["listing"].total == 71


def queries_at(client, django_assert_num_queries, url: str) -> dict[str, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = {}
    with CaptureQueriesContext(connection) as ctx:
        first = client.get(url)
    counts["first"] = len(ctx)
    found = links(first.content.decode())
    base = url.split("?")[0]
    with CaptureQueriesContext(connection) as ctx:
        middle = client.get(base + found["next"])  # page 2, by the next link
    counts["next"] = len(ctx)
    found = links(middle.content.decode())
    with CaptureQueriesContext(connection) as ctx:
        client.get(base + found["next"])
    counts["next again"] = len(ctx)
    with CaptureQueriesContext(connection) as ctx:
        client.get(base + found["last"])
    counts["last"] = len(ctx)
    with CaptureQueriesContext(connection) as ctx:
        client.get(base + found["previous"])
    counts["previous"] = len(ctx)
    return counts


LISTS = [
    ("/mailboxes/?domain=a.test", "superadmin"),
    ("/mailboxes/?domain=a.test&sort=-name", "admin_a"),
    ("/mailboxes/?sort=quota", "admin_a"),
    ("/mailboxes/?q=m", "superadmin"),
    ("/aliases/?domain=a.test&sort=-active", "admin_a"),
    ("/domains/?sort=-users", "superadmin"),
    ("/audit/?sort=actor", "superadmin"),
]


@pytest.mark.parametrize(("url", "persona"), LISTS)
def test_queries_are_the_same_at_every_depth_and_size(
    client_as, personas, django_assert_num_queries, url, persona
):
    client = client_as(persona)
    results = []
    done = 0
    for size in (80, 300):  # more than three pages of 25, at two sizes
        if url.startswith("/mailboxes/"):
            Mailbox.objects.bulk_create(mailbox_rows("a.test", size)[done:])
        elif url.startswith("/aliases/"):
            Alias.objects.bulk_create(
                Alias(address=f"al{i:04d}@a.test", goto="x@y.example", domain_id="a.test")
                for i in range(done, size)
            )
        elif url.startswith("/domains/"):
            Domain.objects.bulk_create(Domain(domain=f"d{i:04d}.test") for i in range(done, size))
        else:
            AuditEntry.objects.bulk_create(
                AuditEntry(actor=f"a{i % 7}", action="x", domain="a.test")
                for i in range(done, size)
            )
        done = size
        fill_missing(Domain.objects.values_list("pk", flat=True))
        recompute_domain("a.test")
        indexes.reindex_all()
        client.get(url)  # the session is touched once
        results.append(queries_at(client, django_assert_num_queries, url))
    small, large = results
    assert small == large, results
    # first and last: one count (or none) and one page; next and previous: the keys of the
    # page (an index-only read) and its rows by primary key. Whatever the depth. An order
    # kept by a side table (the quota of mailboxes, a superadmin's domains by a usage figure)
    # reads the keys, then the rows, on every page.
    side = "sort=quota" in url or url == "/domains/?sort=-users"
    assert small["first"] == small["last"], small
    assert (
        small["next"]
        == small["next again"]
        == small["previous"]
        == small["first"] + (0 if side else 1)
    ), small


def test_a_deep_page_number_costs_one_key_only_query_more(
    client_as, personas, monkeypatch, django_assert_num_queries
):
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 120))
    recompute_domain("a.test")
    client = client_as("admin_a")
    client.get("/mailboxes/?domain=a.test")
    monkeypatch.setattr(listing_module, "OFFSET_ROWS", 0)
    # session, manager, the visible domain with its usage, page
    with django_assert_num_queries(4):
        client.get("/mailboxes/?domain=a.test")
    # and the page marks (none: the domain is small), the position of the row before page 4
    # (its key only), then the page by a seek (its keys, then its rows)
    with django_assert_num_queries(7) as captured:
        rows, _, listing = page(client, "/mailboxes/?domain=a.test&page=4")
    assert listing.number == 4 and len(rows) == 25
    assert "OFFSET" in captured.captured_queries[-3]["sql"].upper()
    assert "OFFSET" not in captured.captured_queries[-2]["sql"].upper()


@pytest.mark.mariadb
def test_on_mariadb_a_deep_address_page_is_a_range_read_without_sorting(client_as, personas):
    """The key query of a seek in address order names the domain's index: a range on the
    index extended by the primary key, in order, whatever the depth (docs/performance.md)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 300))
    recompute_domain("a.test")
    client = client_as("admin_a")
    token = encode_position("m0200@a.test", "m0200@a.test")
    for param in ("after", "before"):
        with CaptureQueriesContext(connection) as captured:
            rows, _, _ = page(client, f"/mailboxes/?domain=a.test&{param}={token}")
        assert rows[0 if param == "after" else -1] == (
            "m0201@a.test" if param == "after" else "m0199@a.test"
        )
        keys = next(q["sql"] for q in captured.captured_queries if "FORCE INDEX" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {keys}")
            columns = [c[0] for c in cursor.description]
            plan = dict(zip(columns, cursor.fetchone(), strict=True))
        assert plan["type"] == "range" and plan["key"] == "mailadmin_mailbox_domain", plan
        assert "filesort" not in (plan["Extra"] or ""), plan
        assert "OFFSET" not in keys.upper()
