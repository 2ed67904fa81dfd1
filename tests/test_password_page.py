"""The own-password page (SPEC §1, §3.6): every manager, old password first, session kept."""

from __future__ import annotations

import pytest

from accounts.models import Manager
from audit.models import AuditEntry
from conftest import PASSWORD, PERSONAS

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Quite-New-Secret-8"
CHANGE = {"old_password": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
USERNAMES = {"superadmin": "root@panel.test", "admin_a": "admin@a.test", "admin_b": "admin@b.test"}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_manager_has_the_page_and_others_are_sent_to_login(client_as, persona, method):
    client = client_as(persona)
    response = getattr(client, method)("/password/", CHANGE if method == "post" else None)
    if persona not in USERNAMES:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
        return
    if method == "get":
        assert response.status_code == 200
        body = response.content.decode()
        assert 'name="old_password"' in body and 'name="password2"' in body
    else:
        assert response.status_code == 302
        assert Manager.objects.get(pk=USERNAMES[persona]).check_password(NEW_PASSWORD)


def test_the_change_keeps_the_session_and_is_audited(client_as):
    client = client_as("admin_a")
    response = client.post("/password/", CHANGE, follow=True)
    assert "Your password has been changed." in response.content.decode()
    # Still logged in on the next request.
    assert client.get("/aliases/").status_code == 200
    stored = Manager.objects.get(pk="admin@a.test")
    assert stored.password.startswith("$1$") and stored.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="manager.password")
    assert entry.actor == "admin@a.test" and entry.object_id == "admin@a.test"
    assert entry.changes == {"password": ["", "(changed)"]}
    assert entry.ip == "127.0.0.1"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**CHANGE, "old_password": "wrong-password"}, "old_password"),
        ({**CHANGE, "password2": "Something-Else-9"}, "password2"),
        ({"old_password": PASSWORD, "password1": "short", "password2": "short"}, "password2"),
        ({"old_password": PASSWORD, "password1": "", "password2": ""}, "password1"),
    ],
    ids=["wrong-old", "mismatch", "too-weak", "empty"],
)
def test_bad_input_is_refused_and_the_password_stays(client_as, data, field):
    old_hash = Manager.objects.get(pk="admin@a.test").password
    response = client_as("admin_a").post("/password/", data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert Manager.objects.get(pk="admin@a.test").password == old_hash
    assert not AuditEntry.objects.exists()


def test_disablepwdchange_refuses_with_a_clear_message(client_as, personas):
    Manager.objects.filter(pk="admin@a.test").update(disablepwdchange=1)
    client = client_as("admin_a")
    page = client.get("/password/")
    assert page.status_code == 200
    assert 'data-testid="password-change-disabled"' in page.content.decode()
    assert 'name="old_password"' not in page.content.decode()
    response = client.post("/password/", CHANGE)
    assert response.status_code == 403
    assert "disabled" in response.content.decode()
    assert Manager.objects.get(pk="admin@a.test").check_password(PASSWORD)
    assert not AuditEntry.objects.exists()
