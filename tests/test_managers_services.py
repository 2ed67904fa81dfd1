"""Manager rules (SPEC §1, §3.6): self-delete, last superadmin, domains, passwords, audit."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import services
from accounts.models import DomainManager, Manager
from audit.models import AuditEntry
from conftest import PASSWORD
from mailadmin.lib.passwords import verify_password

pytestmark = pytest.mark.django_db

YESTERDAY = datetime.date.today() - datetime.timedelta(days=2)


@pytest.fixture
def root(personas):
    return personas["superadmin"]


def update(actor, manager, **changes):
    fields = {
        "name": manager.name,
        "type": manager.type,
        "expiredate": manager.expiredate,
        "active": manager.active,
        "disablepwdchange": bool(manager.disablepwdchange),
        "domains": services.assigned_domains(manager),
    }
    fields.update(changes)
    return services.manager_update(actor=actor, manager=manager, **fields)


def links_of(username):
    return sorted(
        DomainManager.objects.filter(manager_id=username).values_list("domain_id", flat=True)
    )


def test_create_normalises_the_username_hashes_the_password_and_assigns_domains(root):
    manager = services.manager_create(
        actor=root,
        username="  New.Admin@A.Test ",
        password="Another-Secret-7",
        name="New",
        domains=["a.test", "b.test", "a.test"],
    )
    stored = Manager.objects.get(pk="new.admin@a.test")
    assert manager.pk == stored.pk
    assert stored.password.startswith("$1$")  # md5crypt, what the mail stack reads
    assert verify_password("Another-Secret-7", stored.password)
    assert stored.type == "postmaster" and not stored.is_superadmin
    assert links_of("new.admin@a.test") == ["a.test", "b.test"]
    entry = AuditEntry.objects.get(action="manager.create")
    assert entry.changes["password"] == ["", "(changed)"]
    assert entry.changes["domains"] == [None, ["a.test", "b.test"]]
    assert "Another-Secret-7" not in str(entry.changes) and stored.password not in str(
        entry.changes
    )


def test_create_refuses_a_duplicate_or_non_address_username_and_unknown_domains(root):
    with pytest.raises(ValidationError):
        services.manager_create(actor=root, username="admin@a.test", password="x-Secret-123")
    with pytest.raises(ValidationError):
        services.manager_create(actor=root, username="not an address", password="x-Secret-123")
    with pytest.raises(ValidationError) as exc:
        services.manager_create(
            actor=root, username="n@a.test", password="x-Secret-123", domains=["nowhere.test"]
        )
    assert "nowhere.test" in str(exc.value)
    assert not Manager.objects.filter(pk="n@a.test").exists()
    assert not DomainManager.objects.filter(manager_id="n@a.test").exists()


def test_only_a_superadmin_may_manage_managers(personas):
    admin_a = personas["admin_a"]
    with pytest.raises(PermissionDenied):
        services.manager_create(actor=admin_a, username="n@a.test", password="x-Secret-123")
    with pytest.raises(PermissionDenied):
        update(admin_a, admin_a, type="admin")
    with pytest.raises(PermissionDenied):
        services.manager_delete(actor=admin_a, manager=personas["admin_b"])
    assert Manager.objects.get(pk="admin@a.test").type == "postmaster"
    assert Manager.objects.filter(pk="admin@b.test").exists()


def test_nobody_deletes_themselves(root, make_manager):
    make_manager("second@panel.test", type="admin")
    with pytest.raises(ValidationError) as exc:
        services.manager_delete(actor=root, manager=root)
    assert "your own account" in str(exc.value)
    assert Manager.objects.filter(pk=root.pk).exists()


def test_the_last_active_superadmin_cannot_be_deleted(root, make_manager):
    other = make_manager("other@panel.test", type="admin")
    # An inactive or expired superadmin does not count as another one.
    make_manager("off@panel.test", type="admin", active=False)
    make_manager("old@panel.test", type="admin", expiredate=YESTERDAY)
    services.manager_delete(actor=root, manager=other)  # root remains
    assert not Manager.objects.filter(pk="other@panel.test").exists()
    off = Manager.objects.get(pk="off@panel.test")
    with pytest.raises(ValidationError) as exc:
        services.manager_delete(actor=off, manager=root)  # only root is active and unexpired
    assert "last active superadmin" in str(exc.value)
    assert Manager.objects.filter(pk=root.pk).exists()
    # The other way round: an expired actor does not count as the remaining superadmin.
    Manager.objects.filter(pk="off@panel.test").update(active=True)
    off.refresh_from_db()
    Manager.objects.filter(pk="root@panel.test").update(expiredate=YESTERDAY)
    root.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.manager_delete(actor=root, manager=off)
    assert "last active superadmin" in str(exc.value)
    assert Manager.objects.filter(pk="off@panel.test").exists()


@pytest.mark.parametrize(
    "change",
    [{"type": "postmaster"}, {"active": False}, {"expiredate": YESTERDAY}],
    ids=["demoted", "deactivated", "expired"],
)
def test_the_last_active_superadmin_cannot_be_demoted_deactivated_or_expired(root, change):
    with pytest.raises(ValidationError) as exc:
        update(root, root, **change)
    assert "last active superadmin" in str(exc.value)
    stored = Manager.objects.get(pk=root.pk)
    assert stored.is_superadmin and stored.active and stored.expiredate is None
    assert not AuditEntry.objects.exists()


def test_a_superadmin_may_be_demoted_when_another_remains(root, make_manager):
    other = make_manager("other@panel.test", type="admin")
    update(root, other, type="postmaster", domains=["a.test"])
    stored = Manager.objects.get(pk="other@panel.test")
    assert stored.type == "postmaster" and links_of(stored.pk) == ["a.test"]


def test_domain_assignments_are_replaced_and_legacy_duplicates_disappear(root, personas):
    admin_a = personas["admin_a"]
    # Legacy data: a duplicate row, an inactive row, a row of a deleted domain.
    DomainManager.objects.bulk_create(
        [
            DomainManager(manager_id=admin_a.pk, domain_id="a.test"),
            DomainManager(manager_id=admin_a.pk, domain_id="b.test", active=False),
            DomainManager(manager_id=admin_a.pk, domain_id="gone.test"),
        ]
    )
    assert links_of(admin_a.pk) == ["a.test", "a.test", "b.test", "gone.test"]
    update(root, admin_a, domains=["b.test", "a.test"])
    assert links_of(admin_a.pk) == ["a.test", "b.test"]
    assert all(DomainManager.objects.filter(manager_id=admin_a.pk).values_list("active", flat=True))
    assert links_of("admin@b.test") == ["b.test"]  # nobody else's rows are touched
    entry = AuditEntry.objects.get(action="manager.update")
    assert entry.changes["domains"] == [["a.test", "gone.test"], ["a.test", "b.test"]]


def test_removing_every_domain_leaves_no_row(root, personas):
    update(root, personas["admin_a"], domains=[])
    assert links_of("admin@a.test") == []


def test_update_writes_only_the_changed_columns(root, personas):
    admin_a = personas["admin_a"]
    with CaptureQueriesContext(connection) as queries:
        update(root, admin_a, name="Alice")
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert len(updates) == 1
    assert "name" in updates[0] and "password" not in updates[0] and "active" not in updates[0]
    assert Manager.objects.get(pk=admin_a.pk).name == "Alice"


def test_an_update_that_changes_nothing_writes_nothing(root, personas):
    admin_a = personas["admin_a"]
    with CaptureQueriesContext(connection) as queries:
        update(root, admin_a)
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]


def test_a_legacy_domain_admin_type_is_kept_when_the_role_does_not_change(root, make_manager):
    legacy = make_manager("legacy@a.test", type="domainadmin", domains=["a.test"])
    update(root, legacy, type="postmaster", name="Legacy")
    assert Manager.objects.get(pk="legacy@a.test").type == "domainadmin"


def test_a_new_password_on_update_is_hashed_and_audited_as_changed(root, personas):
    admin_a = personas["admin_a"]
    update(root, admin_a, password="Brand-New-Pass-1")
    stored = Manager.objects.get(pk=admin_a.pk)
    assert stored.password.startswith("$1$")
    assert stored.check_password("Brand-New-Pass-1") and not stored.check_password(PASSWORD)
    assert AuditEntry.objects.get(action="manager.update").changes == {
        "password": ["", "(changed)"]
    }


def test_delete_removes_the_manager_and_its_domain_rows(root, personas):
    DomainManager.objects.create(manager_id="admin@a.test", domain_id="a.test")  # duplicate
    services.manager_delete(actor=root, manager=personas["admin_a"])
    assert not Manager.objects.filter(pk="admin@a.test").exists()
    assert links_of("admin@a.test") == []
    assert AuditEntry.objects.get(action="manager.delete").object_id == "admin@a.test"


def test_set_password_by_oneself_and_by_a_superadmin(root, personas):
    admin_a = personas["admin_a"]
    services.manager_set_password(actor=admin_a, manager=admin_a, password="Mine-Own-Pass-2")
    assert Manager.objects.get(pk=admin_a.pk).check_password("Mine-Own-Pass-2")
    Manager.objects.filter(pk=admin_a.pk).update(disablepwdchange=1)
    admin_a.refresh_from_db()
    with pytest.raises(ValidationError):
        services.manager_set_password(actor=admin_a, manager=admin_a, password="Other-Pass-3")
    services.manager_set_password(actor=root, manager=admin_a, password="Set-By-Root-4")
    assert Manager.objects.get(pk=admin_a.pk).check_password("Set-By-Root-4")
    with pytest.raises(PermissionDenied):
        services.manager_set_password(
            actor=personas["admin_b"], manager=admin_a, password="Hijack-Pass-5"
        )
    assert Manager.objects.get(pk=admin_a.pk).check_password("Set-By-Root-4")
    entries = AuditEntry.objects.filter(action="manager.password")
    assert entries.count() == 2
    assert all(e.changes == {"password": ["", "(changed)"]} for e in entries)
