"""Disk usage in a real browser: a domain admin measures their domain from its page, reads the
sum, follows the "over 90 %" link to the filtered mailbox list with its bars, and downloads
the usage report; no console error (the bars are <meter>s: the CSP forbids inline styles)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e

DOMAIN_ADMIN = "postmaster@example.com"
MB = 1024 * 1024


def maildir(address: str, used: int) -> None:
    local, _, domain = address.partition("@")
    box = Path(settings.MAILADMIN_MAIL_BASE) / domain / local / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    (box / "maildirsize").write_text(f"{10 * MB}S\n{used} 3\n")


def test_a_domain_admin_measures_and_filters_by_use(
    new_page, make_domain, make_manager, make_mailbox, console_errors
):
    make_domain("example.com")
    make_manager(DOMAIN_ADMIN, domains=["example.com"])
    for address, used in (("alice@example.com", 9_800_000), ("bob@example.com", MB)):
        make_mailbox(address, quota="10485760S")
        maildir(address, used)
    page = new_page()
    log_in(page, DOMAIN_ADMIN)
    page.goto("/domains/example.com/")
    expect(page.get_by_test_id("domain-disk-usage")).to_contain_text("0 / 2")
    page.get_by_test_id("measure-domain").click()
    card = page.get_by_test_id("domain-disk-usage")
    expect(card).to_contain_text("2 / 2")
    expect(page.get_by_test_id("domain-disk-used")).to_have_text(f"{(9_800_000 + MB) // MB} MB")
    card.get_by_role("link", name="1").click()
    table = page.get_by_test_id("mailbox-table")
    expect(table).to_contain_text("alice@example.com")
    expect(table).not_to_contain_text("bob@example.com")
    expect(table.locator("meter")).to_have_count(1)
    page.goto("/domains/example.com/")
    with page.expect_download() as download:
        page.get_by_test_id("usage-csv").click()
    content = Path(download.value.path()).read_text()
    assert "alice@example.com" in content and "9800000" in content
    assert console_errors == []
