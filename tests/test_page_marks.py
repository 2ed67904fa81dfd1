"""Page marks of the big lists (domains.pagemarks): a deep page number is a seek from the
nearest mark, reads the same rows as the key-only scan it replaces, costs the same queries at
any size and depth, stays 25 consecutive rows of the list when the marks are stale, and the
marks follow the recompute, domain renames and deletes."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from test_keyset_paging import mailbox_rows

from aliases.models import Alias
from domains import pagemarks
from domains.models import PageMark
from domains.services import domain_delete, domain_rename
from domains.usage import disk_usage_refresh, recompute_all
from mailadmin.lib import listing as listing_module
from mailboxes import indexes
from mailboxes.models import Mailbox, MailboxDiskUsage

SORTS = ["address", "name", "quota", "expiry", "active", "used"]


@pytest.fixture
def small_steps(monkeypatch):
    """Marks every 10 rows for lists of more than 20, written from a walk of 7 keys at a time,
    and every page beyond the first is 'deep', so that a list of a few pages exercises what a
    domain of 1,000,000 does."""
    monkeypatch.setattr(pagemarks, "STEP", 10)
    monkeypatch.setattr(pagemarks, "CHUNK", 7)
    monkeypatch.setattr(pagemarks, "MARKS_FROM", 20)
    monkeypatch.setattr(listing_module, "OFFSET_ROWS", 0)


@pytest.fixture
def marked(personas, small_steps):
    Mailbox.objects.bulk_create(mailbox_rows("a.test", 90))
    # Every mailbox measured, in 7 sizes (ties across the marks of the order by use).
    MailboxDiskUsage.objects.bulk_create(
        MailboxDiskUsage(
            mailbox_id=address, domain="a.test", used_bytes=i % 7 * 1000, measured_at=timezone.now()
        )
        for i, address in enumerate(
            Mailbox.objects.filter(domain_id="a.test").values_list("pk", flat=True)
        )
    )
    disk_usage_refresh(["a.test"])
    Alias.objects.bulk_create(
        Alias(address=f"al{i:03d}@a.test", goto="x@y.example", domain_id="a.test")
        for i in range(80)
    )
    recompute_all()
    indexes.reindex_all()
    pagemarks.refresh_all()


def rows_of(response) -> list[str]:
    assert response.status_code == 200
    return [obj.pk for obj in response.context["listing"].objects]


def everything(client, path: str) -> list[str]:
    return rows_of(client.get(f"{path}&per_page=200"))


@pytest.mark.parametrize("sort", SORTS + [f"-{s}" for s in SORTS])
def test_a_page_number_read_from_a_mark_is_the_same_page(client_as, marked, sort):
    client = client_as("admin_a")
    base = f"/mailboxes/?domain=a.test&sort={sort}"
    rows = everything(client, base)
    assert len(rows) == 91
    assert PageMark.objects.filter(listing="mailboxes", domain="a.test", sort=sort).count() == 9
    for number in (2, 3, 4):
        with CaptureQueriesContext(connection) as captured:
            page = rows_of(client.get(f"{base}&page={number}"))
        assert page == rows[(number - 1) * 25 : number * 25], number
        assert any("mailadmin_page_mark" in q["sql"] for q in captured.captured_queries)


def test_alias_page_numbers_read_from_marks(client_as, marked):
    client = client_as("superadmin")
    rows = everything(client, "/aliases/?domain=a.test")
    assert len(rows) == 80
    for number in (2, 3, 4):
        with CaptureQueriesContext(connection) as captured:
            page = rows_of(client.get(f"/aliases/?domain=a.test&page={number}"))
        assert page == rows[(number - 1) * 25 : number * 25]
        assert any("mailadmin_page_mark" in q["sql"] for q in captured.captured_queries)


def test_a_search_never_reads_marks(client_as, marked):
    client = client_as("superadmin")
    rows = everything(client, "/mailboxes/?domain=a.test&q=m00")
    with CaptureQueriesContext(connection) as captured:
        page = rows_of(client.get("/mailboxes/?domain=a.test&q=m00&page=2"))
    assert page == rows[25:50]
    assert not any("mailadmin_page_mark" in q["sql"] for q in captured.captured_queries)


def test_stale_marks_still_give_consecutive_rows_and_links_stay_exact(client_as, marked):
    client = client_as("superadmin")
    base = "/mailboxes/?domain=a.test&sort=name"
    before = everything(client, base)
    gone = before[3:6]  # deleted behind the panel's back, before page 3
    Mailbox.objects.filter(pk__in=gone).delete()
    now = everything(client, base)
    response = client.get(f"{base}&page=3")
    page = rows_of(response)
    start = now.index(page[0])
    assert page == now[start : start + 25]  # consecutive rows of the list as it is now
    assert abs(start - 50) <= len(gone)  # off by at most the rows removed before it
    listing = response.context["listing"]
    following = rows_of(client.get(f"{base}&after={listing.next_token}"))
    assert following == now[start + 25 : start + 50]  # links: exact from the page shown
    pagemarks.refresh_all()  # the next recompute
    assert rows_of(client.get(f"{base}&page=3")) == now[50:75]


def test_deep_page_numbers_cost_the_same_queries_at_two_sizes(client_as, personas, small_steps):
    client = client_as("admin_a")
    counts = []
    done = 0
    for size in (120, 400):
        Mailbox.objects.bulk_create(mailbox_rows("a.test", size)[done:])
        done = size
        recompute_all()
        indexes.reindex_all()
        pagemarks.refresh_all()
        client.get("/mailboxes/?domain=a.test")
        row = []
        for number in (3, size // 25):
            for sort in ("address", "-name", "quota"):
                with CaptureQueriesContext(connection) as captured:
                    client.get(f"/mailboxes/?domain=a.test&sort={sort}&page={number}")
                offsets = [
                    q["sql"] for q in captured.captured_queries if "OFFSET" in q["sql"].upper()
                ]
                # the skip after a mark is less than a step of keys
                assert all(int(sql.upper().rsplit("OFFSET", 1)[1]) < 10 for sql in offsets)
                row.append(len(captured))
        counts.append(row)
    assert counts[0] == counts[1], counts
    # session, manager, the visible domain with its usage, the mark, the page's keys, its rows;
    # the quota order reads the keys it skips after the mark from its side index first
    # (page 3: 50 rows = a mark exactly, nothing skipped; the last page: 5 skipped)
    assert counts[0] == [6, 6, 6, 6, 6, 7], counts


def test_small_lists_have_no_marks_and_renames_and_deletes_forget_them(
    personas, marked, make_domain
):
    root = personas["superadmin"]
    assert PageMark.objects.filter(domain="a.test").exists()
    assert not PageMark.objects.filter(domain="b.test").exists()  # one mailbox
    Mailbox.objects.filter(domain_id="a.test").exclude(pk="user@a.test").delete()
    Alias.objects.filter(domain_id="a.test").delete()
    recompute_all()
    pagemarks.refresh_all()
    assert not PageMark.objects.filter(domain="a.test").exists()
    make_domain("big.test")
    Mailbox.objects.bulk_create(mailbox_rows("big.test", 30))
    recompute_all()
    out = io.StringIO()
    call_command("recompute_usage", stdout=out)
    assert "page marks written: " in out.getvalue()
    # 30 mailboxes: rows 9, 19 and 29 in each direction of the five orders; no aliases
    assert PageMark.objects.filter(domain="big.test").count() == 5 * 2 * 3
    domain_rename(domain="big.test", new_name="huge.test", actor=root)
    assert not PageMark.objects.filter(domain__in=["big.test", "huge.test"]).exists()
    pagemarks.refresh_all()
    assert PageMark.objects.filter(domain="huge.test").exists()
    domain_delete(domain="huge.test", delete_all=True, confirm_domain="huge.test", actor=root)
    assert not PageMark.objects.filter(domain="huge.test").exists()
