"""A background operation in a real browser: the manager confirms a bulk password reset on
more mailboxes than a request may take, lands on the operation's page, watches its progress bar
move to 100 % (the page's script polls the progress; the Content-Security-Policy allows no inline
script, so any violation shows up as a console error), and gets the new passwords once.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from mailadmin.lib.passwords import verify_password
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Operation
from tests.e2e.pages import log_in

pytestmark = pytest.mark.e2e

ROOT = "root@example.net"
COUNT = 30


def percents_until_done(page: Page, timeout: float = 60) -> list[int]:
    """The bar's percentages as the page shows them, until the operation's result is there."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.get_by_test_id("operation-done").count():
            break
        try:
            value = page.evaluate(
                "() => document.querySelector('progress.operation-progress')?.dataset.percent"
            )
        except PlaywrightError:  # the page is being replaced by the result: look again
            time.sleep(0.05)
            continue
        if value is not None and (not seen or seen[-1] != int(value)):
            seen.append(int(value))
        time.sleep(0.05)
    else:
        raise AssertionError(f"the operation did not finish in {timeout}s: {seen}")
    return seen


def test_a_manager_watches_a_bulk_reset_progress_and_gets_the_passwords_once(
    new_page, make_domain, make_manager, make_mailbox, settings, console_errors
):
    settings.MAILADMIN_BACKGROUND_BULK_OVER = COUNT - 1
    make_manager(ROOT, type="admin")
    make_domain("example.com")
    for n in range(COUNT):
        make_mailbox(f"user{n:02d}@example.com")
    # Slow hashes for the new passwords, so that the reset takes a few seconds to watch.
    settings.MAILADMIN_PASSWORD_SCHEME = "sha512crypt"
    settings.MAILADMIN_PASSWORD_ROUNDS = 100_000
    page = new_page()
    log_in(page, ROOT)

    page.goto("/mailboxes/?domain=example.com&per_page=50")
    for box in page.locator("input[name=addresses]").all():
        box.check()
    page.get_by_test_id("bulk-action").select_option("reset_password")
    page.get_by_test_id("bulk-submit").click()
    page.get_by_test_id("confirm").click()

    with operations.rows_guard():  # the operation's thread may be writing its row (SQLite)
        url = Operation.objects.get().get_absolute_url()
    expect(page).to_have_url(url)
    expect(page.get_by_test_id("operation-progress")).to_be_visible()
    seen = percents_until_done(page)
    assert any(0 < percent < 100 for percent in seen), seen  # it moved while it ran

    expect(page.get_by_test_id("operation-done")).to_be_visible()
    bar = page.locator("progress.operation-progress")
    expect(bar).to_have_attribute("data-percent", "100")
    passwords = page.get_by_test_id("new-password")
    expect(passwords).to_have_count(COUNT)
    first = passwords.first.inner_text()
    assert verify_password(first, Mailbox.objects.get(pk="user00@example.com").password)

    page.reload()  # shown once: gone from the page and from the database
    expect(page.get_by_test_id("passwords-gone")).to_be_visible()
    expect(page.get_by_test_id("new-password")).to_have_count(0)
    assert Operation.objects.get().sealed_result == ""
    assert console_errors == []
