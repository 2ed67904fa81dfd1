"""Domain pages: the permission matrix, forms end to end, bad input and query counts."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import DomainManager
from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PERSONAS
from domains.models import Domain
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = pytest.mark.django_db

MB = 1_048_576
VALID = {
    "description": "",
    "maxusers": "0",
    "maxalias": "0",
    "maxquota": "0",
    "maxnetdiskquota": "0",
    "transport": "",
    "active": "on",
    "expiredate": "",
    "default_quota": "",
    "default_netdiskquota": "",
    "default_expire": "",
    "enable_smtpd": "on",
    "enable_smtp": "on",
    "enable_webmail": "on",
    "enable_netdisk": "on",
    "enable_imap": "on",
    "enable_pop3": "on",
}

# (url, superadmin GET, domain admin of a.test GET, admin of b.test GET)
PAGES = [
    ("/domains/", 200, 200, 200),
    ("/domains/a.test/", 200, 200, 404),
    ("/domains/b.test/", 200, 404, 200),
    ("/domains/nope.test/", 404, 404, 404),
    ("/domains/add/", 200, 404, 404),
    ("/domains/a.test/edit/", 200, 404, 404),
    ("/domains/a.test/delete/", 200, 404, 404),
    ("/domains/a.test/rename/", 200, 404, 404),
    ("/domains/nope.test/edit/", 404, 404, 404),
]
READ_ONLY = {"/domains/", "/domains/a.test/", "/domains/b.test/", "/domains/nope.test/"}


def snapshot_all() -> dict:
    return {
        "domains": list(Domain.objects.order_by("pk").values()),
        "mailboxes": list(Mailbox.objects.order_by("pk").values()),
        "aliases": list(Alias.objects.order_by("pk").values()),
        "managers": sorted(DomainManager.objects.values_list("manager_id", "domain_id")),
        "jobs": Job.objects.count(),
        "audit": AuditEntry.objects.exclude(action__startswith="auth.").count(),
    }


def expected_status(persona: str, url: str, method: str) -> int:
    if persona in ("anonymous", "user_a"):
        return 302
    row = next(p for p in PAGES if p[0] == url)
    get_status = {"superadmin": row[1], "admin_a": row[2], "admin_b": row[3]}[persona]
    if method == "post" and url in READ_ONLY:
        # Read-only pages refuse POST to those who may see them; the others get the 404
        # of any method.
        return 405 if get_status == 200 else get_status
    if method == "post" and get_status == 200:
        return 200  # an empty POST redisplays the form with errors
    return get_status


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [p[0] for p in PAGES])
def test_every_page_answers_each_persona_as_expected_and_changes_nothing(
    client_as, persona, method, url
):
    client = client_as(persona)
    before = snapshot_all()
    response = getattr(client, method)(url)
    assert response.status_code == expected_status(persona, url, method)
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")
    assert snapshot_all() == before
    body = response.content.decode()
    if persona == "admin_b":
        assert "a.test" not in body
    if persona == "admin_a":
        assert "b.test" not in body


def test_a_domain_admin_sees_their_domain_read_only(client_as):
    body = client_as("admin_a").get("/domains/a.test/").content.decode()
    assert 'data-testid="domain-name"' in body
    assert "/domains/a.test/edit/" not in body and "/domains/a.test/delete/" not in body
    listing = client_as("admin_a").get("/domains/").content.decode()
    assert "/domains/add/" not in listing and "/domains/a.test/" in listing


def test_the_superadmin_sees_every_action(client_as):
    body = client_as("superadmin").get("/domains/a.test/").content.decode()
    for action in ("edit", "delete", "rename"):
        assert f"/domains/a.test/{action}/" in body


def test_the_detail_page_shows_usage_admins_and_open_jobs(client_as, make_mailbox):
    Domain.objects.filter(pk="a.test").update(maxusers=5, maxquota=f"{100 * MB}S")
    Mailbox.objects.filter(pk="user@a.test").update(quota=f"{30 * MB}S")
    Job.objects.create(
        kind=Job.Kind.MAILDIR_CREATE,
        state=Job.State.FAILED,
        domain="a.test",
        queue="maildir.default",
        object_id="user@a.test",
        last_error="disk full",
    )
    Job.objects.create(
        kind=Job.Kind.MAILDIR_CREATE,
        state=Job.State.DONE,
        domain="a.test",
        queue="maildir.default",
        object_id="done@a.test",
    )
    DomainManager.objects.create(manager_id="admin@a.test", domain_id="a.test")  # legacy duplicate
    body = client_as("admin_a").get("/domains/a.test/").content.decode()
    assert "1 / 5" in body and "30 MB / 100 MB" in body
    assert '<meter class="d-block w-100" min="0" max="5"' in body
    assert body.count('<li class="list-group-item">admin@a.test</li>') == 1
    assert "disk full" in body and "done@a.test" not in body
    assert "style=" not in body


def test_an_idn_domain_is_shown_in_unicode_and_reached_by_either_name(client_as, make_domain):
    make_domain("xn--bcher-kva.test")
    client = client_as("superadmin")
    assert "bücher.test" in client.get("/domains/xn--bcher-kva.test/").content.decode()
    assert client.get("/domains/Bücher.test/").status_code == 200


# --- add / edit / delete / rename through the forms -------------------------------------------


def test_adding_a_domain_through_the_form(client_as):
    response = client_as("superadmin").post(
        "/domains/add/",
        {
            **VALID,
            "domain": "New.Test",
            "maxquota": "100",
            "default_expire": "1Y",
            "expiredate": "2031-05-06",
            "transport": "smtp:[relay.test]:25",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/domains/new.test/"
    stored = Domain.objects.get(pk="new.test")
    assert stored.maxquota == f"{100 * MB}S" and stored.default_expire == "1y"
    assert str(stored.expiredate) == "2031-05-06" and stored.transport == "smtp:[relay.test]:25"
    assert stored.description == "virtualDomain for new.test"


def test_adding_an_existing_domain_shows_a_friendly_error(client_as):
    response = client_as("superadmin").post("/domains/add/", {**VALID, "domain": "A.test"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Domain.objects.count() == 2


def test_editing_keeps_unchanged_legacy_values(client_as):
    Domain.objects.filter(pk="a.test").update(maxquota="104857601", transport="", disableimap=None)
    client = client_as("superadmin")
    form = client.get("/domains/a.test/edit/").context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None and v is not False}
    data = {k: ("on" if v is True else v) for k, v in data.items()}
    response = client.post("/domains/a.test/edit/", {**data, "description": "Sales"})
    assert response.status_code == 302
    stored = Domain.objects.get(pk="a.test")
    assert (stored.maxquota, stored.transport, stored.disableimap) == ("104857601", "", None)
    assert stored.description == "Sales"


def test_editing_with_apply_template_updates_the_mailboxes(client_as):
    data = {**VALID, "apply_template": "on"}
    del data["enable_pop3"]
    assert client_as("superadmin").post("/domains/a.test/edit/", data).status_code == 302
    assert Mailbox.objects.get(pk="user@a.test").disablepop3 == 1


def test_lowering_a_limit_below_usage_shows_the_error_on_the_field(client_as, make_mailbox):
    make_mailbox("two@a.test")
    before = snapshot_all()
    response = client_as("superadmin").post("/domains/a.test/edit/", {**VALID, "maxusers": "1"})
    assert response.status_code == 200
    assert response.context["form"].errors["maxusers"]
    assert snapshot_all() == before


def test_deleting_an_empty_domain_after_confirmation(client_as, make_domain):
    make_domain("empty.test")
    client = client_as("superadmin")
    page = client.get("/domains/empty.test/delete/").content.decode()
    assert 'data-testid="confirm"' in page and "confirm_domain" not in page
    response = client.post("/domains/empty.test/delete/")
    assert response.status_code == 302 and response["Location"] == "/domains/"
    assert not Domain.objects.filter(pk="empty.test").exists()


def test_deleting_a_domain_with_mailboxes_needs_the_box_and_the_name(client_as):
    client = client_as("superadmin")
    assert "confirm_domain" in client.get("/domains/a.test/delete/").content.decode()
    before = snapshot_all()
    for data in (
        {},
        {"delete_all": "on"},
        {"delete_all": "on", "confirm_domain": "b.test"},
        {"confirm_domain": "a.test"},
    ):
        assert client.post("/domains/a.test/delete/", data).status_code == 200
        assert snapshot_all() == before
    response = client.post(
        "/domains/a.test/delete/", {"delete_all": "on", "confirm_domain": "a.test"}
    )
    assert response.status_code == 302
    assert not Domain.objects.filter(pk="a.test").exists()
    assert not Mailbox.objects.filter(domain_id="a.test").exists()
    assert Job.objects.filter(kind=Job.Kind.DOMAIN_ARCHIVE, domain="a.test").count() == 1


def test_renaming_through_the_form(client_as):
    response = client_as("superadmin").post("/domains/a.test/rename/", {"domain": "C.test"})
    assert response.status_code == 302 and response["Location"] == "/domains/c.test/"
    assert Mailbox.objects.filter(pk="user@c.test", homedir="c.test/user").exists()


@pytest.mark.parametrize("name", ["b.test", "a.test", "../etc", "x", "a b.test", "x" * 300])
def test_renaming_to_a_bad_name_changes_nothing(client_as, name):
    before = snapshot_all()
    response = client_as("superadmin").post("/domains/a.test/rename/", {"domain": name})
    assert response.status_code == 200
    assert response.context["form"].errors["domain"]
    assert snapshot_all() == before


BAD_INPUT = [
    ("domain", "../etc"),
    ("domain", "a..test"),
    ("domain", "nodot"),
    ("domain", "-x.test"),
    ("domain", "x" * 300 + ".test"),
    ("domain", "a.test/../b.test"),
    ("description", "x" * 256),
    ("maxusers", "-1"),
    ("maxusers", "1.5"),
    ("maxusers", "99999999999"),
    ("maxalias", "-3"),
    ("maxquota", "-1"),
    ("maxquota", "abc"),
    ("maxquota", "999999999999"),
    ("maxnetdiskquota", "-1"),
    ("default_quota", "-1"),
    ("default_netdiskquota", "x"),
    ("default_expire", "1x"),
    ("default_expire", "-1d"),
    ("default_expire", "forever"),
    ("default_expire", "12345d"),
    ("expiredate", "2024-02-30"),
    ("expiredate", "31/12/2030"),
    ("expiredate", "tomorrow"),
    ("transport", "smtp:[a] b"),
    ("transport", "smtp:a,b"),
    ("transport", "smtp:a\nb"),
    ("transport", "nocolon"),
]


@pytest.mark.parametrize(("field", "value"), BAD_INPUT)
def test_bad_input_gives_a_field_error_and_changes_nothing(client_as, field, value):
    client = client_as("superadmin")
    before = snapshot_all()
    response = client.post("/domains/add/", {**VALID, "domain": "new.test", field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    if field != "domain":
        response = client.post("/domains/a.test/edit/", {**VALID, field: value})
        assert response.status_code == 200
        assert response.context["form"].errors[field]
    assert snapshot_all() == before


def test_pages_carry_no_inline_style_or_script(client_as):
    client = client_as("superadmin")
    for url in (
        "/domains/",
        "/domains/a.test/",
        "/domains/add/",
        "/domains/a.test/edit/",
        "/domains/a.test/delete/",
        "/domains/a.test/rename/",
    ):
        body = client.get(url).content.decode()
        assert "style=" not in body and "<script>" not in body
        assert 'aria-label="breadcrumb"' in body


# --- the list ---------------------------------------------------------------------------------


def test_the_list_searches_sorts_and_pages(client_as, make_domain, make_mailbox):
    for i in range(30):
        make_domain(f"d{i:02}.test")
    make_mailbox("x@d05.test")
    make_mailbox("y@d05.test")
    client = client_as("superadmin")
    page = client.get("/domains/").context["listing"]
    assert page.total == 32 and len(page.objects) == 25
    assert [d.pk for d in client.get("/domains/?page=2").context["listing"].objects][
        -1
    ] == "d29.test"
    assert client.get("/domains/?sort=-users").context["listing"].objects[0].pk == "d05.test"
    assert [d.pk for d in client.get("/domains/?q=d1").context["listing"].objects] == [
        f"d1{i}.test" for i in range(10)
    ]
    assert client.get("/domains/?sort=bogus&per_page=7").status_code == 200


def test_the_empty_states_say_what_to_do(client_as, make_manager):
    client = client_as("superadmin")
    assert "Try another search" in client.get("/domains/?q=zzz").content.decode()
    Domain.objects.all().delete()
    assert "Add the first one." in client.get("/domains/").content.decode()
    lonely = make_manager("lonely@x.test")
    other = Client()
    other.force_login(lonely)
    assert "Ask a superadmin" in other.get("/domains/").content.decode()


def _populate(make_domain, make_mailbox, count: int) -> None:
    for i in range(count):
        name = f"q{i:03}.test"
        make_domain(name, maxusers=10, maxquota=f"{500 * MB}S")
        make_mailbox(f"m@{name}", quota=f"{10 * MB}S")
        Alias.objects.create(address=f"al@{name}", goto=f"m@{name}", domain_id=name)
        DomainManager.objects.create(manager_id="admin@a.test", domain_id=name)


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
@pytest.mark.parametrize("size", [3, 30])
def test_the_list_takes_a_constant_number_of_queries(
    client_as, make_domain, make_mailbox, django_assert_num_queries, persona, size
):
    _populate(make_domain, make_mailbox, size)
    client = client_as(persona)
    # The domains were written behind the panel's back: the first read creates the usage rows
    # of the page (two grouped counts, one insert), whatever their number.
    with django_assert_num_queries(7):
        client.get("/domains/?per_page=100")
    # session, manager, count, page
    with django_assert_num_queries(4):
        response = client.get("/domains/?per_page=100")
    assert len(response.context["listing"].objects) == size + (2 if persona == "superadmin" else 1)


def test_the_delete_page_reads_the_figures_of_the_usage_row_without_counting(
    client_as, personas, make_mailbox
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_mailbox("two@a.test")
    client = client_as("superadmin")
    client.get("/domains/a.test/")  # the usage row exists
    with CaptureQueriesContext(connection) as captured:
        body = client.get("/domains/a.test/delete/").content.decode()
    assert "2 mailboxes" in body and "still has mailboxes or aliases" in body
    assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]
