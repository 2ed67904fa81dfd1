"""The expiry page over many mailboxes: the same rows as a plain reading of every mailbox (zero
dates are "never", disabled mailboxes are left out), a query count that does not grow with
the table, and on MariaDB the mailboxes expired and expiring soon read as a range of the
(active, expiredate, username) index instead of a scan of every mailbox."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from domains.models import Domain
from mailadmin.lib import dates
from mailboxes.models import Mailbox

HORIZON = 30


def seed(count: int) -> None:
    """``count`` mailboxes in a.test and b.test and ``count // 10`` domains: expired, expiring
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
        for i in range(count // 10)
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
    expired = sorted(m.pk for m in rows if m.expiredate < today)
    soon = [
        m.pk
        for m in sorted(rows, key=lambda m: (m.expiredate, m.pk))
        if today <= m.expiredate <= until
    ]
    return expired[:200], soon[:200]


def expected_domains(persona: str) -> tuple[list[str], list[str]]:
    """The superadmin's domains by expiry (the domain admins' own have no date)."""
    if persona != "superadmin":
        return [], []
    today = dates.today()
    until = today + datetime.timedelta(days=HORIZON)
    rows = [d for d in Domain.objects.all() if d.active and d.expiredate is not None]
    expired = sorted(d.pk for d in rows if d.expiredate < today)
    soon = [
        d.pk
        for d in sorted(rows, key=lambda d: (d.expiredate, d.pk))
        if today <= d.expiredate <= until
    ]
    return expired[:200], soon[:200]


@pytest.fixture
def horizon(settings):
    settings.MAILADMIN_EXPIRY_NOTICE_DAYS = [14, 3]


@pytest.mark.parametrize(
    ("persona", "domains"),
    [("superadmin", {"a.test", "b.test"}), ("admin_a", {"a.test"}), ("admin_b", {"b.test"})],
)
def test_the_page_lists_what_a_reading_of_every_mailbox_finds(
    client_as, personas, horizon, persona, domains
):
    seed(500)  # more than the 200 rows shown in each table
    response = client_as(persona).get("/expiry/")
    assert response.status_code == 200
    expired, soon = expected(domains)
    assert expired and soon
    assert [m.pk for m in response.context["expired_mailboxes"]] == expired
    assert [m.pk for m in response.context["soon_mailboxes"]] == soon
    expired_domains, soon_domains = expected_domains(persona)
    assert expired_domains and soon_domains if persona == "superadmin" else not expired_domains
    assert [d.pk for d in response.context["expired_domains"]] == expired_domains
    assert [d.pk for d in response.context["soon_domains"]] == soon_domains


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
    mailbox_index = "active_expiry" if persona == "superadmin" else "domain_expiry"
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
