"""A group mail in a real browser: a domain admin writes a notice in Chinese, lands on its
page, watches the progress bar, stops it after the current batch, resumes it, and sees it
finish; each mailbox got one message (the in-memory outbox: delivery through Postfix is in
test_groupmail_delivery.py). No inline script may run (the console stays clean).
"""

from __future__ import annotations

import pytest
from django.core import mail
from playwright.sync_api import expect

from groupmail.models import GroupMail
from provisioning import operations
from provisioning.models import Operation
from tests.e2e.pages import log_in
from tests.workers import wait_until

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.com"
COUNT = 8


def test_a_domain_admin_sends_watches_stops_and_resumes_a_group_mail(
    new_page, make_domain, make_manager, make_mailbox, settings, console_errors
):
    settings.MAILADMIN_GROUPMAIL_BATCH = 2
    settings.MAILADMIN_GROUPMAIL_PAUSE = 1
    make_domain("example.com")
    make_domain("other.example")
    make_manager(ADMIN, domains=["example.com"])
    for n in range(COUNT):
        make_mailbox(f"user{n}@example.com")
    make_mailbox("someone@other.example")
    page = new_page()
    log_in(page, ADMIN)

    page.goto("/groupmail/")
    page.get_by_test_id("groupmail-new").click()
    domains = page.locator("#id_domains option")
    expect(domains).to_have_count(1)  # only the admin's own domain is offered
    page.locator("#id_domains").select_option("example.com")
    page.locator("#id_subject").fill("停机维护")
    page.locator("#id_body").fill("今晚十点停机维护。")
    page.get_by_test_id("groupmail-send").click()

    with operations.rows_guard():
        operation = GroupMail.objects.get().operation
    expect(page).to_have_url(operation.get_absolute_url())
    expect(page.get_by_test_id("groupmail-summary")).to_contain_text("停机维护")

    def first_batch_sent() -> bool:
        with operations.rows_guard():
            return Operation.objects.get(pk=operation.pk).done_count >= 2

    wait_until(first_batch_sent, 30, "the first batch")
    page.get_by_test_id("operation-stop").click()
    expect(page.get_by_test_id("operation-stopped")).to_be_visible(timeout=30_000)
    stopped_at = len(mail.outbox)
    assert 2 <= stopped_at < COUNT and stopped_at % 2 == 0

    page.get_by_test_id("operation-resume").click()
    expect(page.get_by_test_id("operation-done")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("groupmail-counts")).to_contain_text(f"{COUNT} sent")
    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == [f"user{n}@example.com" for n in range(COUNT)]

    page.goto("/groupmail/")
    expect(page.get_by_test_id("groupmail-row")).to_have_count(1)
    expect(page.get_by_test_id("groupmail-row")).to_contain_text(f"{COUNT} / {COUNT}")
    assert console_errors == []
