"""The captcha as a person meets it in chromium: a wrong answer shows a visible error next to
the captcha and says why the password fields are empty, "New image" gives another challenge
without leaving the page (script under the strict Content-Security-Policy), the spoken
version loads, and the right characters pass."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from captcha.models import CaptchaStore
from playwright.sync_api import Locator, Page, expect

from mailadmin.lib import passwords
from mailboxes.credentials import hash_recovery_answer
from mailboxes.models import Mailbox
from tests.e2e.pages import submit

pytestmark = pytest.mark.e2e

ADDRESS = "user@captcha.test"
NEW_PASSWORD = "Quiet-Orchard-73"


@pytest.fixture
def real_captcha(settings, make_domain, make_mailbox) -> None:
    settings.MAILADMIN_CAPTCHA_TEST_MODE = False
    make_domain("captcha.test", can_signup=True)
    make_mailbox(ADDRESS, question="First pet?", answer=hash_recovery_answer("Fluffy"))


def fill_forgot(page: Page, captcha: str) -> None:
    page.fill("[name=username]", ADDRESS)
    page.fill("[name=answer]", "fluffy")
    page.fill("[name=new_password1]", NEW_PASSWORD)
    page.fill("[name=new_password2]", NEW_PASSWORD)
    page.fill("[name=captcha_1]", captcha)


def wait_for_image(image: Locator) -> None:
    """The image has loaded (wait_for_function would need eval, which the CSP forbids)."""
    for _ in range(100):
        if image.evaluate("img => img.complete && img.naturalWidth > 0"):
            return
        time.sleep(0.05)
    raise AssertionError("the new captcha image did not load")


def current_key(page: Page) -> str:
    return page.locator("[name=captcha_0]").input_value()


def test_the_forgotten_password_captcha_in_the_browser(
    new_page, real_captcha, screenshot_dir: Path
):
    page = new_page()
    page.goto("/account/forgot/")
    image = page.locator("img.captcha")
    expect(image).to_be_visible()
    assert image.bounding_box()["width"] >= 200
    assert page.evaluate("document.querySelector('img.captcha').naturalWidth") >= 200

    # A wrong answer: a visible error at the captcha, and a word on the emptied passwords.
    fill_forgot(page, "WRONG")
    submit(page, "portal-forgot-form")
    error = page.locator("#id_captcha_error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("The characters do not match")
    expect(page.get_by_test_id("passwords-cleared")).to_be_visible()
    expect(page.get_by_test_id("passwords-cleared")).to_contain_text("enter the password again")
    expect(page.locator("[name=new_password1]")).to_have_value("")
    page.screenshot(path=str(screenshot_dir / "captcha-wrong-answer.png"), full_page=True)

    # "New image": another challenge, the page stays (the typed address is still there).
    old_key, old_src = current_key(page), image.get_attribute("src")
    page.get_by_test_id("captcha-refresh").click()
    expect(image).not_to_have_attribute("src", old_src)
    new_key = current_key(page)
    assert new_key != old_key and new_key in image.get_attribute("src")
    expect(page.locator("[name=username]")).to_have_value(ADDRESS)
    wait_for_image(image)

    # The spoken version follows the new challenge and is a WAV file.
    audio_src = page.locator("audio[data-captcha-audio]").get_attribute("src")
    assert new_key in audio_src
    spoken = page.request.get(audio_src)
    assert spoken.status == 200 and spoken.body()[:4] == b"RIFF"

    # The right characters pass.
    answer = CaptchaStore.objects.get(hashkey=new_key).response
    fill_forgot(page, answer.upper())
    submit(page, "portal-forgot-form")
    expect(page).to_have_url(re.compile(r"/account/login/$"))
    assert passwords.verify_password(NEW_PASSWORD, Mailbox.objects.get(pk=ADDRESS).password)


def test_a_wrong_signup_captcha_shows_its_error(new_page, real_captcha, screenshot_dir: Path):
    page = new_page()
    page.goto("/signup/captcha.test/")
    page.fill("[name=local_part]", "alice")
    page.fill("[name=password1]", NEW_PASSWORD)
    page.fill("[name=password2]", NEW_PASSWORD)
    page.fill("[name=captcha_1]", "WRONG")
    submit(page, "signup-form")
    expect(page.locator("#id_captcha_error")).to_be_visible()
    expect(page.locator("#id_captcha_error")).to_contain_text("The characters do not match")
    expect(page.get_by_test_id("passwords-cleared")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "captcha-signup.png"), full_page=True)
