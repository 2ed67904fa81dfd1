"""The messages of a group mail and how they reach the mail server (docs/group-mail.md).

One message per recipient, with only that recipient in ``To``: nobody sees who else got it,
a refused address holds back nobody else, and what became of each message is known. The
headers are set here, never typed: ``From`` comes from ``MAILADMIN_GROUPMAIL_FROM`` (by default
``postmaster@`` the recipient's domain), and the subject and text are checked for control
characters before they get here (a subject with a line break is refused by the form and the
service; Django refuses it once more when it builds the header).
"""

from __future__ import annotations

import smtplib
from email.utils import formataddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils.translation import gettext as _

from mailadmin.lib.addresses import domain_unicode

if TYPE_CHECKING:
    from groupmail.models import GroupMail

#: Seconds an SMTP connection, command or answer may take.
SMTP_TIMEOUT = 30
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


def sender_address(domain: str) -> str:
    """The envelope sender and ``From`` address for a recipient of ``domain``."""
    return settings.MAILADMIN_GROUPMAIL_FROM.replace("{domain}", domain)


def list_id(domain: str) -> str:
    """A List-Id (RFC 2919) per recipient domain, so that people can filter the notices."""
    return f"Notices of {domain} <notices.{domain}>"


def build_message(group_mail: GroupMail, recipient: str, domain: str) -> EmailMessage:
    """The message of ``group_mail`` for ``recipient`` (a mailbox of ``domain``)."""
    name = _("Mail administrator of %(domain)s") % {"domain": domain_unicode(domain)}
    message = EmailMessage(
        subject=group_mail.subject,
        body=group_mail.body,
        from_email=formataddr((name, sender_address(domain))),
        to=[recipient],
        headers={
            # RFC 3834: not a personal message; vacation responders stay quiet.
            "Auto-Submitted": "auto-generated",
            "Precedence": "bulk",
            "X-Auto-Response-Suppress": "All",
            "List-Id": list_id(domain),
        },
    )
    if group_mail.attachment_name:
        message.attach(
            group_mail.attachment_name,
            bytes(group_mail.attachment_data),
            group_mail.attachment_type or "application/octet-stream",
        )
    return message


class Refused(Exception):
    """The mail server refused this message for good (a 5xx answer): not sent, not retried."""


class Deferred(Exception):
    """The message was not handed over (the server unreachable, or a 4xx answer): try later."""


class Uncertain(Exception):
    """The connection broke while the message was handed over: it may have been taken."""


class Transport:
    """Hands messages to the mail server one at a time, over one connection per batch."""

    def send(self, message: EmailMessage, sender: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """End the connection (the next message opens a new one)."""


class SmtpTransport(Transport):
    """SMTP to ``MAILADMIN_SMTP_HOST``:``MAILADMIN_SMTP_PORT`` (the local MTA), command by
    command, so that each failure is known to have happened before the message was handed
    over (:class:`Refused`, :class:`Deferred`) or while it was (:class:`Uncertain`)."""

    def __init__(self, host: str, port: int, timeout: float = SMTP_TIMEOUT) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.client: smtplib.SMTP | None = None

    def _connected(self) -> smtplib.SMTP:
        if self.client is None:
            client = smtplib.SMTP(timeout=self.timeout)
            try:
                client.connect(self.host, self.port)
                client.ehlo_or_helo_if_needed()
            except Exception:
                client.close()
                raise
            self.client = client
        return self.client

    @staticmethod
    def _answer(code: int, text: bytes | str, what: str) -> Exception:
        reply = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
        detail = f"{what}: {code} {reply}"[:250]
        return Refused(detail) if 500 <= code < 600 else Deferred(detail)

    def send(self, message: EmailMessage, sender: str) -> None:
        recipient = message.to[0]
        data = message.message().as_bytes(linesep="\r\n")
        try:
            client = self._connected()
            options = ["BODY=8BITMIME"] if client.has_extn("8bitmime") else []
            code, text = client.mail(sender, options)
            if code != 250:
                client.rset()
                raise self._answer(code, text, "MAIL FROM")
            code, text = client.rcpt(recipient)
            if code not in (250, 251):
                client.rset()
                raise self._answer(code, text, "RCPT TO")
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Deferred(f"{self.host}:{self.port}: {exc}"[:250]) from exc
        try:
            client.data(data)
        except smtplib.SMTPDataError as exc:
            self._reset()
            raise self._answer(exc.smtp_code, exc.smtp_error, "DATA") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise Uncertain(f"{self.host}:{self.port}: {exc}"[:250]) from exc

    def _reset(self) -> None:
        try:
            if self.client is not None:
                self.client.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


class BackendTransport(Transport):
    """Any other Django mail backend (``MAILADMIN_EMAIL_BACKEND=console`` in development, the
    tests' in-memory one): a failure there is taken as not sent."""

    def __init__(self) -> None:
        self.connection = get_connection(fail_silently=False)

    def send(self, message: EmailMessage, sender: str) -> None:
        message.from_email = message.from_email or sender
        try:
            self.connection.send_messages([message])
        except Exception as exc:
            raise Deferred(str(exc)[:250]) from exc

    def close(self) -> None:
        self.connection.close()


def transport() -> Transport:
    """The way to the mail server: the panel's own mail settings (the local MTA)."""
    if settings.EMAIL_BACKEND == SMTP_BACKEND:
        return SmtpTransport(settings.EMAIL_HOST, settings.EMAIL_PORT)
    return BackendTransport()
