"""The panel in a real browser: the main flows of both roles, bad input, a phone-sized screen.

Every page must load without console errors: the Content-Security-Policy forbids inline
script, so a forgotten inline handler shows up here as a CSP violation.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from domains.models import Domain
from mailboxes.models import Mailbox
from tests.e2e.conftest import DOMAIN_ADMIN, PNG, ROOT
from tests.e2e.pages import log_in, submit

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "Blue-Harbour-31"


def status_of(page: Page, url: str) -> int:
    response = page.goto(url)
    assert response is not None
    return response.status


def test_a_superadmin_sets_up_a_domain_through_the_forms(new_page, superadmin, console_errors):
    page = new_page()
    log_in(page, ROOT)

    # Domain
    page.get_by_role("link", name="Domains").first.click()
    page.get_by_test_id("domain-add").click()
    page.fill("[name=domain]", "example.com")
    page.fill("[name=description]", "Example Corporation")
    page.fill("[name=maxusers]", "50")
    page.fill("[name=maxquota]", "51200")
    page.fill("[name=default_quota]", "1024")
    submit(page, "domain-form")
    expect(page.get_by_test_id("domain-name")).to_contain_text("example.com")
    page.goto("/domains/")
    expect(page.get_by_test_id("domain-list")).to_contain_text("example.com")

    # Domain admin
    page.goto("/managers/")
    page.get_by_test_id("manager-add").click()
    page.fill("[name=username]", DOMAIN_ADMIN)
    page.fill("[name=name]", "Pat Postmaster")
    page.select_option("[name=type]", "postmaster")
    page.fill("[name=password1]", NEW_PASSWORD)
    page.fill("[name=password2]", NEW_PASSWORD)
    page.select_option("[name=domains]", ["example.com"])
    submit(page, "manager-form")
    expect(page.get_by_test_id("manager-table")).to_contain_text(DOMAIN_ADMIN)

    # Mailbox
    page.goto("/mailboxes/?domain=example.com")
    page.get_by_test_id("add-mailbox").click()
    page.fill("[name=local_part]", "alice")
    page.fill("[name=name]", "Alice Martin")
    page.fill("[name=password1]", NEW_PASSWORD)
    page.fill("[name=password2]", NEW_PASSWORD)
    page.fill("[name=quota]", "2048")
    submit(page, "mailbox-form")
    page.goto("/mailboxes/?domain=example.com")
    expect(page.get_by_test_id("mailbox-table")).to_contain_text("alice@example.com")

    # Alias
    page.goto("/aliases/?domain=example.com")
    page.get_by_test_id("alias-add").click()
    page.fill("[name=local_part]", "sales")
    page.fill("[name=goto]", "alice@example.com\nbob@example.org")
    submit(page, "alias-form")
    expect(page.get_by_test_id("alias-table")).to_contain_text("sales@example.com")

    domain = Domain.objects.get(pk="example.com")
    assert domain.description == "Example Corporation" and domain.maxusers == 50
    admin = Manager.objects.get(pk=DOMAIN_ADMIN)
    assert admin.type == "postmaster" and admin.check_password(NEW_PASSWORD)
    assert list(
        DomainManager.objects.filter(manager_id=DOMAIN_ADMIN).values_list("domain_id", flat=True)
    ) == ["example.com"]
    mailbox = Mailbox.objects.get(pk="alice@example.com")
    assert mailbox.name == "Alice Martin" and mailbox.quota_bytes == 2048 * 1024 * 1024
    assert Alias.objects.get(pk="sales@example.com").goto == "alice@example.com,bob@example.org"

    # The new domain admin logs in with the password typed into the form.
    admin_page = new_page()
    log_in(admin_page, DOMAIN_ADMIN, NEW_PASSWORD)
    expect(admin_page.get_by_test_id("overview-domains")).to_contain_text("example.com")
    assert console_errors == []


def test_a_domain_admin_sees_only_their_domain(
    new_page, make_domain, make_manager, make_mailbox, console_errors
):
    make_domain("example.com")
    make_domain("example.org")
    make_manager(DOMAIN_ADMIN, domains=["example.com"])
    make_mailbox("alice@example.com", name="Alice Martin")
    make_mailbox("bob@example.org", name="Robert Outsider")
    page = new_page()
    log_in(page, DOMAIN_ADMIN)

    overview = page.get_by_test_id("overview-domains")
    expect(overview).to_contain_text("example.com")
    expect(overview).not_to_contain_text("example.org")
    page.get_by_role("link", name="Mailboxes").first.click()
    expect(page.get_by_test_id("mailbox-table")).to_contain_text("alice@example.com")
    expect(page.locator("main")).not_to_contain_text("bob@example.org")
    page.goto("/domains/")
    expect(page.get_by_test_id("domain-list")).not_to_contain_text("example.org")
    expect(page.get_by_test_id("domain-add")).to_have_count(0)

    for url in (
        "/domains/example.org/",
        "/mailboxes/bob@example.org/",
        "/mailboxes/?domain=example.org",
        "/managers/",
    ):
        console_errors.expect_status(url, 404)
        assert status_of(page, url) == 404, url
        body = page.content()
        assert "example.org" not in body.replace(url, "") and "Robert Outsider" not in body
    assert console_errors == []


@pytest.mark.parametrize(
    ("local_part", "quota", "field", "message"),
    [
        ("../etc", "100", "local_part", r"characters a-z, 0-9, dot, hyphen"),
        ("carol", "500", "quota", r"exceeds the domain's total quota of 200 MB"),
    ],
    ids=["path-in-local-part", "quota-over-domain-limit"],
)
def test_bad_input_is_shown_next_to_its_field_and_nothing_is_created(
    new_page,
    superadmin,
    make_domain,
    console_errors,
    screenshot_dir: Path,
    local_part,
    quota,
    field,
    message,
):
    make_domain("example.com", maxquota=f"{200 * 1024 * 1024}S")
    page = new_page()
    log_in(page, ROOT)
    page.goto("/mailboxes/add/?domain=example.com")
    page.fill("[name=local_part]", local_part)
    page.fill("[name=name]", "Carol Jones")
    page.fill("[name=password1]", NEW_PASSWORD)
    page.fill("[name=password2]", NEW_PASSWORD)
    page.fill("[name=quota]", quota)
    submit(page, "mailbox-form")

    wrapper = page.locator(f"#div_id_{field}")
    expect(wrapper.locator(f"[name={field}]")).to_have_class(re.compile(r"\bis-invalid\b"))
    feedback = wrapper.locator(".invalid-feedback")
    expect(feedback).to_be_visible()
    expect(feedback).to_contain_text(re.compile(message))
    assert page.locator(".is-invalid").count() == 1  # only the bad field is marked
    assert not Mailbox.objects.exists()
    if field == "quota":
        wrapper.evaluate("e => e.scrollIntoView({block: 'center', behavior: 'instant'})")
        page.screenshot(path=screenshot_dir / "mailbox-form-error.png")
        assert (screenshot_dir / "mailbox-form-error.png").read_bytes().startswith(PNG)
    assert console_errors == []


def test_on_a_phone_the_navigation_opens_from_the_toggler(
    new_page, superadmin, make_domain, console_errors
):
    make_domain("example.com")
    page = new_page(viewport={"width": 390, "height": 844})
    log_in(page, ROOT)
    toggler = page.locator(".navbar-toggler")
    mailboxes_link = page.locator("#mainnav").get_by_role("link", name="Mailboxes")
    expect(toggler).to_be_visible()
    expect(mailboxes_link).to_be_hidden()
    toggler.click()
    expect(mailboxes_link).to_be_visible()
    mailboxes_link.click()
    expect(page).to_have_url(re.compile(r"/mailboxes/$"))
    # Nothing wider than the screen: no sideways scrolling of the page itself.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert console_errors == []


def test_screens_of_a_populated_panel(new_page, demo_data, console_errors, screenshot_dir: Path):
    page = new_page()
    log_in(page, ROOT)
    expect(page.get_by_test_id("count-domains")).to_contain_text("3")
    expect(page.get_by_test_id("count-mailboxes")).to_contain_text("10")
    expect(page.get_by_test_id("overview-domains")).to_contain_text("bücher.example")
    page.screenshot(path=screenshot_dir / "overview.png", full_page=True)

    page.goto("/mailboxes/?domain=example.com")
    expect(page.get_by_test_id("mailbox-row")).to_have_count(7)
    page.screenshot(path=screenshot_dir / "mailboxes.png", full_page=True)
    for name in ("overview.png", "mailboxes.png"):
        assert (screenshot_dir / name).read_bytes().startswith(PNG)
    assert console_errors == []


def test_an_inline_script_is_refused_and_reported(new_page, console_errors):
    """The guard of every test above: CSP refuses inline script, and the refusal is caught."""
    page = new_page()
    page.goto("/login/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "document.body.dataset.inline = 'ran'";
            document.body.appendChild(script);
        }"""
    )
    assert page.evaluate("document.body.dataset.inline") is None
    expect(page.locator("body")).not_to_have_attribute("data-inline", "ran")
    assert any("Content Security Policy" in error for error in console_errors)
    console_errors.clear()
