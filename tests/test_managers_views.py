"""Manager pages: superadmin only (404 for everyone else), forms, confirmation, query counts.

Who gets which page is in tests/test_permission_matrix.py; here, what each POST does.
"""

from __future__ import annotations

import pytest

from accounts.models import DomainManager, Manager
from audit.models import AuditEntry
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

NEW = {
    "username": "New@A.test",
    "name": "New admin",
    "type": "postmaster",
    "password1": "Fresh-Secret-42",
    "password2": "Fresh-Secret-42",
    "expiredate": "2099-12-31",
    "active": "on",
    "domains": ["a.test", "b.test"],
}


def expect(persona, response, ok_status):
    """Superadmin: ``ok_status``; other managers: 404; no manager session: login page."""
    if persona == "superadmin":
        assert response.status_code == ok_status
    elif persona in ("admin_a", "admin_b"):
        assert response.status_code == 404
    else:
        assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("persona", PERSONAS)
def test_adding_a_manager(client_as, persona):
    response = client_as(persona).post("/managers/add/", NEW)
    expect(persona, response, 302)
    created = Manager.objects.filter(pk="new@a.test").first()
    if persona == "superadmin":
        assert created.name == "New admin" and created.password.startswith("$1$")
        assert str(created.expiredate) == "2099-12-31"
        assert sorted(
            DomainManager.objects.filter(manager_id="new@a.test").values_list(
                "domain_id", flat=True
            )
        ) == ["a.test", "b.test"]
    else:
        assert created is None


@pytest.mark.parametrize("persona", PERSONAS)
def test_editing_a_manager(client_as, persona):
    response = client_as(persona).post(
        "/managers/admin@b.test/edit/",
        {"name": "Bea", "type": "postmaster", "active": "on", "domains": ["a.test"]},
    )
    expect(persona, response, 302)
    stored = Manager.objects.get(pk="admin@b.test")
    links = list(
        DomainManager.objects.filter(manager_id="admin@b.test").values_list("domain_id", flat=True)
    )
    if persona == "superadmin":
        assert stored.name == "Bea" and links == ["a.test"]
    else:
        assert stored.name == "" and links == ["b.test"]


@pytest.mark.parametrize("persona", PERSONAS)
def test_deleting_a_manager(client_as, persona):
    response = client_as(persona).post("/managers/admin@b.test/delete/")
    expect(persona, response, 302)
    exists = Manager.objects.filter(pk="admin@b.test").exists()
    assert exists == (persona != "superadmin")


def test_an_unknown_manager_is_404(client_as):
    assert client_as("superadmin").get("/managers/nobody@a.test/edit/").status_code == 404
    assert client_as("superadmin").post("/managers/nobody@a.test/delete/").status_code == 404


def test_the_add_form_has_the_contract_fields(client_as):
    body = client_as("superadmin").get("/managers/add/").content.decode()
    for name in (
        "username",
        "name",
        "type",
        "password1",
        "password2",
        "expiredate",
        "active",
        "disablepwdchange",
        "domains",
    ):
        assert f'name="{name}"' in body
    assert '<select name="domains"' in body and "multiple" in body


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "not an address"}, "username"),
        ({"username": "admin@a.test"}, "username"),
        ({"password2": "Something-Else-1"}, "password2"),
        ({"password1": "123", "password2": "123"}, "password2"),
        ({"password1": "", "password2": ""}, "password1"),
        ({"type": "king"}, "type"),
        ({"expiredate": "31/12/2099"}, "expiredate"),
        ({"domains": ["nowhere.test"]}, "domains"),
    ],
)
def test_bad_input_shows_field_errors_and_creates_nothing(client_as, change, field):
    before = Manager.objects.count(), DomainManager.objects.count()
    response = client_as("superadmin").post("/managers/add/", {**NEW, **change})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert (Manager.objects.count(), DomainManager.objects.count()) == before
    assert not AuditEntry.objects.exists()


def test_the_password_is_optional_on_edit_and_kept_when_empty(client_as, personas):
    old_hash = Manager.objects.get(pk="admin@a.test").password
    response = client_as("superadmin").post(
        "/managers/admin@a.test/edit/",
        {"name": "Al", "type": "postmaster", "active": "on", "domains": ["a.test"]},
    )
    assert response.status_code == 302
    assert Manager.objects.get(pk="admin@a.test").password == old_hash


def test_the_username_cannot_change_on_edit(client_as, personas):
    client_as("superadmin").post(
        "/managers/admin@a.test/edit/",
        {"username": "evil@a.test", "type": "postmaster", "active": "on"},
    )
    assert Manager.objects.filter(pk="admin@a.test").exists()
    assert not Manager.objects.filter(pk="evil@a.test").exists()


def test_the_edit_form_shows_the_current_values(client_as, personas):
    body = client_as("superadmin").get("/managers/admin@a.test/edit/").content.decode()
    assert '<option value="a.test" selected>' in body
    assert '<option value="b.test">' in body


def test_deleting_oneself_is_refused_with_a_message(client_as, make_manager):
    make_manager("second@panel.test", type="admin")
    client = client_as("superadmin")
    page = client.get("/managers/root@panel.test/delete/").content.decode()
    assert 'data-testid="delete-refused"' in page and 'data-testid="confirm"' not in page
    response = client.post("/managers/root@panel.test/delete/", follow=True)
    assert Manager.objects.filter(pk="root@panel.test").exists()
    assert "your own account" in response.content.decode()


def test_demoting_the_last_superadmin_shows_an_error_and_changes_nothing(client_as):
    response = client_as("superadmin").post(
        "/managers/root@panel.test/edit/", {"type": "postmaster", "active": "on"}
    )
    assert response.status_code == 200
    assert "last active superadmin" in response.content.decode()
    assert Manager.objects.get(pk="root@panel.test").is_superadmin


def test_the_list_shows_roles_and_domains(client_as, personas):
    DomainManager.objects.create(manager_id="admin@a.test", domain_id="a.test")  # duplicate
    response = client_as("superadmin").get("/managers/?q=admin@a")
    rows = response.context["rows"]
    assert [r["manager"].pk for r in rows] == ["admin@a.test"]
    assert rows[0]["domains"] == ["a.test"]


@pytest.mark.parametrize("size", [2, 40])
def test_the_list_runs_a_constant_number_of_queries(
    client_as, make_manager, django_assert_num_queries, size
):
    for i in range(size):
        make_manager(f"m{i}@a.test", domains=["a.test", "b.test"], password="x")
    client = client_as("superadmin")
    # session, manager, count, page, the page's domains, the page's authenticators
    with django_assert_num_queries(6):
        response = client.get("/managers/?per_page=25&sort=-username")
    assert response.status_code == 200
    assert len(response.context["rows"]) == min(size + 3, 25)
