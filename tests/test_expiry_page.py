"""The expiry page over many mailboxes: the same rows as a plain reading of every mailbox (zero
dates are "never", disabled mailboxes are left out), page by page through each table's own
"next" link, a query count that does not grow with the table, and on MariaDB the mailboxes
expired and expiring soon read as a range of the (active, expiredate, username) index (a
domain admin's: of the (domain, active, expiredate) index) instead of a scan of
every mailbox."""

from __future__ import annotations

import datetime
import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.models import Domain
from expiry.views import PAGE
from mailadmin.lib import dates
from mailboxes.models import Mailbox

HORIZON = 30


def seed(count: int) -> None:
    """``count`` mailboxes in a.test and b.test and ``count // 2`` domains: expired, expiring
    soon (ties on one date), later, never (the zero date), some of each disabled."""
    today = dates.today()
    offsets = [-40, -1, 0, 3, 3, 3, 29, 30, 31, 400, None]
    Domain.objects.bulk_create(
        Domain(
            domain=f"e{i:03d}.test",
            expiredate=None
            if offsets[i % len(offsets)] is None
            else today + datetime.timedelta(days=offsets[i % len(offsets)]),
            active=i % 4 != 0,
        )
        for i in range(count // 2)
    )
    Mailbox.objects.bulk_create(
        Mailbox(
            username=f"x{i:04d}@{'a' if i % 3 else 'b'}.test",
            uid=f"x{i}",
            domain_id="a.test" if i % 3 else "b.test",
            expiredate=None
            if offsets[i % len(offsets)] is None
            else today + datetime.timedelta(days=offsets[i % len(offsets)]),
            active=i % 5 != 0,
        )
        for i in range(count)
    )


def expected(domains: set[str]) -> tuple[list[str], list[str]]:
    today = dates.today()
    until = today + datetime.timedelta(days=HORIZON)
    rows = [
        m
        for m in Mailbox.objects.all()
        if m.active and m.expiredate is not None and m.domain_id in domains
    ]
    rows.sort(key=lambda m: (m.expiredate, m.pk))
    expired = [m.pk for m in rows if m.expiredate < today]
    soon = [m.pk for m in rows if today <= m.expiredate <= until]
    return expired, soon


def expected_domains(persona: str) -> tuple[list[str], list[str]]:
    """The superadmin's domains by expiry (the domain admins' own have no date)."""
    if persona != "superadmin":
        return [], []
    today = dates.today()
    until = today + datetime.timedelta(days=HORIZON)
    rows = [d for d in Domain.objects.all() if d.active and d.expiredate is not None]
    rows.sort(key=lambda d: (d.expiredate, d.pk))
    expired = [d.pk for d in rows if d.expiredate < today]
    soon = [d.pk for d in rows if today <= d.expiredate <= until]
    return expired, soon


@pytest.fixture
def horizon(settings):
    settings.MAILADMIN_EXPIRY_NOTICE_DAYS = [14, 3]


@pytest.mark.parametrize(
    ("persona", "domains"),
    [("superadmin", {"a.test", "b.test"}), ("admin_a", {"a.test"}), ("admin_b", {"b.test"})],
)
def read_all(client, name: str) -> list[str]:
    """Every row of the table ``name``, following its "next" links from the first page; each
    later page also links back to the first."""
    url, keys = "/expiry/", []
    while True:
        response = client.get(url)
        assert response.status_code == 200
        section = response.context[name]
        assert len(section.rows) <= PAGE
        keys += [row.pk for row in section.rows]
        assert bool(section.first_url) == (url != "/expiry/"), url
        if not section.next_url:
            return keys
        assert len(section.rows) == PAGE
        page = response.content.decode()
        assert unescape(section.next_url) in unescape(page)
        url = "/expiry/" + section.next_url.split("#")[0]


@pytest.mark.parametrize(
    ("persona", "domains"),
    [("superadmin", {"a.test", "b.test"}), ("admin_a", {"a.test"}), ("admin_b", {"b.test"})],
)
def test_the_page_lists_what_a_reading_of_every_mailbox_finds(
    client_as, personas, horizon, persona, domains
):
    seed(700)  # several pages in each table
    client = client_as(persona)
    expired, soon = expected(domains)
    assert len(expired) > PAGE and len(soon) > PAGE
    assert read_all(client, "expired_mailboxes") == expired
    assert read_all(client, "soon_mailboxes") == soon
    expired_domains, soon_domains = expected_domains(persona)
    if persona == "superadmin":
        assert len(expired_domains) > PAGE and len(soon_domains) > PAGE
    else:
        assert not expired_domains
    assert read_all(client, "expired_domains") == expired_domains
    assert read_all(client, "soon_domains") == soon_domains


def test_each_table_pages_on_its_own_and_a_bad_position_reads_from_the_start(
    client_as, personas, horizon
):
    seed(500)
    client = client_as("superadmin")
    first = client.get("/expiry/").context
    url = "/expiry/" + first["expired_mailboxes"].next_url.split("#")[0]
    second = client.get(url).context
    expired, soon = expected({"a.test", "b.test"})
    assert [m.pk for m in second["expired_mailboxes"]] == expired[PAGE : 2 * PAGE]
    # the other tables stay on their first page
    assert [m.pk for m in second["soon_mailboxes"]] == soon[:PAGE]
    for token in ["x", "eyJ4IjoxfQ", "WyJub3QtYS1kYXRlIiwiYUBhLnRlc3QiXQ", "%00" * 5]:
        response = client.get(f"/expiry/?expired_mailboxes={token}&soon_mailboxes={token}")
        assert response.status_code == 200, token
        assert [m.pk for m in response.context["expired_mailboxes"]] == expired[:PAGE]
    assert re.search(r'href="\?expired_mailboxes=[^"]+#expired_mailboxes"', first_page(client))


def first_page(client) -> str:
    return client.get("/expiry/").content.decode()


@pytest.mark.parametrize("size", [40, 400])
def test_the_page_costs_the_same_queries_at_two_sizes(client_as, personas, horizon, size):
    seed(size)
    counts = {}
    for persona in ("superadmin", "admin_a"):
        client = client_as(persona)
        client.get("/expiry/")
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/expiry/").status_code == 200
        counts[persona] = len(captured)
    # session, manager, the domains and the mailboxes expired and soon (each: the keys, then
    # the rows), the notices; a domain admin's domains first (none of theirs has a date)
    assert counts == {"superadmin": 11, "admin_a": 10}, counts


@pytest.mark.mariadb
@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
def test_on_mariadb_the_mailboxes_are_an_index_range(client_as, personas, horizon, persona):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    seed(400)
    with CaptureQueriesContext(connection) as captured:
        client_as(persona).get("/expiry/")
    reads = [q["sql"] for q in captured.captured_queries if "FORCE INDEX" in q["sql"]]
    assert len(reads) == 4, reads  # the domains and the mailboxes, expired and soon
    mailbox_index = "active_expiry" if persona == "superadmin" else "domain_active_expiry"
    for sql in reads:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}")
            columns = [c[0] for c in cursor.description]
            plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        plan = next(p for p in plans if p["table"] in ("mailbox", "domain"))
        index = "mailadmin_domain_active_expiry"
        if plan["table"] == "mailbox":
            index = f"mailadmin_mailbox_{mailbox_index}"
        assert plan["type"] == "range" and plan["key"] == index, (sql[-300:], plans)


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
def test_the_notices_page_latest_first_and_a_hand_made_position_reads_from_the_start(
    client_as, personas, persona
):
    from expiry.models import ExpiryNotice
    from mailadmin.lib.listing import encode_position

    today = dates.today()
    ExpiryNotice.objects.bulk_create(
        ExpiryNotice(
            object_type="mailbox",
            object_id=f"n{i:02d}@{'a' if i % 3 else 'b'}.test",
            domain="a.test" if i % 3 else "b.test",
            expiredate=today,
            days=3,
        )
        for i in range(60)
    )
    domains = {"a.test", "b.test"} if persona == "superadmin" else {"a.test"}
    visible = ExpiryNotice.objects.filter(domain__in=domains).order_by("-id")
    client = client_as(persona)
    assert read_all(client, "notices") == list(visible.values_list("pk", flat=True))
    # a time or a date where the page keeps a number: the first page, no error
    for value in (datetime.datetime(2020, 1, 1), datetime.date(2020, 1, 1), "x"):
        token = encode_position(value, value)
        response = client.get(f"/expiry/?notices={token}&expired_mailboxes={token}")
        assert response.status_code == 200
        assert [n.pk for n in response.context["notices"]] == list(
            visible.values_list("pk", flat=True)[:PAGE]
        )
