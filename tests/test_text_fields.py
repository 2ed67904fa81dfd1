"""Display names and other one-line text refuse control characters on every form, and the
signup notification reaches every valid admin address even when another one is not valid."""

from __future__ import annotations

import logging

import pytest
from django.core import mail
from django.test import Client

from accounts.models import DomainManager, Manager
from conftest import PASSWORD
from domains.models import Domain
from mailboxes import bulk as mailbox_bulk
from mailboxes.models import Mailbox
from signup.models import SignupRequest

NEW_PASSWORD = "Blue-Lantern-42"
# CR, LF, CR LF inside the text, escape, DEL, a C1 control, Unicode's line separator.
CONTROLS = [
    "Al\rice",
    "Al\nice",
    "Alice\r\nBcc: evil@x.test",
    "Al\x1bice",
    "Al\x7fice",
    "Al\x85ice",
    "Al\u2028ice",
]


def signup_data(**extra: str) -> dict[str, str]:
    return {
        "local_part": "alice",
        "name": "Alice",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "question": "First pet?",
        "answer": "Fluffy",
        "captcha_0": "x",
        "captcha_1": "PASSED",
        **extra,
    }


@pytest.fixture
def offering(personas):
    Domain.objects.filter(pk="a.test").update(can_signup=True)


def field_errors(response, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


# --- control characters ------------------------------------------------------------------------
@pytest.mark.parametrize("value", CONTROLS)
@pytest.mark.parametrize("field", ["name", "question", "answer"])
def test_signup_refuses_control_characters_with_a_field_error(offering, field, value):
    response = Client().post("/signup/a.test/", signup_data(**{field: value}))
    assert response.status_code == 200
    assert any("control characters" in e for e in field_errors(response, field))
    assert "control characters" in response.content.decode()
    assert not SignupRequest.objects.exists()


def test_ordinary_names_stay_accepted(offering):
    response = Client().post("/signup/a.test/", signup_data(name="Zoë O'Brien-Łukasz 王小明"))
    assert b"signup-received" in response.content
    assert SignupRequest.objects.get().name == "Zoë O'Brien-Łukasz 王小明"


@pytest.mark.parametrize("field", ["name", "question", "answer"])
def test_the_mailbox_form_refuses_control_characters(client_as, field):
    data = {
        "local_part": "alice",
        "domain": "a.test",
        "name": "Alice",
        "password1": "Sturdy-Pass-42",
        "password2": "Sturdy-Pass-42",
        "quota": "100",
        "netdiskquota": "0",
        "active": "on",
        "question": "Colour?",
        "answer": "Blue",
        field: "Line one\r\nLine two",
    }
    response = client_as("admin_a").post("/mailboxes/add/", data)
    assert response.status_code == 200
    assert any("control characters" in e for e in field_errors(response, field))
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


def test_the_manager_form_refuses_control_characters(client_as):
    response = client_as("superadmin").post(
        "/managers/add/",
        {
            "username": "new@a.test",
            "name": "New\nadmin",
            "type": "postmaster",
            "password1": "Fresh-Secret-42",
            "password2": "Fresh-Secret-42",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert any("control characters" in e for e in field_errors(response, "name"))
    assert not Manager.objects.filter(pk="new@a.test").exists()


@pytest.mark.parametrize("field", ["question", "answer"])
def test_the_portal_recovery_form_refuses_control_characters(personas, field):
    client = Client()
    client.post("/account/login/", {"username": "user@a.test", "password": PASSWORD})
    data = {"question": "Colour?", "answer": "Blue", "password": PASSWORD, field: "Bl\rue"}
    response = client.post("/account/recovery/", data)
    assert response.status_code == 200
    assert any("control characters" in e for e in field_errors(response, field))
    assert Mailbox.objects.get(pk="user@a.test").question == ""


def test_the_import_refuses_names_with_line_breaks(personas):
    rows = [
        {"local_part": "good", "name": "Good", "password": PASSWORD, "line": 2},
        {"local_part": "bad", "name": "Bad\r\nname", "password": PASSWORD, "line": 3},
    ]
    with pytest.raises(mailbox_bulk.ImportRejected) as caught:
        mailbox_bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["admin_a"])
    assert {line for line, _message in caught.value.lines} == {3}
    assert not Mailbox.objects.filter(pk__in=["good@a.test", "bad@a.test"]).exists()


def test_the_reject_reason_may_span_lines_but_holds_no_other_controls(personas, offering):
    client = Client()
    client.post("/signup/a.test/", signup_data())
    signup = SignupRequest.objects.get()
    client.force_login(personas["superadmin"])
    bad = client.post(f"/signups/{signup.pk}/reject/", {"reason": "No\x1b[2J thanks"})
    assert bad.status_code == 200
    assert any("control characters" in e for e in field_errors(bad, "reason"))
    good = client.post(f"/signups/{signup.pk}/reject/", {"reason": "Sorry,\r\nnot a member."})
    assert good.status_code == 302
    signup.refresh_from_db()
    assert signup.state == "rejected"


# --- notifications -----------------------------------------------------------------------------
def test_one_invalid_admin_address_does_not_stop_the_notification_to_the_others(
    offering, make_manager, caplog, django_capture_on_commit_callbacks
):
    # Legacy manager usernames are free text: not every one is an address.
    for username in ("bad address@a.test", "broken@", "evil@a.test\nBcc: spy@x.test", "zed@a.test"):
        Manager.objects.create(username=username, password="x", type="postmaster")
        DomainManager.objects.create(manager_id=username, domain_id="a.test")
    with (
        caplog.at_level(logging.WARNING, logger="mailadmin.signup"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = Client().post("/signup/a.test/", signup_data())
    assert b"signup-received" in response.content
    assert sorted(m.to for m in mail.outbox) == [["admin@a.test"], ["zed@a.test"]]
    assert "alice@a.test" in mail.outbox[0].subject
    assert caplog.text.count("not a valid address") == 3
    assert "\nBcc" not in caplog.text


def test_a_domain_whose_admins_all_have_invalid_addresses_falls_back_to_the_superadmins(
    offering, django_capture_on_commit_callbacks
):
    Manager.objects.filter(pk="admin@a.test").update(username="admin at a.test")
    DomainManager.objects.filter(domain_id="a.test").update(manager_id="admin at a.test")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/signup/a.test/", signup_data())
    assert [m.to for m in mail.outbox] == [["root@panel.test"]]
