"""The audit log page (SPEC §3.9): scoped, searchable, filtered, sorted, constant queries."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from audit.services import audit_record
from conftest import PERSONAS

pytestmark = pytest.mark.django_db

MANAGERS = ("superadmin", "admin_a", "admin_b")


@pytest.fixture
def entries(personas):
    root = personas["superadmin"]
    audit_record(
        actor=root,
        action="alias.update",
        object_type="alias",
        object_id="secret-a@a.test",
        domain="a.test",
        changes={"goto": ["old-a@example.org", "new-a@example.org"]},
    )
    audit_record(
        actor=personas["admin_b"],
        action="alias.create",
        object_type="alias",
        object_id="secret-b@b.test",
        domain="b.test",
        changes={"goto": [None, "target-b@example.org"]},
        message="note on b",
    )
    audit_record(
        actor=root,
        action="manager.create",
        object_type="manager",
        object_id="secret-m@panel.test",
        changes={"password": ["", "(changed)"]},
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_sees_only_their_domains_entries(client_as, entries, persona):
    response = client_as(persona).get("/audit/")
    if persona not in MANAGERS:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        return
    assert response.status_code == 200
    body = response.content.decode()
    assert ("secret-a@a.test" in body) == (persona in ("superadmin", "admin_a"))
    assert ("old-a@example.org" in body) == (persona in ("superadmin", "admin_a"))
    assert ("secret-b@b.test" in body) == (persona in ("superadmin", "admin_b"))
    assert ("secret-m@panel.test" in body) == (persona == "superadmin")


@pytest.mark.parametrize("persona", PERSONAS)
def test_a_domain_filter_outside_ones_domains_is_404(client_as, entries, persona):
    response = client_as(persona).get("/audit/?domain=a.test")
    if persona not in MANAGERS:
        assert response.status_code == 302
    elif persona == "admin_b":
        assert response.status_code == 404
        assert "secret-a@a.test" not in response.content.decode()
    else:
        assert response.status_code == 200
        objects = [e.object_id for e in response.context["listing"].objects]
        assert objects == ["secret-a@a.test"]


def test_a_superadmin_may_filter_on_a_deleted_domain(client_as, entries):
    audit_record(actor="system", action="domain.delete", object_id="gone.test", domain="gone.test")
    response = client_as("superadmin").get("/audit/?domain=gone.test")
    assert [e.object_id for e in response.context["listing"].objects] == ["gone.test"]


def test_an_invalid_domain_filter_is_404(client_as, entries):
    assert client_as("superadmin").get("/audit/?domain=not a domain").status_code == 404


def test_the_page_shows_who_from_where_and_the_changes(client_as, personas):
    client = client_as("superadmin")
    client.post(
        "/aliases/add/",
        {"local_part": "sales", "domain": "a.test", "goto": "x@example.org", "active": "on"},
        REMOTE_ADDR="192.0.2.7",
    )
    body = client.get("/audit/").content.decode()
    assert "root@panel.test" in body and "192.0.2.7" in body
    assert "alias.create" in body and "sales@a.test" in body and "x@example.org" in body


def test_passwords_never_show(client_as, entries):
    body = client_as("superadmin").get("/audit/").content.decode()
    assert "Password" in body and "changed" in body and "$1$" not in body


def test_search_action_filter_and_sort(client_as, entries):
    client = client_as("superadmin")
    found = client.get("/audit/?q=note on b").context["listing"].objects
    assert [e.object_id for e in found] == ["secret-b@b.test"]
    found = client.get("/audit/?q=admin@b").context["listing"].objects
    assert [e.object_id for e in found] == ["secret-b@b.test"]
    found = client.get("/audit/?action=manager.create").context["listing"].objects
    assert [e.object_id for e in found] == ["secret-m@panel.test"]
    response = client.get("/audit/?sort=action")
    assert [e.action for e in response.context["listing"].objects] == [
        "alias.create",
        "alias.update",
        "manager.create",
    ]
    assert response.context["actions"] == ["alias.create", "alias.update", "manager.create"]


def test_the_action_choices_of_a_domain_admin_are_scoped(client_as, entries):
    assert client_as("admin_b").get("/audit/").context["actions"] == ["alias.create"]


def test_the_newest_entry_comes_first(client_as, entries):
    objects = [
        e.object_id for e in client_as("superadmin").get("/audit/").context["listing"].objects
    ]
    assert objects == ["secret-m@panel.test", "secret-b@b.test", "secret-a@a.test"]


def test_the_empty_page_says_what_happens(client_as, personas):
    body = client_as("admin_a").get("/audit/").content.decode()
    assert 'data-testid="empty-state"' in body


@pytest.mark.parametrize("size", [3, 80])
@pytest.mark.parametrize(
    ("persona", "url", "expected"),
    [
        # session, manager, actions, count, page
        ("superadmin", "/audit/?per_page=50", 5),
        # + the domain filter check
        ("admin_a", "/audit/?per_page=50&domain=a.test&q=alias&sort=actor", 6),
    ],
)
def test_the_page_runs_a_constant_number_of_queries(
    client_as, personas, django_assert_num_queries, size, persona, url, expected
):
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor="root@panel.test",
            action="alias.update",
            object_type="alias",
            object_id=f"a{i}@a.test",
            domain="a.test",
            changes={"goto": [f"x{i}@example.org", f"y{i}@example.org"], "active": [True, False]},
        )
        for i in range(size)
    )
    client = client_as(persona)
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["listing"].objects) == min(size, 50)
