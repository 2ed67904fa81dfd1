"""The mailbox list sorted by measured disk use (``?sort=used``) reads its pages from the disk
usage table's index (mailboxes.sortkeys.used_side_keys): every measured mailbox once, in order,
across page boundaries in both directions and with ties on equal bytes; mailboxes without a
measured figure are left out of the order and counted on the page; scope decides what is
shown; the query count does not grow with the table; on MariaDB the keys are an index range."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.models import DomainDiskUsage
from domains.usage import disk_usage_refresh, recompute_all
from mailadmin.lib import listing as listing_module
from mailboxes.models import Mailbox, MailboxDiskUsage

MB = 1_048_576


def measure(address: str, used: int | None, domain: str | None = None) -> None:
    """A measurement as the storage worker stores it: the row, then its domain's sums."""
    domain = domain or address.split("@")[1]
    MailboxDiskUsage.objects.update_or_create(
        mailbox_id=address,
        defaults={
            "domain": domain,
            "used_bytes": used,
            "quota_bytes": 0,
            "source": MailboxDiskUsage.Source.WALK
            if used is not None
            else MailboxDiskUsage.Source.REFUSED,
            "measured_at": timezone.now(),
        },
    )
    disk_usage_refresh([domain])


@pytest.fixture
def usage(personas):
    """a.test: 60 measured mailboxes with many ties (7 sizes), 4 refused (no figure) and 6
    never measured, plus user@a.test (never measured); b.test: 20 measured mailboxes."""
    Mailbox.objects.bulk_create(
        Mailbox(username=f"u{i:03d}@a.test", uid=f"u{i}", domain_id="a.test") for i in range(70)
    )
    Mailbox.objects.bulk_create(
        Mailbox(username=f"v{i:03d}@b.test", uid=f"v{i}", domain_id="b.test") for i in range(20)
    )
    for i in range(60):
        measure(f"u{i:03d}@a.test", (i * 5 % 7) * MB)
    for i in range(60, 64):
        measure(f"u{i:03d}@a.test", None)
    for i in range(20):
        measure(f"v{i:03d}@b.test", i * 3 * MB)
    recompute_all()


def expected(domains: list[str], descending: bool) -> list[str]:
    rows = MailboxDiskUsage.objects.filter(domain__in=domains, used_bytes__isnull=False)
    pairs = sorted(rows.values_list("used_bytes", "mailbox_id"), reverse=descending)
    return [address for _used, address in pairs]


def rows_of(response) -> list[str]:
    assert response.status_code == 200
    return [m.pk for m in response.context["listing"].objects]


def walk(client, base: str, pages: int) -> tuple[list[str], list[str], list[str]]:
    """The list by next links from the first page, by previous links from the last page, and
    by the numbers of its ``pages`` pages."""
    forward: list[str] = []
    response = client.get(base)
    for _ in range(10):
        forward += rows_of(response)
        listing = response.context["listing"]
        if not listing.has_next:
            break
        response = client.get(f"{base}&page={listing.next_number}&after={listing.next_token}")
    backward: list[str] = []
    response = client.get(f"{base}&last=1")
    for _ in range(10):
        backward = rows_of(response) + backward
        listing = response.context["listing"]
        if not listing.has_previous:
            break
        response = client.get(f"{base}&before={listing.previous_token}")
    numbered: list[str] = []
    for number in range(1, pages + 1):
        numbered += rows_of(client.get(f"{base}&page={number}"))
    return forward, backward, numbered


@pytest.mark.parametrize("sort", ["used", "-used"])
@pytest.mark.parametrize(
    ("persona", "query", "domains"),
    [
        ("superadmin", "domain=a.test", ["a.test"]),
        ("admin_a", "domain=a.test", ["a.test"]),
        ("superadmin", "", ["a.test", "b.test"]),
        ("admin_a", "", ["a.test"]),
    ],
)
@pytest.mark.parametrize("deep", [False, True])
def test_the_used_order_walks_ties_across_page_boundaries(
    client_as, usage, sort, persona, query, domains, deep, monkeypatch
):
    if deep:  # every page number beyond the first is read as a deep one, without page marks
        monkeypatch.setattr(listing_module, "OFFSET_ROWS", 0)
    order = expected(domains, sort.startswith("-"))
    assert len(order) in (60, 80)
    forward, backward, numbered = walk(
        client_as(persona), f"/mailboxes/?{query}&sort={sort}", -(-len(order) // 25)
    )
    assert forward == order
    assert backward == order
    assert numbered == order


def test_mailboxes_without_a_figure_are_left_out_and_counted(client_as, usage):
    client = client_as("admin_a")
    response = client.get("/mailboxes/?domain=a.test&sort=-used&per_page=200")
    shown = rows_of(response)
    never = {"user@a.test", *(f"u{i:03d}@a.test" for i in range(60, 70))}
    assert len(shown) == 60 and not never & set(shown)
    assert response.context["listing"].total == 60
    assert response.context["unmeasured"] == 11
    assert "11 mailboxes not measured yet are not in this order." in response.content.decode()
    # every other order shows them, and a search sorted by use sorts its own rows (them first)
    assert never <= set(rows_of(client.get("/mailboxes/?domain=a.test&per_page=200")))
    searched = rows_of(client.get("/mailboxes/?domain=a.test&sort=used&per_page=200&q=u0"))
    assert set(searched[:10]) == never - {"user@a.test"}  # no figure: the smallest
    assert searched[10:] == expected(["a.test"], False)
    # measured later: it joins the order at once (the storage worker writes its row)
    measure("u065@a.test", 9 * MB)
    assert rows_of(client.get("/mailboxes/?domain=a.test&sort=-used"))[0] == "u065@a.test"
    assert (
        'data-testid="unmeasured"' not in client.get("/mailboxes/?domain=a.test").content.decode()
    )


def test_the_used_order_shows_only_what_the_manager_may_see(client_as, usage):
    # stale rows: a b.test mailbox filed under a.test, a mailbox that is gone
    measure("v001@b.test", 50 * MB, domain="a.test")
    measure("gone@a.test", 60 * MB)
    client = client_as("admin_a")
    for query in ("domain=a.test&", ""):
        shown = rows_of(client.get(f"/mailboxes/?{query}sort=-used&per_page=200"))
        assert shown == expected(["a.test"], True)[2:], query  # the two stale rows skipped
    assert client_as("admin_b").get("/mailboxes/?domain=a.test&sort=-used").status_code == 404
    every = rows_of(client_as("superadmin").get("/mailboxes/?sort=-used&per_page=200"))
    assert "gone@a.test" not in every and every.count("v001@b.test") == 1


def test_the_over_90_filter_still_sorts_its_rows(client_as, usage):
    MailboxDiskUsage.objects.filter(mailbox_id__in=["u001@a.test", "u002@a.test"]).update(
        percent=95
    )
    listing = client_as("admin_a").get("/mailboxes/?domain=a.test&sort=-used&usage=over90")
    assert rows_of(listing) == ["u001@a.test", "u002@a.test"]  # 5 MB and 3 MB


@pytest.mark.parametrize("size", [40, 160])
def test_used_pages_cost_the_same_queries_at_two_sizes(client_as, personas, size):
    Mailbox.objects.bulk_create(
        Mailbox(username=f"s{i:04d}@a.test", uid=f"s{i}", domain_id="a.test") for i in range(size)
    )
    for i in range(size - 5):
        measure(f"s{i:04d}@a.test", (i % 9) * MB)
    recompute_all()
    counts = {}
    for persona, base in (
        ("admin_a", "/mailboxes/?domain=a.test&sort=-used"),
        ("superadmin", "/mailboxes/?sort=-used"),
    ):
        client = client_as(persona)
        client.get(base)
        for query in ("", "&page=2", "&last=1"):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(base + query)
            counts[persona, query] = len(captured)
        listing = response.context["listing"]
        with CaptureQueriesContext(connection) as captured:
            client.get(f"{base}&before={listing.previous_token}")
        counts[persona, "before"] = len(captured)
    # session, manager, the domain with its usage, the bounded count of the measured rows,
    # the keys of the page, its rows; of every domain: the usage totals instead of the domain
    assert set(counts.values()) == {6}, counts


def _plans(sql: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


@pytest.mark.mariadb
@pytest.mark.parametrize(
    ("persona", "query", "index"),
    [
        ("admin_a", "domain=a.test&", "mailadmin_disk_usage_used"),
        ("superadmin", "", "mailadmin_disk_usage_used_all"),
    ],
)
def test_on_mariadb_a_used_page_is_a_range_read_of_the_usage_index(
    client_as, usage, persona, query, index
):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    client = client_as(persona)
    first = client.get(f"/mailboxes/?{query}sort=-used").context["listing"]
    with CaptureQueriesContext(connection) as captured:
        rows_of(client.get(f"/mailboxes/?{query}sort=-used&after={first.next_token}"))
    keys = next(q["sql"] for q in captured.captured_queries if "FORCE INDEX" in q["sql"])
    assert "mailadmin_mailbox_disk_usage" in keys
    plans = _plans(keys)
    plan = plans[0]
    assert plan["type"] == "range" and plan["key"] == index, plans
    assert "filesort" not in (plan["Extra"] or "") and "Using index" in plan["Extra"], plans
    assert all(p["type"] == "eq_ref" for p in plans[1:]), plans


def test_the_counts_come_from_the_domains_sums_not_from_the_measurements(client_as, usage):
    # sums that lag behind the rows (until the next run or recompute): the page follows them
    DomainDiskUsage.objects.filter(pk="a.test").update(measured=55)
    client = client_as("admin_a")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/mailboxes/?domain=a.test&sort=-used")
    assert response.context["listing"].total == 55 and response.context["unmeasured"] == 16
    assert "16 mailboxes not measured yet" in response.content.decode()
    assert not [q for q in captured.captured_queries if "COUNT(" in q["sql"]]
    # the whole order is still reached by its links (backwards, the first page is shown
    # full, as for any list whose total lags behind its rows)
    forward, backward, _numbered = walk(client, "/mailboxes/?domain=a.test&sort=-used", 0)
    assert forward == expected(["a.test"], True)
    assert set(backward) == set(forward)
