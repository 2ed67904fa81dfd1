"""The overview (SPEC §3.2): counts and usage against limits, scoped to the manager."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import DomainManager
from aliases.models import Alias
from conftest import PERSONAS
from domains.models import Domain
from provisioning.models import Job
from signup.models import SignupRequest

pytestmark = pytest.mark.django_db

MB = 1_048_576


@pytest.fixture
def data(personas, make_mailbox):
    make_mailbox("two@a.test", quota=f"{30 * MB}S", netdiskquota=f"{5 * MB}S")
    make_mailbox("one@b.test")
    Alias.objects.create(address="x@a.test", goto="two@a.test", domain_id="a.test")
    Alias.objects.create(address="y@b.test", goto="one@b.test", domain_id="b.test")
    # A mailbox's own forwarding alias is not counted as an alias.
    Alias.objects.create(address="two@a.test", goto="two@a.test,far@c.test", domain_id="a.test")
    Domain.objects.filter(pk="a.test").update(maxusers=5, maxalias=0, maxquota=f"{100 * MB}S")
    for state, domain in (("failed", "a.test"), ("failed", "b.test"), ("pending", "a.test")):
        Job.objects.create(kind=Job.Kind.MAILDIR_CREATE, state=state, domain=domain, queue="q")
    # Two pending signups for a.test, one for b.test, and a decided one that does not count.
    for local, domain, state in (
        ("p1", "a.test", "pending"),
        ("p2", "a.test", "pending"),
        ("p3", "b.test", "pending"),
        ("done", "a.test", "rejected"),
    ):
        SignupRequest.objects.create(
            domain=domain,
            local_part=local,
            address=f"{local}@{domain}",
            pending_address=f"{local}@{domain}" if state == "pending" else None,
            password_hash="$1$x$y",
            state=state,
            expires_at=timezone.now() + datetime.timedelta(days=1),
        )


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        (
            "superadmin",
            {"domains": 2, "mailboxes": 3, "aliases": 2, "failed-jobs": 2, "signups": 3},
        ),
        ("admin_a", {"domains": 1, "mailboxes": 2, "aliases": 1, "failed-jobs": 1, "signups": 2}),
        ("admin_b", {"domains": 1, "mailboxes": 1, "aliases": 1, "failed-jobs": 1, "signups": 1}),
    ],
)
def test_the_counts_are_scoped_to_the_manager(client_as, data, persona, expected):
    response = client_as(persona).get("/")
    assert response.status_code == 200
    counts = response.context["counts"]
    assert counts == {
        "domains": expected["domains"],
        "mailboxes": expected["mailboxes"],
        "aliases": expected["aliases"],
        "failed_jobs": expected["failed-jobs"],
        "pending_signups": expected["signups"],
    }
    body = response.content.decode()
    for testid in (
        "count-domains",
        "count-mailboxes",
        "count-aliases",
        "count-signups",
        "count-failed-jobs",
    ):
        assert f'data-testid="{testid}"' in body


def test_usage_is_shown_against_the_limits(client_as, data):
    body = client_as("admin_a").get("/").content.decode()
    assert "2 / 5" in body  # mailboxes
    assert "1 / unlimited" in body  # aliases
    assert "30 MB / 100 MB" in body  # allocated quota (user@a.test has 0)
    assert "5 MB / unlimited" in body  # netdisk
    assert f'<meter class="d-block w-100" min="0" max="{100 * MB}"' in body
    assert "style=" not in body
    assert "b.test" not in body


def test_the_signed_in_line_and_each_domain_name_appear_once(client_as, data, make_manager):
    DomainManager.objects.create(manager_id="admin@a.test", domain_id="a.test")  # legacy duplicate
    body = client_as("admin_a").get("/").content.decode()
    assert (
        'data-testid="signed-in-as"' in body and "Signed in as admin@a.test (Domain admin)." in body
    )
    assert body.count("a.test</span>") == 1


def test_an_idn_domain_is_shown_in_unicode(client_as, make_domain):
    make_domain("xn--bcher-kva.test")
    assert "<span>bücher.test</span>" in client_as("superadmin").get("/").content.decode()


def test_the_domains_are_paged_searched_and_sorted(client_as, make_domain, make_mailbox):
    for i in range(30):
        make_domain(f"d{i:02}.test")
    make_mailbox("x@d07.test")
    make_mailbox("y@d07.test")
    client = client_as("superadmin")
    assert len(client.get("/").context["listing"].objects) == 25
    assert len(client.get("/?page=2").context["listing"].objects) == 7
    assert client.get("/?sort=-users").context["listing"].objects[0].pk == "d07.test"
    found = [d.pk for d in client.get("/?q=d2").context["listing"].objects]
    assert found == [f"d2{i}.test" for i in range(10)]


def test_the_superadmin_without_domains_is_told_what_to_do(client_as, make_manager):
    Domain.objects.all().delete()
    body = client_as("superadmin").get("/").content.decode()
    assert "No domains yet." in body and 'href="/domains/add/"' in body


def test_a_domain_admin_without_domains_is_told_whom_to_ask(make_manager):
    client = Client()
    client.force_login(make_manager("lonely@x.test"))
    body = client.get("/").content.decode()
    assert "Ask a superadmin" in body and "/domains/add/" not in body


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_persona_gets_the_expected_answer(client_as, persona, method):
    response = getattr(client_as(persona), method)("/")
    if persona in ("anonymous", "user_a"):
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    else:
        assert response.status_code == (200 if method == "get" else 405)


def _populate(make_domain, make_mailbox, size: int) -> None:
    for i in range(size):
        name = f"q{i:03}.test"
        make_domain(name, maxusers=10, maxquota=f"{500 * MB}S")
        make_mailbox(f"m@{name}", quota=f"{10 * MB}S")
        Alias.objects.create(address=f"al@{name}", goto=f"m@{name}", domain_id=name)
        DomainManager.objects.create(manager_id="admin@a.test", domain_id=name)
        Job.objects.create(kind=Job.Kind.MAILDIR_CREATE, state="failed", domain=name, queue="q")


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
@pytest.mark.parametrize("size", [3, 30])
def test_the_overview_takes_a_constant_number_of_queries(
    client_as, make_domain, make_mailbox, django_assert_num_queries, persona, size
):
    _populate(make_domain, make_mailbox, size)
    client = client_as(persona)
    # The domains were written behind the panel's back: the first read creates their usage
    # rows (the names, two grouped counts, one insert, totals again), whatever their number.
    # session, manager, totals + 5, failed jobs, pending signups, listing page (the listing's
    # total is the number of domains of the totals: no count of its own); a superadmin's
    # totals first read the usage table alone, which has fewer rows than there are domains
    with django_assert_num_queries(12 if persona == "superadmin" else 11):
        client.get("/?per_page=100")
    # session, manager, totals, failed jobs, pending signups, listing page
    with django_assert_num_queries(6):
        response = client.get("/?per_page=100")
    assert response.context["counts"]["failed_jobs"] == size
    assert len(response.context["listing"].objects) == size + (2 if persona == "superadmin" else 1)


def test_a_superadmins_totals_are_right_when_the_usage_rows_do_not_match_the_domains(
    client_as, personas, make_domain
):
    from domains.models import DomainUsage
    from domains.selectors import usage_totals

    expected = usage_totals(Domain.objects.filter(pk__isnull=False))  # the joined reading
    assert usage_totals(Domain.objects.all()) == expected
    # A domain deleted behind the panel's back leaves its usage row: the table alone would
    # count one domain too many and its mailboxes; the joined reading is used instead.
    DomainUsage.objects.create(domain_id="gone.test", mailboxes=500, aliases=7)
    assert usage_totals(Domain.objects.all()) == expected
