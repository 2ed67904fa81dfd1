"""Steps the browser tests share: the manager login and submitting a form by its test id."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from conftest import PASSWORD


def log_in(page: Page, username: str, password: str = PASSWORD) -> None:
    """Log in to the manager panel at /login/ and wait for the signed-in page."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[name=login], button[name=login]")
    expect(page.get_by_test_id("signed-in-as")).to_contain_text(username)


def submit(page: Page, form_testid: str) -> None:
    page.get_by_test_id(form_testid).locator("[type=submit]").click()
