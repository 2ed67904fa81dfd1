"""Group mails: start one, take its recipients, send it in batches (docs/group-mail.md).

The recipients are computed here, on the server, when the group mail first runs: the active
(and, unless asked otherwise, unexpired) mailboxes of the chosen domains that the manager who
started it may see at that moment (``Mailbox.objects.visible_to``), never a list from the
browser. Each is sent its own message; each batch is followed by a look at the stop flag.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.backends import log_safe
from audit.services import audit_record
from domains.models import Domain
from groupmail import message
from groupmail.models import GroupMail, Recipient
from mailadmin.lib import dates
from mailadmin.lib.storable import check_storable
from mailadmin.lib.text import has_control_characters
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Operation

if TYPE_CHECKING:
    from accounts.models import Manager

log = logging.getLogger("mailadmin.groupmail")

SUBJECT_MAX = 200
BODY_MAX = 100_000
#: Recipients written per INSERT when a group mail takes its recipients.
TAKE_CHUNK = 2000


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    data: bytes


@dataclass
class SendResult:
    counts: dict[str, int]
    stopped: bool

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        return self.total - self.counts[Recipient.State.PENDING]


# --- starting ------------------------------------------------------------------------------------
def check_content(*, subject: str, body: str, attachment: Attachment | None) -> None:
    """The same rules as the form's, for every caller (the command line too)."""
    errors: dict[str, list[str]] = {}
    if not subject.strip():
        errors["subject"] = [_("Enter a subject.")]
    elif has_control_characters(subject):
        errors["subject"] = [
            _("Remove the control characters (such as line breaks or tabs) from this field.")
        ]
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = [_("The subject is too long.")]
    if not body.strip():
        errors["body"] = [_("Enter the text of the message.")]
    elif has_control_characters(body, multiline=True):
        errors["body"] = [_("Remove the control characters (such as NUL) from this field.")]
    elif len(body) > BODY_MAX:
        errors["body"] = [_("The text is too long.")]
    limit = settings.MAILADMIN_GROUPMAIL_ATTACHMENT_MAX
    if attachment is not None and len(attachment.data) > limit:
        errors["attachment"] = [attachment_too_large()]
    if errors:
        raise ValidationError(errors)
    check_storable(subject=subject, body=body)


def attachment_too_large() -> str:
    limit = settings.MAILADMIN_GROUPMAIL_ATTACHMENT_MAX
    if not limit:
        return _("Attachments are turned off on this server.")
    return _("The attachment is larger than %(size)s KB.") % {"size": limit // 1024}


def groupmail_start(
    *,
    actor: Manager,
    domains: list[str],
    subject: str,
    body: str,
    skip_expired: bool = True,
    attachment: Attachment | None = None,
    request: HttpRequest | None = None,
) -> GroupMail:
    """Record a group mail and the background operation that sends it; the caller goes to the
    operation's page. Raises ``Domain.DoesNotExist`` when a domain is not one the actor may
    see, ``ValidationError`` for a bad subject, text or attachment."""
    wanted = sorted(set(domains))
    if not wanted:
        raise ValidationError({"domains": [_("Choose at least one domain.")]})
    found = Domain.objects.visible_to(actor).filter(pk__in=wanted).count()
    if found != len(wanted):
        raise Domain.DoesNotExist("some domains do not exist or are not visible")
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    check_content(subject=subject, body=body, attachment=attachment)
    with transaction.atomic():
        operation = operations.operation_start(
            kind=Operation.Kind.GROUP_MAIL,
            actor=actor,
            total=0,
            domain=wanted[0] if len(wanted) == 1 else "",
            payload={"domains": wanted},
            request=request,
        )
        group_mail = GroupMail.objects.create(
            operation=operation,
            actor=str(actor.pk)[:255],
            subject=subject,
            body=body,
            domains=wanted,
            skip_expired=skip_expired,
            attachment_name=attachment.name if attachment else "",
            attachment_type=attachment.content_type if attachment else "",
            attachment_data=attachment.data if attachment else b"",
            attachment_size=len(attachment.data) if attachment else 0,
        )
        text = _("Group mail «%(subject)s» to %(domains)s") % {
            "subject": subject,
            "domains": ", ".join(wanted),
        }
        if attachment:
            text += " " + _("with the attachment %(name)s (%(size)s bytes)") % {
                "name": attachment.name,
                "size": len(attachment.data),
            }
        for domain in wanted:  # each domain's admins see what their users were sent
            audit_record(
                actor=actor,
                action="groupmail.start",
                request=request,
                object_type="group_mail",
                object_id=str(group_mail.pk),
                domain=domain,
                message=text,
            )
    return group_mail


# --- recipients ----------------------------------------------------------------------------------
def recipients_of(actor: Manager, domains: list[str], *, skip_expired: bool) -> Any:
    """The mailboxes a group mail of ``actor`` to ``domains`` goes to: active, in an active
    domain, by the domain column and by the address's own domain, among those ``actor`` may
    see; unexpired (mailbox and domain) with ``skip_expired``."""
    mailboxes = (
        Mailbox.objects.visible_to(actor)
        .filter(domain_id__in=domains, active=True, domain__active=True)
        .address_in(domains)
    )
    if skip_expired:
        today = dates.today()
        mailboxes = mailboxes.filter(
            Q(expiredate__isnull=True) | Q(expiredate__gte=today),
            Q(domain__expiredate__isnull=True) | Q(domain__expiredate__gte=today),
        )
    return mailboxes


def _take_recipients(group_mail: GroupMail, actor: Manager) -> None:
    """Once per group mail, in one transaction: a crash half-way takes them again."""
    if group_mail.recipients_taken:
        return
    mailboxes = recipients_of(actor, group_mail.domains, skip_expired=group_mail.skip_expired)
    rows = mailboxes.order_by("username").values_list("username", "domain_id")
    with operations.rows_guard(), transaction.atomic():
        chunk: list[Recipient] = []
        for address, domain in rows.iterator(chunk_size=TAKE_CHUNK):
            chunk.append(Recipient(group_mail=group_mail, address=address, domain=domain))
            if len(chunk) >= TAKE_CHUNK:
                Recipient.objects.bulk_create(chunk, ignore_conflicts=True)
                chunk = []
        Recipient.objects.bulk_create(chunk, ignore_conflicts=True)
        GroupMail.objects.filter(pk=group_mail.pk).update(recipients_taken=True)
    group_mail.recipients_taken = True


def counts_of(group_mail: GroupMail) -> dict[str, int]:
    counts = dict.fromkeys(Recipient.State.values, 0)
    with operations.rows_guard():
        rows = group_mail.recipients.values_list("state").annotate(n=Count("id"))
        counts.update(dict(rows.order_by()))
    return counts


# --- sending -------------------------------------------------------------------------------------
def groupmail_send(
    *,
    group_mail: GroupMail,
    actor: Manager,
    run: int,
    progress: Callable[[int], None],
    should_stop: Callable[[], bool],
    set_total: Callable[[int], None],
) -> SendResult:
    """Send what is left of ``group_mail``, ``MAILADMIN_GROUPMAIL_BATCH`` messages at a time,
    as run number ``run`` of its operation. Stops between batches when ``should_stop()``.
    A mail server that does not take the messages is tried again
    ``MAILADMIN_GROUPMAIL_RETRIES`` times; then a ``ValidationError`` says what was sent."""
    _take_recipients(group_mail, actor)
    recipients = Recipient.objects.filter(group_mail=group_mail)
    with operations.rows_guard():
        # A row another run left "sending" may have been handed over: never again.
        recipients.filter(state=Recipient.State.SENDING).exclude(run=run).update(
            state=Recipient.State.UNKNOWN,
            error=_("The run that sent it ended while handing it over; it is not sent again."),
        )
    counts = counts_of(group_mail)
    total = sum(counts.values())
    set_total(total)
    progress(total - counts[Recipient.State.PENDING])
    pending = recipients.filter(state=Recipient.State.PENDING).order_by("id")
    transport = message.transport()
    batch_size = settings.MAILADMIN_GROUPMAIL_BATCH
    failures = 0
    stopped = False
    try:
        while True:
            with operations.rows_guard():
                batch = list(pending.values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            if should_stop():
                stopped = True
                break
            with operations.rows_guard():
                recipients.filter(pk__in=batch, state=Recipient.State.PENDING).update(
                    state=Recipient.State.SENDING, run=run
                )
                claimed = list(
                    recipients.filter(pk__in=batch, state=Recipient.State.SENDING, run=run)
                )
            deferred = _send_batch(group_mail, claimed, run, transport)
            transport.close()
            counts = counts_of(group_mail)
            progress(total - counts[Recipient.State.PENDING])
            if deferred:
                failures += 1
                if failures > settings.MAILADMIN_GROUPMAIL_RETRIES:
                    raise ValidationError(
                        _(
                            "The mail server did not take the messages (%(reason)s): %(sent)s of"
                            " %(total)s were sent, the others were not. Resume once the mail"
                            " server takes mail again."
                        )
                        % {
                            "reason": deferred,
                            "sent": counts[Recipient.State.SENT],
                            "total": total,
                        }
                    )
                log.warning(
                    "group mail %s: the mail server did not take the messages (%s); again in %s s",
                    group_mail.pk,
                    log_safe(deferred),
                    settings.MAILADMIN_GROUPMAIL_RETRY_DELAY,
                )
                delay = settings.MAILADMIN_GROUPMAIL_RETRY_DELAY
            else:
                failures = 0
                delay = settings.MAILADMIN_GROUPMAIL_PAUSE
            if delay and counts[Recipient.State.PENDING] and _wait(delay, should_stop):
                stopped = True
                break
    finally:
        transport.close()
    return SendResult(counts=counts_of(group_mail), stopped=stopped)


def _wait(seconds: float, should_stop: Callable[[], bool]) -> bool:
    """Sleep, looking at the stop flag every second; True when asked to stop."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if should_stop():
            return True
        time.sleep(min(1.0, left))
    return False


def _mark(row: Recipient, run: int, state: str, error: str = "") -> None:
    with operations.rows_guard():
        Recipient.objects.filter(pk=row.pk, state=Recipient.State.SENDING, run=run).update(
            state=state, error=error[:255]
        )


def _send_batch(
    group_mail: GroupMail, rows: list[Recipient], run: int, transport: message.Transport
) -> str:
    """Send one message to each claimed row and record each outcome. Returns why the mail
    server did not take a message (then it and the rest of the batch wait for a retry), or
    an empty string."""
    for index, row in enumerate(rows):
        try:
            validate_email(row.address)
        except ValidationError:
            _mark(row, run, Recipient.State.FAILED, _("Not a valid address."))
            continue
        try:
            email = message.build_message(group_mail, row.address, row.domain)
            email.message()  # the headers: what cannot be one is refused here, for this row
        except ValueError as exc:  # BadHeaderError among them
            _mark(row, run, Recipient.State.FAILED, _("Cannot be written as a message: %s") % exc)
            continue
        try:
            transport.send(email, message.sender_address(row.domain))
        except message.Refused as exc:
            _mark(row, run, Recipient.State.FAILED, str(exc))
        except message.Uncertain as exc:
            _mark(row, run, Recipient.State.UNKNOWN, str(exc))
        except message.Deferred as exc:
            with operations.rows_guard():
                Recipient.objects.filter(
                    pk__in=[r.pk for r in rows[index:]], state=Recipient.State.SENDING, run=run
                ).update(state=Recipient.State.PENDING, error=str(exc)[:255])
            return str(exc)
        else:
            _mark(row, run, Recipient.State.SENT)
    return ""


def groupmail_audit_end(
    group_mail: GroupMail, *, actor: Manager, outcome: str, request: HttpRequest | None
) -> None:
    """The end of a run, for each domain's audit log: who, what, to how many, how many sent."""
    counts = counts_of(group_mail)
    labels = {
        "finished": pgettext("outcome", "finished"),
        "stopped": _("stopped"),
        "failed": _("failed"),
    }
    text = _(
        "Group mail «%(subject)s» to %(domains)s: %(outcome)s; %(total)s recipients, %(sent)s"
        " sent, %(failed)s refused, %(unknown)s unknown, %(pending)s not sent"
    ) % {
        "subject": group_mail.subject,
        "domains": ", ".join(group_mail.domains),
        "outcome": labels.get(outcome, outcome),
        "total": sum(counts.values()),
        "sent": counts[Recipient.State.SENT],
        "failed": counts[Recipient.State.FAILED],
        "unknown": counts[Recipient.State.UNKNOWN],
        "pending": counts[Recipient.State.PENDING],
    }
    for domain in group_mail.domains:
        audit_record(
            actor=actor,
            action="groupmail.end",
            request=request,
            object_type="group_mail",
            object_id=str(group_mail.pk),
            domain=domain,
            changes={"state": ["", outcome], "sent": [0, counts[Recipient.State.SENT]]},
            message=text,
        )
