"""Login and recovery throttling that an attacker cannot turn against the real user: lock-outs
per (account, client) and per client; an account's failures from everywhere only ask for a
captcha (manager login, mailbox portal login) or meet the captcha the form always has
(forgotten password)."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client

from conftest import PASSWORD
from mailadmin.lib import passwords
from mailboxes.credentials import hash_recovery_answer
from mailboxes.models import Mailbox

ATTACKER = "203.0.113.66"
OWNER = "198.51.100.20"
SPRAYER = "203.0.113.99"
NEW_PASSWORD = "Blue-Lantern-42"
CAPTCHA = {"captcha_0": "x", "captcha_1": "PASSED"}


def manager_login(client: Client, username: str, password: str, ip: str, **extra: str):
    return client.post(
        "/login/", {"username": username, "password": password, **extra}, REMOTE_ADDR=ip
    )


def portal_login(client: Client, address: str, password: str, ip: str, **extra: str):
    return client.post(
        "/account/login/", {"username": address, "password": password, **extra}, REMOTE_ADDR=ip
    )


def forgot(address: str, answer: str, ip: str):
    data = {
        "username": address,
        "answer": answer,
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
        **CAPTCHA,
    }
    return Client().post("/account/forgot/", data, REMOTE_ADDR=ip)


# --- manager login ----------------------------------------------------------------------------
def test_an_attacker_elsewhere_cannot_lock_the_superadmin_out(personas, settings):
    for _ in range(3 * settings.AXES_FAILURE_LIMIT):
        manager_login(Client(), "root@panel.test", "guess-guess-1", ATTACKER)

    owner = Client()
    # From a fresh address the right password is not refused: the account asks for a captcha.
    first = manager_login(owner, "root@panel.test", PASSWORD, OWNER)
    assert first.status_code == 200
    assert 'data-testid="login-captcha-note"' in first.content.decode()
    assert 'name="captcha_1"' in first.content.decode()
    assert SESSION_KEY not in owner.session
    # With it, the superadmin is in.
    second = manager_login(owner, "root@panel.test", PASSWORD, OWNER, **CAPTCHA)
    assert second.status_code == 302
    assert owner.get("/").status_code == 200

    # The attacker's client stays locked out, captcha and right password or not.
    again = manager_login(Client(), "root@panel.test", PASSWORD, ATTACKER, **CAPTCHA)
    assert again.status_code == 429


def test_logging_in_to_ones_own_account_does_not_clear_a_clients_failures(personas, settings):
    # A sprayer who owns one account (admin@a.test) guesses at others' between its own logins.
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        manager_login(Client(), f"victim{n}@b.test", "guess-guess-1", SPRAYER)
    assert manager_login(Client(), "admin@a.test", PASSWORD, SPRAYER).status_code == 302
    manager_login(Client(), "victim9@b.test", "guess-guess-1", SPRAYER)
    # The limit is reached all the same: the client is locked, even for its own account.
    assert manager_login(Client(), "admin@a.test", PASSWORD, SPRAYER).status_code == 429


def test_without_the_right_captcha_no_password_is_tried(personas, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        manager_login(Client(), "root@panel.test", "guess-guess-1", ATTACKER)
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    owner = Client()
    response = manager_login(owner, "root@panel.test", PASSWORD, OWNER, **CAPTCHA)
    assert response.status_code == 200
    assert "The characters do not match." in response.content.decode()
    assert SESSION_KEY not in owner.session
    # Nothing was counted against the owner's client.
    assert not AccessAttempt.objects.filter(ip_address=OWNER).exists()


def test_one_client_spraying_many_manager_accounts_is_locked_out(personas, settings):
    for number in range(settings.AXES_FAILURE_LIMIT):
        manager_login(Client(), f"guess{number}@a.test", "guess-guess-1", SPRAYER)
    response = manager_login(Client(), "admin@b.test", PASSWORD, SPRAYER)
    assert response.status_code == 429
    assert manager_login(Client(), "admin@b.test", PASSWORD, OWNER).status_code == 302


# --- mailbox portal login ---------------------------------------------------------------------
def test_an_attacker_elsewhere_cannot_lock_a_mailbox_out_of_the_portal(personas, settings):
    for _ in range(3 * settings.AXES_FAILURE_LIMIT):
        portal_login(Client(), "user@a.test", "guess-guess-1", ATTACKER)

    owner = Client()
    first = portal_login(owner, "user@a.test", PASSWORD, OWNER)
    assert first.status_code == 200
    assert 'data-testid="portal-login-captcha-note"' in first.content.decode()
    assert owner.get("/account/").status_code == 302  # not logged in yet
    second = portal_login(owner, "user@a.test", PASSWORD, OWNER, **CAPTCHA)
    assert second.status_code == 302
    assert owner.get("/account/").status_code == 200

    again = portal_login(Client(), "user@a.test", PASSWORD, ATTACKER, **CAPTCHA)
    assert again.status_code == 429


def test_a_wrong_portal_captcha_tries_no_password(personas, settings, caplog):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        portal_login(Client(), "user@a.test", "guess-guess-1", ATTACKER)
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    response = portal_login(Client(), "user@a.test", "guess-guess-2", OWNER, **CAPTCHA)
    assert response.status_code == 200
    assert "The characters do not match." in response.content.decode()
    assert "portal login failed for user=user@a.test from ip=198.51.100.20" not in caplog.text


def test_one_client_spraying_many_mailboxes_is_locked_out(personas, settings, make_mailbox):
    make_mailbox("other@a.test")
    for number in range(settings.AXES_FAILURE_LIMIT):
        portal_login(Client(), f"guess{number}@a.test", "guess-guess-1", SPRAYER)
    assert portal_login(Client(), "other@a.test", PASSWORD, SPRAYER).status_code == 429
    assert portal_login(Client(), "other@a.test", PASSWORD, OWNER).status_code == 302


# --- forgotten password -----------------------------------------------------------------------
@pytest.fixture
def with_answer(personas):
    Mailbox.objects.filter(pk="user@a.test").update(
        question="First pet?", answer=hash_recovery_answer("Fluffy")
    )


def test_an_attacker_elsewhere_cannot_lock_a_mailbox_out_of_recovery(with_answer, settings):
    for _ in range(3 * settings.MAILADMIN_RECOVERY_FAILURE_LIMIT):
        forgot("user@a.test", "rex", ATTACKER)
    assert forgot("user@a.test", "fluffy", ATTACKER).status_code == 429
    assert forgot("user@a.test", "fluffy", OWNER).status_code == 302
    stored = Mailbox.objects.get(pk="user@a.test").password
    assert passwords.verify_password(NEW_PASSWORD, stored)


def test_one_client_spraying_recovery_answers_is_locked_out(with_answer, settings):
    for number in range(settings.MAILADMIN_RECOVERY_FAILURE_LIMIT):
        forgot(f"ghost{number}@a.test", "rex", SPRAYER)
    assert forgot("user@a.test", "fluffy", SPRAYER).status_code == 429
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
