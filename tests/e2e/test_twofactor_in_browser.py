"""Two-factor sign-in in a real browser: a manager enrols with a code computed as an
authenticator app would, keeps the recovery codes, logs out, and logs in with a code."""

from __future__ import annotations

import time

import pyotp
import pytest
from playwright.sync_api import expect

from accounts import twofactor
from accounts.models import SecondFactor
from conftest import PASSWORD
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e


def test_a_manager_enrols_logs_out_and_logs_in_with_a_code(
    new_page, make_domain, make_manager, console_errors, screenshot_dir
):
    make_domain("example.com")
    make_manager("postmaster@example.com", domains=["example.com"])
    page = new_page()
    log_in(page, "postmaster@example.com")
    page.goto("/password/")
    page.get_by_test_id("twofactor-link").click()
    page.get_by_test_id("twofactor-start").locator("[type=submit]").click()
    expect(page.get_by_test_id("twofactor-qr").locator("svg")).to_be_visible()
    secret = page.get_by_test_id("twofactor-secret").inner_text().replace(" ", "")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.get_by_test_id("twofactor-confirm").locator("[type=submit]").click()
    codes = page.get_by_test_id("recovery-code").all_inner_texts()
    assert len(codes) == twofactor.RECOVERY_CODES
    page.screenshot(path=str(screenshot_dir / "twofactor-codes.png"), full_page=True)
    assert SecondFactor.objects.filter(manager="postmaster@example.com").exists()

    page.get_by_role("button", name="Log out").click()
    page.goto("/login/")
    page.fill("input[name=username]", "postmaster@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.click("input[name=login], button[name=login]")
    expect(page.get_by_test_id("code-form")).to_be_visible()
    # The enrolment used this step's code: the app's next code is accepted (clock drift).
    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + twofactor.STEP))
    page.get_by_test_id("code-form").locator("[type=submit]").click()
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("postmaster@example.com")
    assert console_errors == []
