"""The mailbox portal and password recovery (SPEC §3.7)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.test import Client

from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib import passwords
from mailboxes.credentials import hash_recovery_answer
from mailboxes.models import Mailbox

NEW_PASSWORD = "Blue-Lantern-42"
PAST = datetime.date(2000, 1, 1)


def portal_login(
    client: Client,
    address: str = "user@a.test",
    password: str = PASSWORD,
    captcha_0: str = "",
    captcha_1: str = "",
    **kw,
):
    data = {"username": address, "password": password}
    if captcha_1:
        data.update(captcha_0=captcha_0, captcha_1=captcha_1)
    return client.post("/account/login/", data, **kw)


@pytest.fixture
def user(personas):
    return personas["user_a"]


@pytest.fixture
def logged_in(user):
    client = Client()
    assert portal_login(client).status_code == 302
    return client


# --- login -------------------------------------------------------------------------------------
def test_login_opens_the_account_page(client, user, caplog):
    response = portal_login(client, "  User@A.test ")
    assert response.status_code == 302 and response["Location"] == "/account/"
    page = client.get("/account/")
    assert page.status_code == 200
    assert b"user@a.test" in page.content
    assert AuditEntry.objects.filter(action="portal.login", actor="user@a.test").exists()


def test_pages_need_a_portal_login(client, user):
    for url in ("/account/", "/account/password/", "/account/recovery/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/?next=")


@pytest.mark.parametrize(
    "change",
    [
        {"mailbox": {"active": False}},
        {"mailbox": {"expiredate": PAST}},
        {"domain": {"active": False}},
        {"domain": {"expiredate": PAST}},
    ],
)
def test_login_refuses_disabled_or_expired_mailboxes_and_domains(client, user, change):
    Mailbox.objects.filter(pk="user@a.test").update(**change.get("mailbox", {}))
    Domain.objects.filter(pk="a.test").update(**change.get("domain", {}))
    response = portal_login(client)
    assert response.status_code == 200
    assert b"portal-login-error" in response.content
    assert client.get("/account/").status_code == 302


def test_login_refuses_a_wrong_password_and_an_unknown_address_alike(client, user, caplog):
    wrong = portal_login(client, password="nope-nope-1")
    unknown = portal_login(client, "ghost@a.test")
    assert wrong.status_code == unknown.status_code == 200
    assert b"portal-login-error" in wrong.content and b"portal-login-error" in unknown.content
    assert "portal login failed for user=user@a.test from ip=127.0.0.1" in caplog.text
    assert "portal login failed for user=ghost@a.test from ip=127.0.0.1" in caplog.text


def test_login_is_locked_per_address_and_client(user, settings, caplog):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        portal_login(Client(), password="wrong", REMOTE_ADDR="192.0.2.1")
    response = portal_login(Client(), REMOTE_ADDR="192.0.2.1")
    assert response.status_code == 429
    assert "portal login locked out for user=user@a.test from ip=192.0.2.1" in caplog.text
    # Another client is not locked out: it answers a captcha (tests/test_throttling.py).
    other = portal_login(Client(), REMOTE_ADDR="192.0.2.50", captcha_0="x", captcha_1="PASSED")
    assert other.status_code == 302


def test_login_is_throttled_per_client(user, make_mailbox, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        portal_login(Client(), f"ghost{n}@a.test", REMOTE_ADDR="192.0.2.9")
    assert portal_login(Client(), REMOTE_ADDR="192.0.2.9").status_code == 429
    assert portal_login(Client(), REMOTE_ADDR="192.0.2.10").status_code == 302


def test_the_portal_session_ends_when_the_mailbox_is_disabled_or_its_password_changes(
    logged_in, user
):
    Mailbox.objects.filter(pk="user@a.test").update(password=passwords.hash_password("x-Other-9"))
    assert logged_in.get("/account/").status_code == 302
    portal_login(logged_in)
    Mailbox.objects.filter(pk="user@a.test").update(active=False)
    assert logged_in.get("/account/").status_code == 302


def test_portal_and_manager_logins_are_separate(personas, user):
    client = Client()
    portal_login(client)
    # A portal login does not open the manager pages.
    assert client.get("/mailboxes/").status_code == 302
    # A manager login neither opens the portal nor ends the portal login.
    manager_only = Client()
    manager_only.force_login(personas["superadmin"])
    assert manager_only.get("/account/").status_code == 302
    client.post("/login/", {"username": "admin@a.test", "password": PASSWORD})
    assert client.get("/mailboxes/").status_code == 200
    assert client.get("/account/").status_code == 200
    # The portal's logout keeps the manager logged in.
    client.post("/account/logout/")
    assert client.get("/account/").status_code == 302
    assert client.get("/mailboxes/").status_code == 200


def test_logout_is_post_only(logged_in):
    assert logged_in.get("/account/logout/").status_code == 405
    assert logged_in.get("/account/").status_code == 200


# --- password ----------------------------------------------------------------------------------
def change(client: Client, old: str = PASSWORD, new: str = NEW_PASSWORD, again: str | None = None):
    return client.post(
        "/account/password/",
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def test_password_change_needs_the_old_password(logged_in, user):
    response = change(logged_in, old="wrong-password")
    assert b"current password is wrong" in response.content
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
    assert b"differ" in change(logged_in, again="other-Password-7").content
    assert b"too short" in change(logged_in, new="short", again="short").content


def test_password_change(logged_in, user):
    response = change(logged_in)
    assert response.status_code == 302
    stored = Mailbox.objects.get(pk="user@a.test").password
    assert passwords.verify_password(NEW_PASSWORD, stored)
    assert passwords.identify(stored) == "md5crypt"
    # The session goes on after the own change.
    assert logged_in.get("/account/").status_code == 200
    entry = AuditEntry.objects.get(action="portal.password")
    assert entry.changes == {"password": ["", "(changed)"]}
    assert portal_login(Client(), password=NEW_PASSWORD).status_code == 302


def test_password_change_honours_disablepwdchange(logged_in, user):
    Mailbox.objects.filter(pk="user@a.test").update(disablepwdchange=1)
    page = logged_in.get("/account/password/")
    assert b"portal-changes-disabled" in page.content
    assert change(logged_in).status_code == 403
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
    response = logged_in.post(
        "/account/recovery/", {"question": "Q?", "answer": "a", "password": PASSWORD}
    )
    assert response.status_code == 403
    assert Mailbox.objects.get(pk="user@a.test").question == ""


# --- recovery question and usage --------------------------------------------------------------
def test_recovery_question_is_stored_with_a_hashed_answer(logged_in, user):
    response = logged_in.post(
        "/account/recovery/",
        {"question": "First pet?", "answer": " Fluffy ", "password": PASSWORD},
    )
    assert response.status_code == 302
    mailbox = Mailbox.objects.get(pk="user@a.test")
    assert mailbox.question == "First pet?"
    assert "luffy" not in mailbox.answer
    assert passwords.verify_password("fluffy", mailbox.answer)
    bad = logged_in.post(
        "/account/recovery/", {"question": "Q?", "answer": "x", "password": "wrong"}
    )
    assert b"current password is wrong" in bad.content


def test_usage_is_unknown_without_a_maildir(logged_in, user):
    page = logged_in.get("/account/").content.decode()
    assert 'data-testid="portal-used">unknown' in page


def test_usage_is_read_from_maildirsize(logged_in, user, settings):
    maildir = Path(settings.MAILADMIN_MAIL_BASE) / "a.test/user/Maildir"
    maildir.mkdir(parents=True)
    (maildir / "maildirsize").write_text("104857600S\n3145728 3\n2097152 2\n")
    page = logged_in.get("/account/").content.decode()
    assert 'data-testid="portal-used">5 MB' in page


# --- forgotten password -----------------------------------------------------------------------
def forgot(client: Client, address: str = "user@a.test", answer: str = "fluffy", **kw):
    return client.post(
        "/account/forgot/",
        {
            "username": address,
            "answer": answer,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
        **kw,
    )


@pytest.fixture
def with_answer(user):
    Mailbox.objects.filter(pk="user@a.test").update(
        question="First pet?", answer=hash_recovery_answer("Fluffy")
    )


def test_forgot_password_with_the_right_answer(client, with_answer):
    response = forgot(client, answer="  FLUFFY ")
    assert response.status_code == 302 and response["Location"] == "/account/login/"
    assert passwords.verify_password(NEW_PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
    assert AuditEntry.objects.filter(action="portal.recovery.reset").exists()


def test_a_wrong_answer_and_an_unknown_address_get_the_same_answer(client, with_answer, caplog):
    wrong = forgot(client, answer="rex")
    unknown = forgot(Client(), address="ghost@a.test")
    assert wrong.status_code == unknown.status_code == 200

    def error(response) -> str:
        page = response.content.decode()
        start = page.index('data-testid="portal-forgot-error"')
        return page[start : page.index("</div>", start)]

    assert error(wrong) == error(unknown)
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
    assert "recovery failed for user=user@a.test from ip=127.0.0.1" in caplog.text


def test_a_legacy_cleartext_answer_verifies_once_and_is_then_hashed(client, user):
    Mailbox.objects.filter(pk="user@a.test").update(question="Pet?", answer="Fluffy")
    assert forgot(client, answer="fluffy").status_code == 302
    stored = Mailbox.objects.get(pk="user@a.test").answer
    assert stored != "Fluffy" and passwords.verify_password("fluffy", stored)


def test_a_wrong_legacy_answer_is_kept_as_it_is(client, user):
    Mailbox.objects.filter(pk="user@a.test").update(question="Pet?", answer="Fluffy")
    assert forgot(client, answer="rex").status_code == 200
    assert Mailbox.objects.get(pk="user@a.test").answer == "Fluffy"


def test_no_reset_without_an_answer_or_with_disablepwdchange(client, with_answer):
    Mailbox.objects.filter(pk="user@a.test").update(disablepwdchange=1)
    assert forgot(client).status_code == 200
    Mailbox.objects.filter(pk="user@a.test").update(disablepwdchange=0, answer="")
    assert forgot(client, answer="").status_code == 200
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)


def test_forgot_needs_the_captcha(client, with_answer, settings):
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    response = forgot(client)
    assert response.status_code == 200 and b"do not match" in response.content
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)


def test_forgot_is_locked_per_address_and_client_and_per_client(with_answer, settings):
    settings.MAILADMIN_RECOVERY_FAILURE_LIMIT = 2
    for _ in range(2):
        forgot(Client(), answer="rex", REMOTE_ADDR="192.0.2.1")
    # Even the right answer is refused from that client now ...
    assert forgot(Client(), REMOTE_ADDR="192.0.2.1").status_code == 429
    assert passwords.verify_password(PASSWORD, Mailbox.objects.get(pk="user@a.test").password)
    # ... and one client trying many addresses is locked out too.
    for n in range(2):
        forgot(Client(), address=f"ghost{n}@a.test", REMOTE_ADDR="192.0.2.200")
    response = forgot(Client(), address="other@a.test", REMOTE_ADDR="192.0.2.200")
    assert response.status_code == 429


# --- permission matrix -------------------------------------------------------------------------
PORTAL_PAGES = ["/account/", "/account/password/", "/account/recovery/"]
PUBLIC_PAGES = ["/account/login/", "/account/forgot/"]


@pytest.mark.parametrize("persona", ["superadmin", "admin_a", "admin_b", "user_a", "anonymous"])
def test_permission_matrix_of_the_portal(client_as, persona):
    client = client_as(persona)
    if persona == "user_a":
        portal_login(client)
    for url in PORTAL_PAGES:
        assert client.get(url).status_code == (200 if persona == "user_a" else 302), url
        if persona != "user_a" and url != "/account/":
            response = client.post(url, {})
            assert response.status_code == 302, url
            assert response["Location"].startswith("/account/login/")
    # The account page takes no POST; without a portal login, the login comes first.
    response = client.post("/account/", {})
    if persona == "user_a":
        assert response.status_code == 405
    else:
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/")
    for url in PUBLIC_PAGES:
        expected = 302 if (persona == "user_a" and url == "/account/login/") else 200
        assert client.get(url).status_code == expected, url
    assert client.post("/account/logout/").status_code == 302
    assert client.get("/account/").status_code == 302


def test_a_failed_login_says_so_once(client, personas):
    response = client.post(
        "/account/login/", {"username": "user@a.test", "password": "Wrong-Password-1"}
    )
    body = response.content.decode()
    assert body.count("Wrong address or password") == 1
