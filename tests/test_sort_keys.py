"""The sort key table of the mailboxes (mailboxes.sortkeys): every write path keeps it, the
recompute corrects rows written behind the panel's back, the migration's SQL reads the legacy
quota strings as Python does, and the quota order of the list reads it across page boundaries
without a row lost, shown twice or shown out of scope."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.models import Domain, DomainUsage
from domains.services import domain_delete, domain_rename
from domains.usage import recompute_all
from mailadmin.lib import derived
from mailadmin.lib.quota import SORT_KEY_MAX, quota_sort_key
from mailboxes import bulk, indexes, services, sortkeys
from mailboxes.models import Mailbox, MailboxSortKey

PASSWORD = "Blue-Lantern-42"
MB = 1024 * 1024
HOSTILE_QUOTAS = [
    "",
    "0",
    "abc",
    "5S,100C",
    "9999999999999999",
    " 7S ",
    "104857600S,2000C",
    "3145728",
    "12x",
    "S",
    "-5",
    "0S,0C",
    "1e9",
    "00000000000042S",
]


def key_of(address: str) -> int | None:
    row = MailboxSortKey.objects.filter(address=address).values_list("quota_bytes", flat=True)
    return row.first()


def keys_of(domain: str) -> dict[str, int]:
    return dict(MailboxSortKey.objects.filter(domain=domain).values_list("address", "quota_bytes"))


def test_a_quota_sorts_by_its_size_and_an_unreadable_one_as_zero():
    assert quota_sort_key("104857600S,2000C") == 104857600
    assert quota_sort_key(" 7S ") == 7
    assert quota_sort_key("3145728") == 3145728
    assert [quota_sort_key(v) for v in ("", "0", "abc", "12x", "S", "-5", None)] == [0] * 7
    assert quota_sort_key("9" * 30) == SORT_KEY_MAX


def test_the_databases_sql_reads_every_quota_as_python_does(personas):
    """The migration and the benchmark fill the table with the database's reading of the
    strings: it must be the recompute's (Python's), or the recompute would rewrite them."""
    Mailbox.objects.bulk_create(
        Mailbox(username=f"q{i}@a.test", uid=f"q{i}", domain_id="a.test", quota=quota)
        for i, quota in enumerate(HOSTILE_QUOTAS)
    )
    assert sortkeys.fill_missing_sql(connection) == len(HOSTILE_QUOTAS)
    stored = keys_of("a.test")
    for i, quota in enumerate(HOSTILE_QUOTAS):
        assert stored[f"q{i}@a.test"] == quota_sort_key(quota), quota
    assert sortkeys.SORT_KEYS.reindex_all() == 0
    assert sortkeys.fill_missing_sql(connection) == 0  # only the mailboxes without a key


def test_the_migration_fills_the_keys_of_existing_mailboxes(personas):
    Mailbox.objects.bulk_create(
        Mailbox(username=f"m{i}@b.test", uid=f"m{i}", domain_id="b.test", quota=f"{i * MB}S")
        for i in range(30)
    )
    MailboxSortKey.objects.all().delete()
    migration = importlib.import_module("mailboxes.migrations.0004_mailbox_sort_key")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.fill(None, editor)
    assert keys_of("b.test") == {f"m{i}@b.test": i * MB for i in range(30)}
    assert key_of("user@a.test") == 0
    assert sortkeys.SORT_KEYS.reindex_all() == 0


# --- write paths -------------------------------------------------------------------------------
def test_create_edit_rename_and_delete_keep_the_key(personas):
    root = personas["superadmin"]
    mailbox = services.mailbox_create(
        domain="a.test", local_part="kim", password=PASSWORD, quota=100, actor=root
    )
    assert key_of("kim@a.test") == 100 * MB
    mailbox = services.mailbox_update(mailbox=mailbox, quota=250, actor=root)
    assert key_of("kim@a.test") == 250 * MB
    services.mailbox_update(mailbox=mailbox, name="Kim Lee", actor=root)
    assert key_of("kim@a.test") == 250 * MB
    renamed = services.mailbox_rename(mailbox=mailbox, local_part="kim.lee", actor=root)
    assert key_of("kim@a.test") is None
    assert MailboxSortKey.objects.get(address=renamed.username).quota_bytes == 250 * MB
    services.mailbox_delete(mailbox=renamed, actor=root)
    assert not MailboxSortKey.objects.filter(address__startswith="kim").exists()


def test_an_import_gives_every_mailbox_its_key(personas):
    rows = [{"local_part": f"p{i}", "quota": str(10 + i), "password": PASSWORD} for i in range(3)]
    bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["admin_a"])
    assert {a: q for a, q in keys_of("a.test").items() if a.startswith("p")} == {
        f"p{i}@a.test": (10 + i) * MB for i in range(3)
    }


def test_a_domain_rename_and_delete_move_and_forget_the_keys(personas, make_domain):
    root = personas["superadmin"]
    make_domain("old.test")
    services.mailbox_create(
        domain="old.test", local_part="li", password=PASSWORD, quota=5, actor=root
    )
    domain_rename(domain="old.test", new_name="new.test", actor=root)
    assert keys_of("new.test") == {"li@new.test": 5 * MB}
    assert keys_of("old.test") == {}
    domain_delete(domain="new.test", delete_all=True, confirm_domain="new.test", actor=root)
    assert not MailboxSortKey.objects.filter(domain__in=["old.test", "new.test"]).exists()


@pytest.mark.parametrize("chunk", [2, 5000])
def test_the_recompute_corrects_rows_written_behind_the_panels_back(
    personas, make_mailbox, monkeypatch, chunk
):
    from domains.tasks import recompute_usage

    monkeypatch.setattr(derived, "CHUNK", chunk)  # the walk crosses chunks, or not
    for i in range(5):
        make_mailbox(f"k{i}@a.test", quota=f"{i}S")
    make_mailbox("x@a.test", quota="5S")  # an ORM save: keyed
    assert key_of("x@a.test") == 5
    # ExtMan writes: a quota change, a new row, a deleted row (no signals)
    Mailbox.objects.filter(pk="x@a.test").update(quota="104857600S,10C")
    Mailbox.objects.bulk_create([Mailbox(username="y@a.test", uid="y", domain_id="a.test")])
    MailboxSortKey.objects.create(address="gone@a.test", domain="a.test", quota_bytes=1)
    MailboxSortKey.objects.create(address="zz-gone@b.test", domain="b.test", quota_bytes=1)
    assert indexes.reindex_all()[MailboxSortKey._meta.db_table] == 2 + 1 + 2
    assert key_of("x@a.test") == 104857600
    assert key_of("y@a.test") == 0
    assert key_of("gone@a.test") is None and key_of("zz-gone@b.test") is None
    assert keys_of("a.test")["k3@a.test"] == 3
    Mailbox.objects.filter(pk="y@a.test").update(quota="7")
    recompute_usage()  # the periodic task
    assert key_of("y@a.test") == 7


# --- the list ----------------------------------------------------------------------------------
@pytest.fixture
def hostile(personas, make_mailbox):
    """70 mailboxes of a.test with hostile legacy quotas (many ties), keyed by their saves."""
    for i in range(70):
        make_mailbox(f"h{i:03d}@a.test", quota=HOSTILE_QUOTAS[i % len(HOSTILE_QUOTAS)])
    recompute_all()


def expected_order(domain: str, descending: bool) -> list[str]:
    rows = [
        (quota_sort_key(q), a)
        for a, q in Mailbox.objects.filter(domain_id=domain).values_list("username", "quota")
    ]
    return [a for _q, a in sorted(rows, reverse=descending)]


def rows_of(response) -> list[str]:
    assert response.status_code == 200
    return [m.pk for m in response.context["listing"].objects]


@pytest.mark.parametrize("sort", ["quota", "-quota"])
def test_the_quota_order_walks_hostile_quotas_across_page_boundaries(client_as, hostile, sort):
    client = client_as("superadmin")
    expected = expected_order("a.test", sort.startswith("-"))
    assert len(expected) == 71
    base = f"/mailboxes/?domain=a.test&sort={sort}"
    forward = []
    response = client.get(base)
    for _ in range(5):
        forward += rows_of(response)
        listing = response.context["listing"]
        if not listing.has_next:
            break
        response = client.get(f"{base}&page={listing.next_number}&after={listing.next_token}")
    assert forward == expected
    backward = []
    response = client.get(f"{base}&last=1")
    for _ in range(5):
        backward = rows_of(response) + backward
        listing = response.context["listing"]
        if not listing.has_previous:
            break
        response = client.get(f"{base}&before={listing.previous_token}")
    assert backward == expected
    for number in (1, 2, 3):
        assert rows_of(client.get(f"{base}&page={number}")) == expected[(number - 1) * 25 :][:25]


def test_a_domain_admin_sees_only_their_mailboxes_in_quota_order(client_as, hostile):
    # stale keys: one of b.test filed under a.test, one of a mailbox that is gone
    MailboxSortKey.objects.create(address="other@b.test", domain="a.test", quota_bytes=1)
    Mailbox.objects.bulk_create([Mailbox(username="other@b.test", uid="o", domain_id="b.test")])
    MailboxSortKey.objects.create(address="gone@a.test", domain="a.test", quota_bytes=2)
    shown = []
    client = client_as("admin_a")
    for number in (1, 2, 3):
        shown += rows_of(client.get(f"/mailboxes/?domain=a.test&sort=quota&page={number}"))
    assert shown == expected_order("a.test", False)
    assert "other@b.test" not in rows_of(client.get("/mailboxes/?sort=quota&per_page=200"))


def test_a_mailbox_without_a_key_joins_the_quota_order_at_the_recompute(client_as, hostile):
    Mailbox.objects.bulk_create(
        [Mailbox(username="extman@a.test", uid="extman", domain_id="a.test", quota="1S")]
    )
    client = client_as("superadmin")
    url = "/mailboxes/?domain=a.test&sort=quota&per_page=200"
    assert "extman@a.test" not in rows_of(client.get(url))
    # every other order and a search show it; a search sorts it first (no key yet: NULL)
    assert "extman@a.test" in rows_of(client.get("/mailboxes/?domain=a.test&per_page=200"))
    assert rows_of(client.get(f"{url}&q=extman")) == ["extman@a.test"]
    assert rows_of(client.get(f"{url}&q=h0"))[0:1] != ["extman@a.test"]
    indexes.reindex_all()
    assert rows_of(client.get(url)) == expected_order("a.test", False)


def test_a_search_sorted_by_quota_uses_the_same_keys(client_as, hostile):
    rows = rows_of(client_as("superadmin").get("/mailboxes/?domain=a.test&sort=-quota&q=h00"))
    assert rows == [a for a in expected_order("a.test", True) if a.startswith("h00")]


@pytest.mark.parametrize("size", [40, 160])
def test_quota_pages_cost_the_same_queries_at_two_sizes(client_as, personas, make_mailbox, size):
    Mailbox.objects.bulk_create(
        Mailbox(username=f"s{i:04d}@a.test", uid=f"s{i}", domain_id="a.test", quota=f"{i % 9}S")
        for i in range(size)
    )
    recompute_all()
    indexes.reindex_all()
    client = client_as("admin_a")
    base = "/mailboxes/?domain=a.test&sort=-quota"
    client.get(base)
    counts = []
    for query in ("", "&page=2", "&last=1"):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(base + query)
        counts.append(len(captured))
    listing = response.context["listing"]
    with CaptureQueriesContext(connection) as captured:
        client.get(f"{base}&before={listing.previous_token}")
    counts.append(len(captured))
    # session, manager, the visible domain with its usage, the keys of the page, its rows
    assert counts == [5, 5, 5, 5]


@pytest.mark.mariadb
def test_on_mariadb_a_deep_quota_page_is_a_range_read_of_the_sort_key_index(client_as, hostile):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    client = client_as("admin_a")
    first = client.get("/mailboxes/?domain=a.test&sort=-quota").context["listing"]
    with CaptureQueriesContext(connection) as captured:
        rows_of(client.get(f"/mailboxes/?domain=a.test&sort=-quota&after={first.next_token}"))
    keys = next(q["sql"] for q in captured.captured_queries if "FORCE INDEX" in q["sql"])
    assert "mailadmin_mailbox_sort_key" in keys
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {keys}")
        columns = [c[0] for c in cursor.description]
        plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    plan = plans[0]
    assert plan["type"] == "range" and plan["key"] == "mailadmin_sort_key_quota", plans
    assert "filesort" not in (plan["Extra"] or "") and "Using index" in plan["Extra"], plans
    assert all(p["type"] == "eq_ref" for p in plans[1:]), plans


# --- the domain list by a usage figure --------------------------------------------------------
@pytest.fixture
def many_domains(personas):
    Domain.objects.bulk_create(Domain(domain=f"d{i:02d}.test") for i in range(60))
    Mailbox.objects.bulk_create(
        Mailbox(username=f"u{j}@d{i:02d}.test", uid=f"u{j}", domain_id=f"d{i:02d}.test")
        for i in range(60)
        for j in range(i % 7)
    )
    recompute_all()


def test_a_domain_without_a_usage_row_joins_the_users_order_at_the_recompute(
    client_as, many_domains
):
    Domain.objects.bulk_create([Domain(domain="late.test")])  # behind the panel's back
    client = client_as("superadmin")
    assert "late.test" not in rows_of(client.get("/domains/?sort=users&per_page=200"))
    recompute_all()
    shown = rows_of(client.get("/domains/?sort=users&per_page=200"))
    assert "late.test" in shown and len(shown) == 63
    users = dict(DomainUsage.objects.values_list("domain", "mailboxes"))
    assert shown == sorted(shown, key=lambda d: (users[d], d))


@pytest.mark.mariadb
def test_on_mariadb_the_domains_by_users_are_read_from_the_usage_index(client_as, many_domains):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    client = client_as("superadmin")
    first = client.get("/domains/?sort=-users").context["listing"]
    with CaptureQueriesContext(connection) as captured:
        rows_of(client.get(f"/domains/?sort=-users&after={first.next_token}"))
    keys = next(q["sql"] for q in captured.captured_queries if "FORCE INDEX" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {keys}")
        columns = [c[0] for c in cursor.description]
        plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    plan = plans[0]
    assert plan["table"] == "mailadmin_domain_usage", plans
    assert plan["type"] == "range" and plan["key"] == "mailadmin_usage_mailboxes", plans
    assert "filesort" not in (plan["Extra"] or ""), plans
