"""Mail activity end to end: the panel's local MTA (a real private Postfix reading the
generated maps, tests/mailservers.py) accepts and delivers a message into a Maildir, bounces
one whose alias points where it does not relay, and refuses one for an unknown mailbox; the
follower reads what that Postfix logged (its ``maillog_file``), and the trace shows each
outcome with the answer."""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from django.urls import reverse

from activity.follow import FileFollower
from activity.ingest import Ingestor
from activity.models import Message, Recipient
from aliases.models import Alias
from mailadmin.lib.maildir import create_maildir
from tests.mailservers import MailStack, PrivatePostfix
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


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


def send(mta: PrivatePostfix, sender: str, recipient: str, subject: str) -> str | None:
    """Send one message; the refusal's text when the server refuses the recipient."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, recipient, subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@a.test>"
    message.set_content("activity test\n")
    with smtplib.SMTP("127.0.0.1", mta.port, timeout=30) as smtp:
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            return refused.recipients[recipient][1].decode()
    return None


def test_delivered_bounced_and_refused_mail_shows_in_the_trace(
    stack, mta, personas, make_mailbox, client_as
):
    tag = uuid.uuid4().hex[:8]
    sender, inbox = f"s{tag}@a.test", f"r{tag}@a.test"
    for address in (sender, inbox):
        box = make_mailbox(address)
        create_maildir(stack.mail_base, box.homedir, box.maildir, box.quota, 1000, 1000)
    far = f"far{tag}@elsewhere.example"
    forward = f"fw{tag}@a.test"
    Alias.objects.create(address=forward, goto=far, domain_id="a.test")
    unknown = f"nobody{tag}@a.test"

    assert send(mta, sender, inbox, "delivered") is None
    # Accepted for the alias, rewritten to an address this server does not relay to: bounced.
    assert send(mta, sender, forward, "bounced") is None
    refusal = send(mta, sender, unknown, "refused")
    assert refusal is not None and "User unknown" in refusal

    ingestor = Ingestor(host="mx-test", source=str(mta.log))
    follower = FileFollower(mta.log, ingestor)
    follower.resume()

    def outcomes() -> dict[str, str]:
        follower.poll()
        return dict(
            Recipient.objects.filter(address__in=[inbox, far, unknown]).values_list(
                "address", "status"
            )
        )

    expected = {inbox: "sent", far: "bounced", unknown: "rejected"}
    try:
        wait_until(lambda: outcomes() == expected, 60, "the outcomes in the activity tables")
    except AssertionError:
        raise AssertionError(f"{outcomes()} != {expected}\n{mta.log_text()[-4000:]}") from None

    def left_the_queue() -> bool:
        follower.poll()
        queued = Message.objects.filter(sender=sender).exclude(queue_id="")
        return queued.filter(removed_at__isnull=False).count() == 2

    try:
        wait_until(left_the_queue, 60, "both messages to leave the queue")
    except AssertionError:
        rows = list(Message.objects.values_list("queue_id", "sender", "removed_at"))
        raise AssertionError(f"{rows}\n{mta.log_text()[-4000:]}") from None
    follower.close()
    assert ingestor.stats["unknown"] == 0, mta.log_text()[-4000:]

    client = client_as("admin_a")
    body = client.get(reverse("activity:trace"), {"address": sender}).content.decode()
    for address in (inbox, far, unknown):
        assert address in body
    for status in ("sent", "bounced", "rejected"):
        assert f'data-testid="status-{status}"' in body

    delivered = Recipient.objects.get(address=inbox)
    assert delivered.agent == "virtual" and "delivered to maildir" in delivered.reason
    bounced = Recipient.objects.get(address=far)
    assert bounced.orig_to == forward
    assert "never relays" in bounced.reason and bounced.dsn.startswith("5.")
    page = client.get(reverse("activity:message", args=[bounced.message_id])).content.decode()
    assert "never relays" in page and "Notice to the sender" in page, mta.log_text()[-3000:]
    refused = Recipient.objects.get(address=unknown)
    assert refused.message.queue_id == "" and refused.dsn == "5.1.1"
    # b.test's admin sees none of it.
    other = client_as("admin_b").get(reverse("activity:trace"), {"address": sender})
    assert inbox not in other.content.decode()
    assert (
        client_as("admin_b")
        .get(reverse("activity:message", args=[delivered.message_id]))
        .status_code
        == 404
    )
