"""Recovery answers: what the panel writes (MAILADMIN_RECOVERY_ANSWER_FORMAT), that both forms
verify, and that a refused recovery changes nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib import passwords
from mailboxes import credentials as mailbox_credentials
from mailboxes import services as mailbox_services
from mailboxes.models import Mailbox
from signup.models import SignupRequest

ADDRESS = "user@a.test"
NEW_PASSWORD = "Blue-Lantern-42"


@pytest.fixture
def user(personas):
    return personas["user_a"]


def forgot(answer: str, client: Client | None = None):
    return (client or Client()).post(
        "/account/forgot/",
        {
            "username": ADDRESS,
            "answer": answer,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )


def stored_answer() -> str:
    return Mailbox.objects.get(pk=ADDRESS).answer


def password_is(password: str) -> bool:
    return passwords.verify_password(password, Mailbox.objects.get(pk=ADDRESS).password)


# --- a refused recovery writes nothing --------------------------------------------------------
@pytest.mark.parametrize(
    "refusal",
    [{"disablepwdchange": 1}, {"active": False}],
    ids=["password-change-disabled", "mailbox-disabled"],
)
def test_a_refused_reset_with_the_right_legacy_answer_leaves_the_answer_in_clear(user, refusal):
    Mailbox.objects.filter(pk=ADDRESS).update(question="Pet?", answer="Fluffy", **refusal)
    response = forgot("fluffy")
    assert response.status_code == 200
    assert b"portal-forgot-error" in response.content
    assert stored_answer() == "Fluffy"
    assert password_is(PASSWORD)


def test_a_wrong_answer_leaves_a_clear_answer_as_it_is(user):
    Mailbox.objects.filter(pk=ADDRESS).update(question="Pet?", answer="Fluffy")
    assert forgot("rex").status_code == 200
    assert stored_answer() == "Fluffy"


# --- an accepted recovery, per format ---------------------------------------------------------
def test_hashed_format_upgrades_a_clear_answer_after_an_accepted_reset(user, settings):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "hashed"
    Mailbox.objects.filter(pk=ADDRESS).update(question="Pet?", answer="Fluffy")
    assert forgot(" FLUFFY ").status_code == 302
    assert password_is(NEW_PASSWORD)
    stored = stored_answer()
    assert stored.startswith("{CRYPT}$6$") and passwords.verify_password("fluffy", stored)


def test_extmail_format_never_rewrites_a_clear_answer(user, settings):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "extmail"
    Mailbox.objects.filter(pk=ADDRESS).update(question="Pet?", answer="Fluffy")
    assert forgot("fluffy").status_code == 302
    assert password_is(NEW_PASSWORD)
    assert stored_answer() == "Fluffy"


@pytest.mark.parametrize("panel_format", ["hashed", "extmail"])
@pytest.mark.parametrize("stored_form", ["clear", "hashed"])
def test_both_stored_forms_verify_whatever_the_setting(user, settings, panel_format, stored_form):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = panel_format
    stored = (
        "Deep Blue"
        if stored_form == "clear"
        else mailbox_credentials.hash_recovery_answer("Deep Blue")
    )
    Mailbox.objects.filter(pk=ADDRESS).update(question="Colour?", answer=stored)
    assert forgot("deep blue").status_code == 302
    assert password_is(NEW_PASSWORD)


# --- what the panel writes ---------------------------------------------------------------------
def set_in_portal(answer: str) -> None:
    client = Client()
    assert (
        client.post("/account/login/", {"username": ADDRESS, "password": PASSWORD}).status_code
        == 302
    )
    response = client.post(
        "/account/recovery/", {"question": "Colour?", "answer": answer, "password": PASSWORD}
    )
    assert response.status_code == 302


def test_the_portal_writes_a_hash_by_default(user):
    set_in_portal("  Deep Blue ")
    stored = stored_answer()
    assert stored.startswith("{CRYPT}$6$") and "blue" not in stored.lower()


def test_the_portal_writes_clear_text_in_extmail_format(user, settings):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "extmail"
    set_in_portal("  Deep Blue ")
    assert stored_answer() == "Deep Blue"
    assert forgot("DEEP BLUE").status_code == 302


def test_the_mailbox_services_write_the_configured_format(personas, settings):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "extmail"
    mailbox = mailbox_services.mailbox_create(
        actor=personas["admin_a"],
        domain="a.test",
        local_part="carol",
        password=PASSWORD,
        question="Town?",
        answer=" Lyon ",
    )
    assert Mailbox.objects.get(pk=mailbox.pk).answer == "Lyon"
    mailbox_services.mailbox_update(mailbox=mailbox, actor=personas["admin_a"], answer="Paris")
    assert Mailbox.objects.get(pk=mailbox.pk).answer == "Paris"
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "hashed"
    mailbox_services.mailbox_update(mailbox=mailbox, actor=personas["admin_a"], answer="Nice")
    assert passwords.verify_password("nice", Mailbox.objects.get(pk=mailbox.pk).answer)


def test_the_mailbox_form_says_how_the_answer_is_stored(client_as, settings):
    client = client_as("admin_a")
    assert "Stored hashed" in client.get(f"/mailboxes/{ADDRESS}/edit/").content.decode()
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "extmail"
    assert "Stored in clear text" in client.get(f"/mailboxes/{ADDRESS}/edit/").content.decode()


def test_signup_keeps_the_configured_format_up_to_the_mailbox(
    personas, settings, django_capture_on_commit_callbacks
):
    settings.MAILADMIN_RECOVERY_ANSWER_FORMAT = "extmail"
    Domain.objects.filter(pk="a.test").update(can_signup=True)
    page = Client().get("/signup/a.test/").content.decode()
    assert "the mail administrators can read it" in page
    response = Client().post(
        "/signup/a.test/",
        {
            "local_part": "alice",
            "name": "Alice",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "question": "First pet?",
            "answer": " Fluffy ",
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )
    assert b"signup-received" in response.content
    signup = SignupRequest.objects.get(address="alice@a.test")
    assert signup.answer_hash == "Fluffy"
    client = Client()
    client.force_login(personas["superadmin"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/signups/{signup.pk}/approve/")
    assert Mailbox.objects.get(pk="alice@a.test").answer == "Fluffy"
