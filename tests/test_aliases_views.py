"""Alias pages: every URL, persona and method; forms, messages, query counts, goto input."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from aliases.forms import GotoField
from aliases.models import Alias
from aliases.services import normalize_target
from audit.models import AuditEntry
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

MANAGERS = ("superadmin", "admin_a", "admin_b")
# Who may work on a.test: the superadmin and a.test's admin.
ALLOWED_ON_A = {"superadmin", "admin_a"}


@pytest.fixture
def aliases(personas):
    Alias.objects.create(address="sales@a.test", goto="boss@example.org", domain_id="a.test")
    Alias.objects.create(address="@a.test", goto="user@a.test", domain_id="a.test")
    Alias.objects.create(address="info@b.test", goto="boss@example.org", domain_id="b.test")
    # The forwarding alias of the mailbox user@a.test: shown on the mailbox, not here.
    Alias.objects.create(address="user@a.test", goto="fwd@example.org", domain_id="a.test")


def assert_login_redirect(response):
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


# --- permission matrix ------------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_answers_each_persona_and_shows_only_their_aliases(client_as, aliases, persona):
    response = client_as(persona).get("/aliases/")
    if persona not in MANAGERS:
        assert_login_redirect(response)
        return
    assert response.status_code == 200
    body = response.content.decode()
    assert ("sales@a.test" in body) == (persona in ALLOWED_ON_A)
    assert ("info@b.test" in body) == (persona in {"superadmin", "admin_b"})
    assert "fwd@example.org" not in body  # forwarding aliases are not listed


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_list_of_one_domain_is_404_for_outsiders(client_as, aliases, persona):
    response = client_as(persona).get("/aliases/?domain=a.test")
    if persona not in MANAGERS:
        assert_login_redirect(response)
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 200
        body = response.content.decode()
        assert "sales@a.test" in body and "info@b.test" not in body
    else:
        assert response.status_code == 404
        assert "sales@a.test" not in response.content.decode()


@pytest.mark.parametrize("persona", MANAGERS)
def test_an_unknown_or_invalid_domain_filter_is_404(client_as, aliases, persona):
    assert client_as(persona).get("/aliases/?domain=nowhere.test").status_code == 404
    assert client_as(persona).get("/aliases/?domain=not a domain").status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_add_page_answers_each_persona(client_as, aliases, persona):
    response = client_as(persona).get("/aliases/add/?domain=a.test")
    if persona not in MANAGERS:
        assert_login_redirect(response)
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 200
        body = response.content.decode()
        for name in ("local_part", "domain", "goto", "active"):
            assert f'name="{name}"' in body
        assert "catch-all" in body
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("persona", MANAGERS)
def test_the_domain_choices_are_the_users_domains(client_as, aliases, persona):
    body = client_as(persona).get("/aliases/add/").content.decode()
    assert ('value="a.test"' in body) == (persona in ALLOWED_ON_A)
    assert ('value="b.test"' in body) == (persona in {"superadmin", "admin_b"})


@pytest.mark.parametrize("persona", PERSONAS)
def test_adding_an_alias_in_a_test(client_as, aliases, persona):
    response = client_as(persona).post(
        "/aliases/add/",
        {"local_part": "New", "domain": "a.test", "goto": "X@Example.org\n", "active": "on"},
    )
    created = Alias.objects.filter(pk="new@a.test").first()
    if persona not in MANAGERS:
        assert_login_redirect(response)
        assert created is None
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 302
        assert response["Location"] == "/aliases/?domain=a.test"
        assert created.goto == "x@example.org" and created.active
    else:
        assert response.status_code == 200  # a.test is not one of the choices
        assert "a.test" not in response.context["form"].fields["domain"].choices
        assert response.context["form"].errors["domain"]
        assert created is None


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("address", ["sales@a.test", "@a.test"])
def test_the_edit_page_answers_each_persona(client_as, aliases, persona, address):
    response = client_as(persona).get(f"/aliases/{address}/edit/")
    if persona not in MANAGERS:
        assert_login_redirect(response)
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 200
        assert address in response.content.decode()
    else:
        assert response.status_code == 404
        assert "boss@example.org" not in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_editing_an_alias(client_as, aliases, persona):
    response = client_as(persona).post(
        "/aliases/sales@a.test/edit/", {"goto": "new@example.org\nnew@example.org"}
    )
    alias = Alias.objects.get(pk="sales@a.test")
    if persona not in MANAGERS:
        assert_login_redirect(response)
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 302
        assert alias.goto == "new@example.org" and alias.active is False
        return
    else:
        assert response.status_code == 404
    assert alias.goto == "boss@example.org" and alias.active


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_delete_page_asks_for_confirmation(client_as, aliases, persona):
    response = client_as(persona).get("/aliases/sales@a.test/delete/")
    if persona not in MANAGERS:
        assert_login_redirect(response)
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 200
        assert 'data-testid="confirm"' in response.content.decode()
    else:
        assert response.status_code == 404
    assert Alias.objects.filter(pk="sales@a.test").exists()


@pytest.mark.parametrize("persona", PERSONAS)
def test_deleting_an_alias(client_as, aliases, persona):
    response = client_as(persona).post("/aliases/@a.test/delete/")
    exists = Alias.objects.filter(pk="@a.test").exists()
    if persona not in MANAGERS:
        assert_login_redirect(response)
        assert exists
    elif persona in ALLOWED_ON_A:
        assert response.status_code == 302
        assert not exists
    else:
        assert response.status_code == 404
        assert exists


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("action", ["edit", "delete"])
def test_the_forwarding_alias_of_a_mailbox_is_not_reachable_here(
    client_as, aliases, method, action
):
    response = getattr(client_as("superadmin"), method)(f"/aliases/user@a.test/{action}/")
    assert response.status_code == 404
    assert Alias.objects.get(pk="user@a.test").goto == "fwd@example.org"


# --- forms and messages -----------------------------------------------------------------------


def test_bad_input_shows_field_errors_and_changes_nothing(client_as, aliases):
    response = client_as("superadmin").post(
        "/aliases/add/",
        {"local_part": "bad part!", "domain": "a.test", "goto": "ok@example.org\nnot-an-address"},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "local_part" in errors and "goto" in errors
    assert "not-an-address" in " ".join(errors["goto"])
    assert Alias.objects.count() == 4
    assert not AuditEntry.objects.exists()


def test_a_rule_broken_in_the_service_shows_on_the_field(client_as, aliases):
    response = client_as("superadmin").post(
        "/aliases/add/", {"local_part": "user", "domain": "a.test", "goto": "x@example.org"}
    )
    assert response.status_code == 200
    assert "already used by a mailbox" in " ".join(response.context["form"].errors["local_part"])


def test_a_self_target_on_edit_shows_on_the_goto_field(client_as, aliases):
    response = client_as("admin_a").post(
        "/aliases/sales@a.test/edit/", {"goto": "sales@a.test", "active": "on"}
    )
    assert response.status_code == 200
    assert "itself" in " ".join(response.context["form"].errors["goto"])
    assert Alias.objects.get(pk="sales@a.test").goto == "boss@example.org"


def test_creating_a_catchall_explains_how_mailboxes_keep_their_mail(client_as, aliases):
    response = client_as("admin_a").post(
        "/aliases/add/",
        {"local_part": "@", "domain": "b.test", "goto": "x@example.org"},
    )
    assert response.status_code == 200  # b.test is not admin_a's
    client = client_as("superadmin")
    response = client.post(
        "/aliases/add/",
        {"local_part": "@", "domain": "b.test", "goto": "x@example.org", "active": "on"},
        follow=True,
    )
    assert Alias.objects.get(pk="@b.test").goto == "x@example.org"
    body = response.content.decode()
    assert "catch-all of b.test" in body
    assert "answers them before the catch-all" in body


def test_a_missing_local_target_is_a_warning_not_an_error(client_as, aliases):
    response = client_as("admin_a").post(
        "/aliases/add/",
        {"local_part": "team", "domain": "a.test", "goto": "ghost@a.test\nuser@a.test"},
        follow=True,
    )
    assert Alias.objects.get(pk="team@a.test").goto == "ghost@a.test,user@a.test"
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1 and "ghost@a.test" in warnings[0]
    assert "user@a.test" not in warnings[0]


def test_an_idn_domain_may_be_sent_in_unicode(client_as, make_domain, personas):
    make_domain("xn--bcher-kva.example")
    response = client_as("superadmin").post(
        "/aliases/add/",
        {"local_part": "x", "domain": "bücher.example", "goto": "y@example.org"},
    )
    assert response.status_code == 302
    assert Alias.objects.filter(pk="x@xn--bcher-kva.example").exists()


def test_search_and_sort_work_on_the_list(client_as, aliases):
    client = client_as("superadmin")
    found = client.get("/aliases/?q=boss&match=contains").context["listing"].objects
    assert sorted(a.address for a in found) == ["info@b.test", "sales@a.test"]
    assert client.get("/aliases/?q=boss").context["listing"].objects == []  # a target only
    found = client.get("/aliases/?q=SAL").context["listing"].objects
    assert [a.address for a in found] == ["sales@a.test"]
    response = client.get("/aliases/?sort=-address")
    addresses = [a.address for a in response.context["listing"].objects]
    assert addresses == ["sales@a.test", "info@b.test", "@a.test"]


def test_the_empty_list_says_what_to_do_next(client_as, personas):
    body = client_as("admin_a").get("/aliases/?domain=a.test").content.decode()
    assert 'data-testid="empty-state"' in body and "/aliases/add/?domain=a.test" in body


# --- query counts -----------------------------------------------------------------------------


def _fill(n: int) -> None:
    Alias.objects.bulk_create(
        Alias(address=f"a{i}@a.test", goto=f"t{i}@example.org,u{i}@example.org", domain_id="a.test")
        for i in range(n)
    )


@pytest.mark.parametrize("size", [3, 60])
@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("superadmin", "/aliases/?per_page=50"),
        ("admin_a", "/aliases/?domain=a.test&per_page=50&q=a&sort=-active"),
    ],
)
def test_the_list_runs_a_constant_number_of_queries(
    client_as, personas, django_assert_num_queries, size, persona, url
):
    _fill(size)
    client = client_as(persona)
    # The aliases were written behind the panel's back: the first unsearched read creates the
    # domains' usage rows, which then give the count (a few queries, once).
    client.get("/aliases/")
    # session, manager, [domain filter], count (usage rows, or COUNT(*) for a search), page
    expected = 5 if "domain=" in url else 4
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    listing = response.context["listing"]
    assert len(listing.objects) == min(size, 50)
    assert listing.page.paginator.count == size


def test_the_unsearched_count_comes_from_the_usage_rows_without_forwarding(
    client_as, personas, make_mailbox
):
    make_mailbox("fw@a.test")
    Alias.objects.create(address="fw@a.test", goto="fw@a.test,x@example.org", domain_id="a.test")
    _fill(3)
    response = client_as("superadmin").get("/aliases/")
    assert response.context["listing"].page.paginator.count == 3
    searched = client_as("superadmin").get("/aliases/?q=a&match=contains")
    assert searched.context["listing"].page.paginator.count == 3


# --- the goto field takes any text ------------------------------------------------------------


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=30),
            st.from_regex(r"\A[a-zA-Z0-9._-]{1,10}@[a-zA-Z0-9-]{1,10}\.[a-z]{2,5}\Z"),
            st.from_regex(r"\A@[a-z0-9-]{1,10}\.[a-z]{2,5}\Z"),
        ),
        max_size=6,
    )
)
def test_any_goto_text_gives_a_clean_error_or_normalised_targets(lines):
    text = "\n".join(lines)
    try:
        targets = GotoField().clean(text)
    except ValidationError as exc:
        assert exc.messages and all(isinstance(m, str) and m for m in exc.messages)
        return
    assert targets, "a valid field has at least one target"
    assert len(targets) == len(set(targets))
    for target in targets:
        assert normalize_target(target) == target
        assert target == target.lower() or "xn--" in target
        assert "," not in target and not any(ch.isspace() for ch in target)
