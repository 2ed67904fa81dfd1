"""Group mail delivered for real: a real Celery worker sends it through a real Postfix (the
panel's local MTA, reading the generated mysql: maps) whose virtual(8) writes into the
Maildirs (docs/group-mail.md). The tests look at the Maildirs on disk: who got a message, how
many, with which headers; and at what a stop, a mail server that goes away, and a worker that
is killed do to that (nobody is mailed twice).
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.policy import default as default_policy
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from groupmail.models import GroupMail, Recipient
from mailadmin.lib.maildir import create_maildir
from mailboxes.models import Mailbox
from provisioning.models import Operation
from tests.mailservers import MailStack, PrivatePostfix
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

SUBJECT = "系統維護通知 今晚 22:00"
BODY = "各位用戶\n今晚 22:00 至 23:00 郵件系統維護 期間無法收發郵件。\n— postmaster\n"
FAST_SWEEP = {
    "MAILADMIN_JOB_SWEEP_INTERVAL": "1",
    "MAILADMIN_JOB_RESEND_AFTER": "2",
    "MAILADMIN_JOB_LEASE": "2",
    "MAILADMIN_OPERATION_STALE_AFTER": "5",
}


@pytest.fixture
def stack(mail_stack: MailStack, settings) -> Iterator[MailStack]:
    for name, value in mail_stack.settings().items():
        setattr(settings, name, value)
    yield mail_stack
    mail_stack.clear_mail()


@pytest.fixture
def mta(stack: MailStack) -> Iterator[PrivatePostfix]:
    server = stack.delivery
    if not server.started:
        server.start()
    yield server
    wait_until(server.queue_empty, 30, "the local MTA's queue to empty")


def make_boxes(make_mailbox, mail_base: Path, *addresses: str, **fields) -> None:
    for address in addresses:
        box = make_mailbox(address, **fields)
        create_maildir(mail_base, box.homedir, box.maildir, box.quota, 1000, 1000)


@pytest.fixture
def boxes(stack, personas, make_domain, make_mailbox) -> dict[str, list[str]]:
    """Who must get the mail and who must not; every one of them has a Maildir."""
    make_domain("c.test")
    base = stack.mail_base
    create_maildir(base, "a.test/user", "a.test/user/Maildir/", "0", 1000, 1000)
    make_boxes(make_mailbox, base, "alice@a.test", "bob@a.test", "carol@b.test", "dan@b.test")
    make_boxes(make_mailbox, base, "off@a.test", "idle@b.test", active=False)
    make_boxes(make_mailbox, base, "old@a.test", expiredate="2001-01-01")
    make_boxes(make_mailbox, base, "dave@c.test")
    return {
        "get": ["alice@a.test", "bob@a.test", "carol@b.test", "dan@b.test", "user@a.test"],
        "not": ["dave@c.test", "idle@b.test", "off@a.test", "old@a.test"],
    }


def delivered(stack: MailStack, address: str) -> list[email.message.EmailMessage]:
    box = Mailbox.objects.get(pk=address)
    new = stack.mail_base / box.maildir / "new"
    return [
        email.message_from_bytes(path.read_bytes(), policy=default_policy)
        for path in sorted(new.iterdir())
    ]


def counts_on_disk(stack: MailStack, addresses: list[str]) -> dict[str, int]:
    return {address: len(delivered(stack, address)) for address in addresses}


def worker_env(mta: PrivatePostfix, **extra: str) -> dict[str, str]:
    return {
        "MAILADMIN_EMAIL_BACKEND": "smtp",
        "MAILADMIN_SMTP_HOST": "127.0.0.1",
        "MAILADMIN_SMTP_PORT": str(mta.port),
        "MAILADMIN_GROUPMAIL_BATCH": "2",
        **extra,
    }


def send_form(client: Client, domains: list[str], subject: str = SUBJECT) -> Operation:
    response = client.post(
        reverse("groupmail:new"),
        {"domains": domains, "subject": subject, "body": BODY, "skip_expired": "on"},
    )
    assert response.status_code == 302, response.content[:3000]
    return GroupMail.objects.get(subject=subject).operation


def finished(operation: Operation) -> bool:
    operation.refresh_from_db()
    return operation.finished


def wait_for_mail(stack: MailStack, mta: PrivatePostfix, expected: dict[str, int]) -> None:
    def arrived() -> bool:
        return mta.queue_empty() and counts_on_disk(stack, list(expected)) == expected

    try:
        wait_until(arrived, 60, "the messages in the Maildirs")
    except AssertionError:
        raise AssertionError(
            f"{counts_on_disk(stack, list(expected))} != {expected}\n{mta.log_text()[-3000:]}"
        ) from None


def test_a_group_mail_lands_once_in_every_active_mailbox_of_the_chosen_domains(
    stack, mta, boxes, client_as, start_worker
):
    start_worker(env=worker_env(mta))
    operation = send_form(client_as("superadmin"), ["a.test", "b.test"])

    assert operation.kind == Operation.Kind.GROUP_MAIL
    wait_until(lambda: finished(operation), 60, "the group mail to finish")
    assert operation.state == Operation.State.DONE, operation.errors
    wait_for_mail(stack, mta, dict.fromkeys(boxes["get"], 1))
    assert counts_on_disk(stack, boxes["not"]) == dict.fromkeys(boxes["not"], 0)

    for address in boxes["get"]:
        (message,) = delivered(stack, address)
        domain = address.partition("@")[2]
        assert str(make_header(decode_header(message["Subject"]))) == SUBJECT
        assert message["From"].addresses[0].addr_spec == f"postmaster@{domain}"
        assert message["To"].addresses[0].addr_spec == address
        assert len(message["To"].addresses) == 1 and message["Cc"] is None
        assert message["Return-Path"] == f"<postmaster@{domain}>"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["Precedence"] == "bulk"
        assert message["List-Id"] == f"Notices of {domain} <notices.{domain}>"
        assert message.get_content().replace("\r\n", "\n") == BODY
        # Nobody else's address is in the message.
        raw = message.as_string()
        assert not [other for other in boxes["get"] if other != address and other in raw]

    assert operation.result["sent"] == 5 and operation.total == 5
    (end_a, end_b) = AuditEntry.objects.filter(action="groupmail.end").order_by("domain")
    assert (end_a.domain, end_b.domain) == ("a.test", "b.test")
    assert end_a.changes == {"state": ["", "finished"], "sent": [0, 5]}
    assert SUBJECT in end_a.note() and "5 recipients" in end_a.note()


@pytest.fixture
def many(stack, boxes, make_mailbox) -> list[str]:
    """a.test with 13 mailboxes that get the mail."""
    extra = [f"crowd{n:02d}@a.test" for n in range(10)]
    make_boxes(make_mailbox, stack.mail_base, *extra)
    return sorted([a for a in boxes["get"] if a.endswith("@a.test")] + extra)


def test_stop_ends_after_the_current_batch_and_resume_sends_the_rest(
    stack, mta, many, client_as, start_worker
):
    start_worker(env=worker_env(mta, MAILADMIN_GROUPMAIL_PAUSE="2"))
    client = client_as("admin_a")
    operation = send_form(client, ["a.test"])
    wait_until(
        lambda: Operation.objects.get(pk=operation.pk).done_count >= 2, 60, "the first batch"
    )

    response = client.post(reverse("provisioning:operation_stop", args=[operation.pk]))
    assert response.status_code == 302
    wait_until(lambda: finished(operation), 60, "the group mail to stop")
    assert operation.state == Operation.State.STOPPED
    sent = sorted(
        GroupMail.objects.get(operation=operation)
        .recipients.filter(state=Recipient.State.SENT)
        .values_list("address", flat=True)
    )
    assert 2 <= len(sent) < len(many) and len(sent) % 2 == 0  # whole batches only
    assert operation.result["sent"] == len(sent)
    time.sleep(3)  # nothing goes out after the stop
    wait_for_mail(stack, mta, {a: int(a in sent) for a in many})
    page = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="operation-stopped"' in page and 'data-testid="operation-resume"' in page

    client.post(reverse("provisioning:operation_resume", args=[operation.pk]))
    wait_until(lambda: finished(operation), 60, "the resumed group mail")
    assert operation.state == Operation.State.DONE
    wait_for_mail(stack, mta, dict.fromkeys(many, 1))
    states = [
        entry.changes["state"][1] for entry in AuditEntry.objects.filter(action="groupmail.end")
    ]
    assert sorted(states) == ["finished", "stopped"]


def test_a_mail_server_that_goes_away_fails_it_clearly_and_resume_mails_nobody_twice(
    stack, mta, many, client_as, start_worker
):
    start_worker(
        env=worker_env(
            mta,
            MAILADMIN_GROUPMAIL_PAUSE="2",
            MAILADMIN_GROUPMAIL_RETRIES="1",
            MAILADMIN_GROUPMAIL_RETRY_DELAY="1",
        )
    )
    client = client_as("superadmin")
    operation = send_form(client, ["a.test"])
    wait_until(
        lambda: Operation.objects.get(pk=operation.pk).done_count >= 2, 60, "the first batch"
    )
    mta.stop()
    try:
        wait_until(lambda: finished(operation), 60, "the group mail to give up")
    finally:
        mta.start()
    assert operation.state == Operation.State.FAILED
    (error,) = operation.errors
    assert "The mail server did not take the messages" in error
    assert f"127.0.0.1:{mta.port}" in error and "Resume" in error
    group_mail = GroupMail.objects.get(operation=operation)
    assert not group_mail.recipients.filter(state=Recipient.State.UNKNOWN).exists()

    client.post(reverse("provisioning:operation_resume", args=[operation.pk]))
    wait_until(lambda: finished(operation), 60, "the resumed group mail")
    assert operation.state == Operation.State.DONE, operation.errors
    wait_for_mail(stack, mta, dict.fromkeys(many, 1))


def test_a_killed_worker_is_resumed_by_the_sweeper_and_mails_nobody_twice(
    stack, mta, many, client_as, start_worker
):
    env = worker_env(mta, MAILADMIN_GROUPMAIL_PAUSE="2", **FAST_SWEEP)
    first = start_worker("w1", env=env)
    operation = send_form(client_as("superadmin"), ["a.test"])
    wait_until(
        lambda: Operation.objects.get(pk=operation.pk).done_count >= 2, 60, "the first batch"
    )
    first.kill()

    start_worker("w2", beat=True, env=env)
    wait_until(lambda: finished(operation), 90, "the group mail to be resumed and finish")
    assert operation.state == Operation.State.DONE, operation.errors
    assert operation.attempts == 2 and operation.lost_runs == 1
    group_mail = GroupMail.objects.get(operation=operation)
    unknown = set(
        group_mail.recipients.filter(state=Recipient.State.UNKNOWN).values_list(
            "address", flat=True
        )
    )
    # Killed during the pause between two batches: nothing was being handed over.
    assert unknown == set()
    wait_for_mail(stack, mta, dict.fromkeys(many, 1))
