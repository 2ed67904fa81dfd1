"""Audit records: logins, failures, and that secrets never reach the log."""

from __future__ import annotations

import datetime

import pytest

from audit.models import AuditEntry
from audit.services import CHANGED, audit_record, diff, snapshot
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_login_is_recorded_with_the_client_address(client, personas):
    client.post(
        "/login/", {"username": "admin@a.test", "password": PASSWORD}, REMOTE_ADDR="192.0.2.4"
    )
    entry = AuditEntry.objects.get(action="login")
    assert (entry.actor, entry.actor_kind, entry.ip) == ("admin@a.test", "manager", "192.0.2.4")


def test_a_failed_login_is_recorded_without_the_password(client, personas):
    client.post("/login/", {"username": "admin@a.test", "password": "Secret-Guess-1"})
    entry = AuditEntry.objects.get(action="login.failed")
    assert entry.actor == "admin@a.test" and entry.actor_kind == "anonymous"
    assert "Secret-Guess-1" not in str(entry.changes) + entry.message


def test_diff_masks_secrets_and_keeps_plain_values():
    changes = diff(
        {"password": "$1$old", "answer": "Rex", "quota": "0S", "expiredate": None},
        {
            "password": "$1$new",
            "answer": "hash",
            "quota": "5S",
            "expiredate": datetime.date(2030, 1, 2),
        },
    )
    assert changes == {
        "answer": ["", CHANGED],
        "expiredate": [None, "2030-01-02"],
        "password": ["", CHANGED],
        "quota": ["0S", "5S"],
    }


def test_recording_a_secret_value_is_refused(personas):
    with pytest.raises(ValueError):
        audit_record(actor="x", action="t", changes={"password": ["a", "b"]})


def test_snapshot_uses_stored_keys(personas):
    values = snapshot(personas["user_a"], ["username", "domain_id", "createdate"])
    assert values["domain_id"] == "a.test"
    assert isinstance(values["createdate"], str)


def test_domain_admins_see_only_entries_of_their_domains(personas):
    audit_record(actor="root@panel.test", action="mailbox.create", domain="a.test")
    audit_record(actor="root@panel.test", action="mailbox.create", domain="b.test")
    audit_record(actor="root@panel.test", action="login")
    assert AuditEntry.objects.visible_to(personas["superadmin"]).count() == 3
    visible = AuditEntry.objects.visible_to(personas["admin_a"])
    assert list(visible.values_list("domain", flat=True)) == ["a.test"]
