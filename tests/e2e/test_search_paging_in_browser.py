"""The top bar's search and the page links in a real browser, on a desktop and a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from domains.models import Domain
from domains.usage import recompute_all
from mailboxes.models import Mailbox
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e

ADMIN = "postmaster@example.com"


@pytest.fixture
def crowded(make_manager):
    Domain.objects.create(domain="example.com", description="Example")
    Mailbox.objects.bulk_create(
        Mailbox(
            username=f"user{i:03d}@example.com",
            uid=f"user{i:03d}",
            domain_id="example.com",
            homedir=f"example.com/user{i:03d}",
            maildir=f"example.com/user{i:03d}/Maildir/",
            name="Wei Chen" if i == 42 else f"Person {i}",
        )
        for i in range(80)
    )
    from mailboxes import names

    names.NAME_WORDS.reindex_all()
    recompute_all()
    make_manager(ADMIN, domains=["example.com"])


@pytest.mark.parametrize("width", [1366, 390])
def test_the_top_bar_finds_a_name_and_the_pages_follow_links(new_page, crowded, width):
    page = new_page(viewport={"width": width, "height": 900})
    log_in(page, ADMIN)
    if width < 768:  # the top bar is folded behind its toggler on a phone
        page.locator(".navbar-toggler").click()
    page.fill("#top-search-q", "chen")
    page.press("#top-search-q", "Enter")
    expect(page.get_by_test_id("search-mailboxes")).to_contain_text("user042@example.com")
    expect(page.get_by_test_id("search-mailboxes")).to_contain_text("Wei Chen")
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.goto("/mailboxes/?domain=example.com")
    expect(page.get_by_test_id("page-number")).to_have_text("Page 1 of 4")
    page.get_by_test_id("page-next").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2 of 4")
    expect(page.locator("body")).to_contain_text("user025@example.com")
    page.get_by_test_id("page-last").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 4 of 4")
    expect(page.locator("body")).to_contain_text("user079@example.com")
    page.get_by_test_id("page-previous").click()
    expect(page.get_by_test_id("page-number")).to_have_text("Page 3 of 4")
    page.fill("#page-jump-number", "2")
    page.press("#page-jump-number", "Enter")
    expect(page.get_by_test_id("page-number")).to_have_text("Page 2 of 4")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
