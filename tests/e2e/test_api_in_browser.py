"""API tokens and the API documentation in a real browser: a token made, shown once, used by a
script, revoked; Swagger UI runs under the panel's Content-Security-Policy (no console error)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from api.models import ApiToken
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e

ADMIN = "postmaster@a.test"


def api_get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            json.load(response)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_manager_makes_uses_and_revokes_a_token(
    new_page, make_domain, make_manager, live_server, screenshot_dir: Path
):
    make_domain("a.test")
    make_manager(ADMIN, domains=["a.test"])
    page = new_page()
    log_in(page, ADMIN)
    page.get_by_test_id("api-tokens-link").click()
    page.fill("[name=name]", "HR provisioning")
    page.select_option("[name=scope]", "write")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("token-value").input_value()
    assert token.startswith("mat_")
    page.screenshot(path=screenshot_dir / "api-token.png")
    assert api_get(f"{live_server.url}/api/v1/mailboxes/", token) == 200

    # Shown once: the list names it, never again the token itself.
    page.goto("/tokens/")
    expect(page.get_by_test_id("token-table")).to_contain_text("HR provisioning")
    assert token not in page.content()
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("token-table")).to_contain_text("revoked")
    assert ApiToken.objects.get().revoked_at is not None
    assert api_get(f"{live_server.url}/api/v1/mailboxes/", token) == 401


def test_the_documentation_page_runs_swagger_ui(new_page, make_domain, make_manager):
    make_domain("a.test")
    make_manager(ADMIN, domains=["a.test"])
    page = new_page()
    log_in(page, ADMIN)
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("mailadmin API")
    expect(page.locator(".opblock-tag").first).to_be_visible()
