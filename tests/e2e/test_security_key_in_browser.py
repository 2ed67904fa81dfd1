"""A security key (WebAuthn) in a real browser, with Chromium's virtual authenticator: a
manager adds a key, keeps the recovery codes, logs out, and signs in with the key."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts import twofactor
from accounts.models import SecurityKey
from audit.models import AuditEntry
from conftest import PASSWORD
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e


def test_a_manager_adds_a_security_key_and_signs_in_with_it(
    new_page, make_domain, make_manager, console_errors
):
    make_domain("example.com")
    make_manager("postmaster@example.com", domains=["example.com"])
    page = new_page()
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )
    log_in(page, "postmaster@example.com")
    page.goto("/password/2fa/")
    page.fill("#key-name", "Desk key")
    page.get_by_test_id("security-key-register").click()
    codes = page.get_by_test_id("recovery-code")
    expect(codes.first).to_be_visible()
    assert codes.count() == twofactor.RECOVERY_CODES
    (key,) = SecurityKey.objects.all()
    assert key.name == "Desk key" and key.manager == "postmaster@example.com"
    page.goto("/password/2fa/")
    expect(page.get_by_test_id("security-key")).to_contain_text("Desk key")

    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.fill("input[name=username]", "postmaster@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[name=login], button[name=login]")
    page.get_by_test_id("key-login").click()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("postmaster@example.com")
    assert AuditEntry.objects.filter(action="login", message="with a security key").exists()
    assert SecurityKey.objects.get().last_used_at is not None
    assert console_errors == []
