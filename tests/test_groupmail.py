"""Group mail without a mail server: the form and its refusals, the scoping of domains and
recipients, the headers of each message, stop and resume, and a mail server that does not take
the messages (docs/group-mail.md).

The operation is run here with ``operations.execute`` (what a worker or the web process's
thread does) and the messages go to Django's in-memory outbox. Delivery through a real Postfix
into Maildirs, by a real worker, is in ``test_groupmail_delivery.py``.
"""

from __future__ import annotations

import datetime
import email
import io
import threading
from email.header import decode_header, make_header
from email.policy import default as default_policy

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import DomainManager, Manager
from audit.models import AuditEntry
from domains.models import Domain
from groupmail import services
from groupmail.models import GroupMail, Recipient
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Operation

pytestmark = pytest.mark.django_db

SUBJECT = "系统维护通知 / maintenance"
BODY = "今晚 22:00 起邮件系统维护。\nThe mail system is down tonight from 22:00.\n"


@pytest.fixture
def boxes(personas, make_domain, make_mailbox):
    """a.test: user (from personas), alice, bob; off (disabled), old (expired); b.test: carol;
    c.test (another domain): dave; a legacy row in a.test's column with another address."""
    make_domain("c.test")
    make_mailbox("alice@a.test")
    make_mailbox("bob@a.test")
    make_mailbox("off@a.test", active=False)
    make_mailbox("old@a.test", expiredate=datetime.date(2001, 1, 1))
    make_mailbox("carol@b.test")
    make_mailbox("dave@c.test")
    make_mailbox("stray@corp.example")
    Mailbox.objects.filter(pk="stray@corp.example").update(domain_id="a.test")
    return personas


def start(actor, domains, **kwargs) -> GroupMail:
    kwargs.setdefault("subject", SUBJECT)
    kwargs.setdefault("body", BODY)
    return services.groupmail_start(actor=actor, domains=domains, **kwargs)


def run(group_mail: GroupMail) -> Operation:
    operations.execute(group_mail.operation.pk)
    group_mail.operation.refresh_from_db()
    return group_mail.operation


def outbox_recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(
        message.message().as_bytes(linesep="\r\n"), policy=default_policy
    )


# --- recipients -----------------------------------------------------------------------------
def test_recipients_are_the_active_unexpired_mailboxes_of_the_chosen_domains(boxes):
    group_mail = start(boxes["superadmin"], ["a.test", "b.test"])
    operation = run(group_mail)

    assert operation.state == Operation.State.DONE
    assert outbox_recipients() == ["alice@a.test", "bob@a.test", "carol@b.test", "user@a.test"]
    assert operation.total == 4
    assert operation.result == {
        "group_mail": group_mail.pk,
        "pending": 0,
        "sending": 0,
        "sent": 4,
        "failed": 0,
        "unknown": 0,
    }


def test_expired_mailboxes_get_it_when_asked(boxes):
    run(start(boxes["superadmin"], ["a.test"], skip_expired=False))
    assert "old@a.test" in outbox_recipients()
    assert "off@a.test" not in outbox_recipients()


def test_a_domain_admin_reaches_only_the_mailboxes_they_may_see(boxes, make_manager):
    admin = make_manager("both@a.test", domains=["a.test", "b.test"])
    group_mail = start(admin, ["a.test"])
    # Between start and send the admin loses a.test: the recipients are taken at send time.
    DomainManager.objects.filter(manager=admin, domain_id="a.test").delete()
    operation = run(group_mail)
    assert operation.state == Operation.State.DONE
    assert mail.outbox == []
    assert operation.total == 0


def test_an_inactive_domain_is_not_offered_and_gets_nothing(boxes):
    Domain.objects.filter(pk="b.test").update(active=False)
    run(start(boxes["superadmin"], ["a.test", "b.test"]))
    assert "carol@b.test" not in outbox_recipients()


def test_a_domain_admin_cannot_start_one_for_another_domain(boxes):
    with pytest.raises(Domain.DoesNotExist):
        start(boxes["admin_a"], ["a.test", "b.test"])
    assert not GroupMail.objects.exists()
    assert not Operation.objects.exists()


# --- the messages ---------------------------------------------------------------------------
def test_each_recipient_gets_a_message_of_their_own_with_fixed_headers(boxes, settings):
    run(start(boxes["admin_a"], ["a.test"]))

    assert len(mail.outbox) == 3
    for message in mail.outbox:
        assert len(message.to) == 1 and not message.cc and not message.bcc
        headers = parsed(message)
        assert headers["To"] == message.to[0]
        assert headers["From"].addresses[0].addr_spec == "postmaster@a.test"
        assert str(make_header(decode_header(headers["Subject"]))) == SUBJECT
        assert headers["Auto-Submitted"] == "auto-generated"
        assert headers["Precedence"] == "bulk"
        assert headers["List-Id"] == "Notices of a.test <notices.a.test>"
        assert headers.get_content().replace("\r\n", "\n") == BODY
        raw = message.message().as_bytes()
        assert b"=?utf-8?" in raw.split(b"\n\n", 1)[0].lower()  # RFC 2047 subject
        assert b"admin@a.test" not in raw  # the manager's own address is not shown


def test_the_from_address_setting_with_the_recipients_domain(boxes, settings):
    settings.MAILADMIN_GROUPMAIL_FROM = "notices@{domain}"
    run(start(boxes["superadmin"], ["a.test", "b.test"]))
    senders = {
        message.to[0]: parsed(message)["From"].addresses[0].addr_spec for message in mail.outbox
    }
    assert senders["carol@b.test"] == "notices@b.test"
    assert senders["alice@a.test"] == "notices@a.test"


@pytest.mark.parametrize(
    "subject", ["Hello\r\nBcc: everyone@example.org", "Hello\nX-Evil: 1", "tab\there"]
)
def test_a_subject_with_a_line_break_is_refused_by_the_service(boxes, subject):
    with pytest.raises(ValidationError) as refused:
        start(boxes["superadmin"], ["a.test"], subject=subject)
    assert "subject" in refused.value.message_dict
    assert not GroupMail.objects.exists()


def test_an_attachment_is_sent_to_everyone(boxes):
    attachment = services.Attachment("plan.txt", "text/plain", "新的计划".encode())
    run(start(boxes["admin_a"], ["a.test"], attachment=attachment))
    for message in mail.outbox:
        (part,) = list(parsed(message).iter_attachments())
        assert part.get_filename() == "plan.txt"
        assert part.get_content() == "新的计划"


# --- the pages ------------------------------------------------------------------------------
def test_the_form_starts_a_group_mail_and_shows_its_page(boxes, client_as):
    client = client_as("admin_a")
    response = client.post(
        reverse("groupmail:new"),
        {
            "domains": ["a.test"],
            "subject": SUBJECT,
            "body": BODY,
            "skip_expired": "on",
            "attachment": SimpleUploadedFile("../../etc/notes.txt", b"hello"),
        },
    )
    group_mail = GroupMail.objects.get()
    assert response.status_code == 302
    assert response["Location"] == group_mail.operation.get_absolute_url()
    assert group_mail.attachment_name == "notes.txt"
    assert group_mail.domains == ["a.test"]
    assert AuditEntry.objects.filter(action="groupmail.start", domain="a.test").count() == 1

    page = client.get(response["Location"]).content.decode()
    assert SUBJECT in page and 'data-testid="operation-stop"' in page
    listing = client.get(reverse("groupmail:list")).content.decode()
    assert SUBJECT in listing


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject": "Hi\r\nBcc: x@example.org"}, "subject"),
        ({"subject": "Party 🎉"}, "subject"),
        ({"body": "nul \x00 here"}, "body"),
        ({"body": "   "}, "body"),
        ({"domains": ["b.test"]}, "domains"),
        ({"domains": []}, "domains"),
    ],
)
def test_bad_input_gets_a_field_error_and_changes_nothing(boxes, client_as, fields, field):
    data = {"domains": ["a.test"], "subject": "Notice", "body": "Text", **fields}
    response = client_as("admin_a").post(reverse("groupmail:new"), data)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not GroupMail.objects.exists() and not Operation.objects.exists()


def test_an_attachment_over_the_limit_is_refused(boxes, client_as, settings):
    settings.MAILADMIN_GROUPMAIL_ATTACHMENT_MAX = 1024
    data = {
        "domains": ["a.test"],
        "subject": "Notice",
        "body": "Text",
        "attachment": SimpleUploadedFile("big.bin", b"x" * 1025),
    }
    response = client_as("admin_a").post(reverse("groupmail:new"), data)
    assert response.status_code == 200
    assert "attachment" in response.context["form"].errors
    assert not GroupMail.objects.exists()


def test_the_form_offers_only_the_managers_active_domains(boxes, client_as):
    form = client_as("admin_a").get(reverse("groupmail:new")).context["form"]
    assert [value for value, _label in form.fields["domains"].choices] == ["a.test"]
    assert client_as("admin_a").get(reverse("groupmail:new") + "?domain=b.test").status_code == 404


def test_the_list_shows_each_manager_only_the_group_mails_they_may_see(boxes, client_as):
    start(boxes["superadmin"], ["a.test"], subject="To a only")
    start(boxes["superadmin"], ["a.test", "b.test"], subject="To a and b")
    start(boxes["admin_b"], ["b.test"], subject="From b's admin")

    def subjects(persona: str) -> set[str]:
        page = client_as(persona).get(reverse("groupmail:list"))
        return {group_mail.subject for group_mail in page.context["listing"].objects}

    assert subjects("superadmin") == {"To a only", "To a and b", "From b's admin"}
    assert subjects("admin_a") == {"To a only"}
    assert subjects("admin_b") == {"From b's admin"}


# --- stop and resume ------------------------------------------------------------------------
class StopAfterFirstMessage(LocmemBackend):
    """A manager presses Stop while the first batch is being sent."""

    def send_messages(self, messages):
        sent = super().send_messages(messages)
        if len(mail.outbox) == 1:
            operation = Operation.objects.get(kind=Operation.Kind.GROUP_MAIL)
            assert operations.operation_stop(operation, operation.group_mail_actor)
        return sent


class RefuseEverything(LocmemBackend):
    def send_messages(self, messages):
        raise ConnectionRefusedError("Connection refused")


def test_stop_ends_after_the_current_batch_and_resume_sends_the_rest_once(
    boxes, settings, make_mailbox
):
    for n in range(5):
        make_mailbox(f"extra{n}@a.test")
    settings.MAILADMIN_GROUPMAIL_BATCH = 3
    settings.EMAIL_BACKEND = "tests.test_groupmail.StopAfterFirstMessage"
    root = boxes["superadmin"]
    group_mail = start(root, ["a.test"])
    Operation.group_mail_actor = root  # what the backend above stops it as
    try:
        operation = run(group_mail)
    finally:
        del Operation.group_mail_actor

    assert operation.state == Operation.State.STOPPED
    assert len(mail.outbox) == 3  # the batch the stop came in, and nothing after it
    assert operation.done_count == 3 and operation.total == 8
    assert AuditEntry.objects.get(action="groupmail.end").changes["state"] == ["", "stopped"]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert operations.operation_resume(operation)
    operation = run(group_mail)
    assert operation.state == Operation.State.DONE
    recipients = outbox_recipients()
    assert len(recipients) == len(set(recipients)) == 8
    assert operation.result["sent"] == 8


def test_a_stopped_queued_group_mail_never_runs(boxes):
    group_mail = start(boxes["superadmin"], ["a.test"])
    assert operations.operation_stop(group_mail.operation, boxes["superadmin"])
    assert group_mail.operation.state == Operation.State.STOPPED
    assert operations.execute(group_mail.operation.pk) is None
    assert mail.outbox == []


def test_a_mail_server_that_takes_nothing_fails_clearly_and_resume_goes_on(boxes, settings):
    settings.MAILADMIN_GROUPMAIL_RETRIES = 0
    settings.EMAIL_BACKEND = "tests.test_groupmail.RefuseEverything"
    group_mail = start(boxes["superadmin"], ["a.test"])
    operation = run(group_mail)

    assert operation.state == Operation.State.FAILED
    assert "0 of 3 were sent" in operation.errors[0]
    assert "Connection refused" in operation.errors[0]
    assert set(group_mail.recipients.values_list("state", flat=True)) == {"pending"}
    assert AuditEntry.objects.get(action="groupmail.end").changes["state"] == ["", "failed"]

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert operations.operation_resume(operation)
    assert run(group_mail).state == Operation.State.DONE
    assert outbox_recipients() == ["alice@a.test", "bob@a.test", "user@a.test"]


def test_a_message_an_ended_run_was_handing_over_is_never_sent_again(boxes):
    group_mail = start(boxes["superadmin"], ["a.test"])
    services._take_recipients(group_mail, boxes["superadmin"])
    # The run before this one died between "sending" and "sent".
    Recipient.objects.filter(address="bob@a.test").update(state="sending", run=1)
    Operation.objects.filter(pk=group_mail.operation.pk).update(attempts=1)

    operation = run(group_mail)
    assert operation.state == Operation.State.DONE
    assert outbox_recipients() == ["alice@a.test", "user@a.test"]
    assert Recipient.objects.get(address="bob@a.test").state == Recipient.State.UNKNOWN
    assert operation.result["unknown"] == 1


def test_a_legacy_address_that_is_no_address_is_refused_not_sent(boxes, make_mailbox):
    make_mailbox("bad address@a.test")
    run(start(boxes["superadmin"], ["a.test"]))
    assert "bad address@a.test" not in outbox_recipients()
    assert Recipient.objects.get(address="bad address@a.test").state == Recipient.State.FAILED


def test_only_the_starter_or_a_superadmin_may_stop_it(boxes, client_as):
    group_mail = start(boxes["superadmin"], ["a.test"])
    url = reverse("provisioning:operation_stop", args=[group_mail.operation.pk])
    assert client_as("admin_b").post(url).status_code == 404
    assert client_as("admin_a").post(url).status_code == 403  # sees it, did not start it
    group_mail.operation.refresh_from_db()
    assert group_mail.operation.state == Operation.State.QUEUED

    assert client_as("superadmin").post(url).status_code == 302
    group_mail.operation.refresh_from_db()
    assert group_mail.operation.state == Operation.State.STOPPED
    assert AuditEntry.objects.filter(action="operation.stop").count() == 1
    resume = reverse("provisioning:operation_resume", args=[group_mail.operation.pk])
    assert client_as("admin_a").post(resume).status_code == 403
    assert client_as("superadmin").post(resume).status_code == 302
    group_mail.operation.refresh_from_db()
    assert group_mail.operation.state == Operation.State.QUEUED


def test_a_disabled_mailbox_between_start_and_send_gets_nothing(boxes):
    group_mail = start(boxes["superadmin"], ["a.test"])
    Mailbox.objects.filter(pk="alice@a.test").update(active=False)
    run(group_mail)
    assert outbox_recipients() == ["bob@a.test", "user@a.test"]


# --- the command line -----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_the_command_sends_through_the_same_service(boxes, tmp_path):
    notice = tmp_path / "notice.txt"
    notice.write_text(BODY, encoding="utf-8")
    out = io.StringIO()
    call_command(
        "groupmail",
        "--as",
        "admin@a.test",
        "--domain",
        "A.TEST",
        "--subject",
        SUBJECT,
        "--body-file",
        str(notice),
        stdout=out,
    )
    for thread in threading.enumerate():  # the operation's thread (no broker) ends with it
        if thread.name.startswith("mailadmin-operation-"):
            thread.join(30)
    assert "done: 3 sent, 0 refused, 0 unknown, 0 not sent of 3" in out.getvalue()
    assert outbox_recipients() == ["alice@a.test", "bob@a.test", "user@a.test"]
    assert AuditEntry.objects.filter(action="groupmail.end", actor="admin@a.test").count() == 1


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--as", "admin@a.test", "--domain", "b.test"], "not all of these are domains"),
        (["--as", "nobody@a.test", "--domain", "a.test"], "no active manager"),
        (["--as", "admin@a.test", "--domain", "a.test", "--subject", "x\ny"], "control"),
    ],
)
def test_the_command_refuses_what_the_page_refuses(boxes, tmp_path, args, error):
    notice = tmp_path / "notice.txt"
    notice.write_text("Text", encoding="utf-8")
    if "--subject" not in args:
        args = [*args, "--subject", "Notice"]
    with pytest.raises(CommandError, match=error):
        call_command("groupmail", *args, "--body-file", str(notice))
    assert not GroupMail.objects.exists()


# --- hostile legacy rows --------------------------------------------------------------------
@pytest.mark.legacy
@pytest.mark.parametrize("sender", ["root@hostile.example", "shop@hostile.example"])
def test_a_group_mail_over_the_hostile_legacy_rows_sends_or_refuses_each_row(sender):
    """Every active domain the manager may pick (the empty and odd ones among them): each
    recipient of the rule is sent one message or refused with a reason, nobody else is."""
    actor = Manager.objects.get(pk=sender)
    domains = list(
        Domain.objects.visible_to(actor).filter(active=True).values_list("pk", flat=True)
    )
    group_mail = services.groupmail_start(
        actor=actor, domains=domains, subject="Notice", body="Text", skip_expired=False
    )
    operation = run(group_mail)

    assert operation.state == Operation.State.DONE, operation.errors
    rows = services.recipients_of(actor, domains, skip_expired=False)
    expected = set(rows.values_list("pk", flat=True))
    taken = set(group_mail.recipients.values_list("address", flat=True))
    assert taken == expected and taken
    sent = outbox_recipients()
    assert len(sent) == len(set(sent))
    refused = set(
        group_mail.recipients.filter(state=Recipient.State.FAILED).values_list("address", flat=True)
    )
    assert set(sent) | refused == taken and not set(sent) & refused
    assert operation.result["sent"] == len(sent)
