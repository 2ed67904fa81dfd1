"""The system status and mail queue pages in a real browser, on a desktop and a phone: a held
message of a real private Postfix is put on hold from the queue page."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import log_in
from tests.mailservers import start_held

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "viewport", [{"width": 1366, "height": 900}, {"width": 390, "height": 844}]
)
def test_a_superadmin_reads_the_status_and_holds_a_queued_message(
    new_page, make_manager, settings, console_errors, viewport
):
    held, (queue_id,) = start_held([("alice@a.test", "bob@remote.example")])
    try:
        settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(held.conf)
        make_manager("root@example.net", type="admin")
        page = new_page(viewport=viewport)
        log_in(page, "root@example.net")
        page.goto("/system/mailstack/status/")
        page.get_by_test_id("status-refresh").click()
        expect(page.get_by_test_id("status-queue")).to_contain_text(
            "1 message: 0 active, 1 deferred"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.goto("/system/mailstack/queue/")
        row = page.locator(f'[data-queue-id="{queue_id}"]')
        expect(row).to_contain_text("bob@remote.example")
        row.get_by_test_id("queue-hold").click()
        expect(page.get_by_test_id("queue-jobs")).to_contain_text("hold")
        assert [m["queue_name"] for m in held.messages()] == ["hold"]
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        assert console_errors == []
    finally:
        held.stop()
