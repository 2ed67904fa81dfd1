"""Manager login, sessions, throttling and logout."""

from __future__ import annotations

import datetime
import logging
import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

from accounts.middleware import LAST_SEEN, LOGIN_AT
from accounts.models import Manager
from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: Client, username: str, password: str = PASSWORD, **extra):
    return client.post("/login/", {"username": username, "password": password}, **extra)


def test_the_login_page_has_the_contract_fields(client):
    response = client.get("/login/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html and 'name="password"' in html


def test_a_superadmin_logs_in_and_sees_their_role(client, personas):
    response = login(client, "root@panel.test")
    assert response.status_code == 302 and response["Location"] == "/"
    page = client.get("/").content.decode()
    assert "root@panel.test" in page and "Superadmin" in page


def test_a_domain_admin_logs_in_and_sees_only_their_domains(client, personas):
    login(client, "admin@a.test")
    page = client.get("/").content.decode()
    assert "Domain admin" in page
    assert "a.test" in page and "b.test" not in page


def test_the_username_is_case_insensitive(client, personas):
    assert login(client, "  Admin@A.Test ").status_code == 302


@pytest.mark.parametrize(
    "change",
    [
        {"active": False},
        {"expiredate": datetime.date(2013, 3, 1)},
    ],
)
def test_inactive_and_expired_managers_are_refused(client, personas, change):
    Manager.objects.filter(pk="admin@a.test").update(**change)
    response = login(client, "admin@a.test")
    assert response.status_code == 200
    assert "Wrong username or password" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_wrong_password_is_refused_and_logged_for_fail2ban(client, personas, caplog):
    with caplog.at_level(logging.WARNING, logger="mailadmin.security"):
        response = login(client, "admin@a.test", "nope", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    assert "login failed for user=admin@a.test from ip=203.0.113.9" in caplog.text


def test_log_lines_cannot_be_forged_through_the_username(client, personas, caplog):
    with caplog.at_level(logging.WARNING, logger="mailadmin.security"):
        login(client, "x from ip=1.2.3.4\nlogin failed for user=y", "nope")
    line = next(r.getMessage() for r in caplog.records if "login failed" in r.getMessage())
    assert "\n" not in line and line.endswith("from ip=127.0.0.1")


def test_an_unknown_user_gets_the_same_answer(client, personas):
    unknown = login(client, "ghost@a.test", "nope").content.decode()
    assert "Wrong username or password" in unknown


def test_disabling_a_manager_ends_their_open_session(client, personas):
    login(client, "admin@a.test")
    assert client.get("/").status_code == 200
    Manager.objects.filter(pk="admin@a.test").update(active=False)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert SESSION_KEY not in client.session


def test_expiry_ends_an_open_session(client, personas):
    login(client, "admin@a.test")
    Manager.objects.filter(pk="admin@a.test").update(expiredate=datetime.date(2020, 1, 1))
    assert client.get("/").status_code == 302


def test_a_password_reset_by_someone_else_ends_the_session(client, personas):
    login(client, "admin@a.test")
    manager = Manager.objects.get(pk="admin@a.test")
    manager.set_password("Another-Pass-7")
    manager.save()
    assert client.get("/").status_code == 302


def test_a_role_change_takes_effect_on_the_next_request(client, personas):
    login(client, "admin@a.test")
    assert "b.test" not in client.get("/").content.decode()
    Manager.objects.filter(pk="admin@a.test").update(type="admin")
    assert "b.test" in client.get("/").content.decode()


def _age_session(client: Client, key: str, seconds: int) -> None:
    session = client.session
    session[key] = time.time() - seconds
    session.save()


def test_an_idle_session_expires(client, personas, settings):
    settings.MAILADMIN_SESSION_IDLE_TIMEOUT = 600
    login(client, "admin@a.test")
    _age_session(client, LAST_SEEN, 599)
    assert client.get("/").status_code == 200
    _age_session(client, LAST_SEEN, 601)
    response = client.get("/", follow=True)
    assert "Your session has expired" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_activity_does_not_extend_a_session_past_its_maximum_age(client, personas, settings):
    settings.MAILADMIN_SESSION_MAX_AGE = 3600
    login(client, "admin@a.test")
    _age_session(client, LOGIN_AT, 3601)
    assert client.get("/").status_code == 302


def test_logout_needs_post(client, personas):
    login(client, "admin@a.test")
    assert client.get("/logout/").status_code == 405
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_login_posts_need_the_csrf_token(personas):
    client = Client(enforce_csrf_checks=True)
    assert login(client, "admin@a.test").status_code == 403


def test_repeated_failures_lock_the_account_on_that_client_only(client, personas, settings, caplog):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "admin@a.test", "nope", REMOTE_ADDR="198.51.100.1")
    # That client is refused even with the right password ...
    with caplog.at_level(logging.WARNING, logger="mailadmin.security"):
        response = login(client, "admin@a.test", REMOTE_ADDR="198.51.100.1")
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "login locked out for user=admin@a.test from ip=198.51.100.1" in caplog.text
    # ... another one gets in (after a captcha: tests/test_throttling.py) ...
    other = Client()
    assert login(other, "admin@a.test", REMOTE_ADDR="198.51.100.2").status_code == 200
    response = other.post(
        "/login/",
        {"username": "admin@a.test", "password": PASSWORD, "captcha_0": "x", "captcha_1": "PASSED"},
        REMOTE_ADDR="198.51.100.2",
    )
    assert response.status_code == 302
    # ... and other accounts are not affected.
    assert login(Client(), "admin@b.test", REMOTE_ADDR="198.51.100.3").status_code == 302


def test_repeated_failures_lock_the_client_address(client, personas, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        login(client, f"guess{number}@a.test", "nope", REMOTE_ADDR="198.51.100.7")
    assert login(client, "admin@b.test", REMOTE_ADDR="198.51.100.7").status_code == 429
    assert login(Client(), "admin@b.test", REMOTE_ADDR="198.51.100.8").status_code == 302


def test_legacy_hashes_are_rehashed_on_login_when_configured(client, personas, settings):
    settings.MAILADMIN_PASSWORD_REHASH = True
    settings.MAILADMIN_PASSWORD_SCHEME = "sha512crypt"
    login(client, "admin@a.test")
    stored = Manager.objects.get(pk="admin@a.test").password
    assert stored.startswith("{CRYPT}$6$")
    client.post("/logout/")
    assert login(client, "admin@a.test").status_code == 302


def test_hashes_are_kept_when_rehashing_is_off(client, personas):
    before = Manager.objects.get(pk="admin@a.test").password
    login(client, "admin@a.test")
    assert Manager.objects.get(pk="admin@a.test").password == before


def test_pages_carry_the_security_headers(client, personas):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_overview_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/")
