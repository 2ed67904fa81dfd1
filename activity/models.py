"""What the mail logs said, in the panel's tables (docs/activity.md).

Messages and their recipients, logins, hourly and daily counts per domain, and where each
follower stopped reading. Rows come only from the follower (``activity.ingest``); pages read
them through ``visible_to`` like every other object of the panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import Manager


def managed_domains(manager: Manager | None) -> list[str] | None:
    """None for a superadmin (everything), else the names of the manager's domains."""
    from accounts.models import DomainManager

    if manager is None or not manager.is_authenticated:
        return []
    if manager.is_superadmin:
        return None
    names = DomainManager.objects.domain_names_of(manager).values_list("domain_id", flat=True)
    return sorted({name.lower() for name in names})


class MessageQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> MessageQuerySet:
        """Every message for a superadmin; for a domain admin those from or to their domains."""
        return self.for_domains(managed_domains(manager))

    def for_domains(self, domains: list[str] | None) -> MessageQuerySet:
        """:meth:`visible_to` for the result of :func:`managed_domains` already read."""
        if domains is None:
            return self.all()
        return self.filter(
            Q(sender_domain__in=domains)
            | Exists(Recipient.objects.filter(message=OuterRef("pk"), domain__in=domains))
        )


class Message(models.Model):
    """One message as one Postfix host's queue saw it (queue id on ``host``), or one SMTP
    transaction refused before it got a queue id (``queue_id`` empty, a rejected recipient).

    The key is made by the follower (``activity.ids``), so that a batch of new messages and
    their recipients can be inserted together on every database."""

    class Origin(models.TextChoices):
        SMTP = "smtp", _("SMTP")
        LOCAL = "local", _("local submission")
        INTERNAL = "internal", _("the mail system")

    id = models.BigIntegerField(primary_key=True)
    host = models.CharField(_("host"), max_length=64)
    queue_id = models.CharField(_("queue id"), max_length=20, blank=True)
    time = models.DateTimeField(_("received"))
    sender = models.CharField(_("sender"), max_length=255, blank=True)
    sender_domain = models.CharField(_("sender domain"), max_length=255, blank=True)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    nrcpt = models.IntegerField(_("recipients"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    client = models.CharField(_("client"), max_length=255, blank=True)
    client_ip = models.CharField(_("client address"), max_length=45, blank=True)
    origin = models.CharField(_("origin"), max_length=16, choices=Origin.choices, blank=True)
    sasl_username = models.CharField(_("logged in as"), max_length=255, blank=True)
    filter_result = models.CharField(_("content filter"), max_length=64, blank=True)
    notice_queue_id = models.CharField(_("notice queue id"), max_length=20, blank=True)
    removed_at = models.DateTimeField(_("left the queue"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_activity_message"
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["queue_id", "host"], name="mailadmin_act_msg_queue"),
            models.Index(fields=["sender", "time"], name="mailadmin_act_msg_sender"),
            models.Index(fields=["sender_domain", "time"], name="mailadmin_act_msg_sdomain"),
            models.Index(fields=["message_id"], name="mailadmin_act_msg_msgid"),
            models.Index(fields=["time"], name="mailadmin_act_msg_time"),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.host}/{self.queue_id or 'NOQUEUE'} from <{self.sender}>"


class Recipient(models.Model):
    """What became of one recipient of a message: its last delivery attempt."""

    class Status(models.TextChoices):
        SENT = "sent", _("delivered")
        DEFERRED = "deferred", _("deferred")
        BOUNCED = "bounced", _("bounced")
        REJECTED = "rejected", _("rejected")
        EXPIRED = "expired", _("expired")
        DISCARDED = "discarded", _("discarded")
        HELD = "held", _("held")

    id = models.BigIntegerField(primary_key=True)
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="recipients", db_constraint=False
    )
    time = models.DateTimeField(_("received"))  # the message's, for searches by time
    address = models.CharField(_("recipient"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255)
    orig_to = models.CharField(_("original recipient"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    agent = models.CharField(_("delivered by"), max_length=16, blank=True)
    relay = models.CharField(_("relay"), max_length=255, blank=True)
    dsn = models.CharField(_("DSN"), max_length=16, blank=True)
    delay = models.FloatField(_("delay"), null=True, blank=True)
    reason = models.TextField(_("answer"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    next_queue_id = models.CharField(_("queued as"), max_length=20, blank=True)
    updated_at = models.DateTimeField(_("last attempt"))

    class Meta:
        db_table = "mailadmin_activity_recipient"
        ordering = ["address", "id"]
        indexes = [
            models.Index(fields=["address", "time"], name="mailadmin_act_rcpt_address"),
            models.Index(fields=["domain", "time"], name="mailadmin_act_rcpt_domain"),
            models.Index(fields=["time"], name="mailadmin_act_rcpt_time"),
        ]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")

    def __str__(self) -> str:
        return f"<{self.address}> {self.status}"

    @property
    def is_failure(self) -> bool:
        return self.status in (self.Status.BOUNCED, self.Status.REJECTED, self.Status.EXPIRED)


class LoginQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> LoginQuerySet:
        domains = managed_domains(manager)
        if domains is None:
            return self.all()
        return self.filter(domain__in=domains)


class Login(models.Model):
    """One login or failed login of a mailbox: IMAP/POP3 (Dovecot), SMTP AUTH (Postfix), webmail
    (ExtMail)."""

    time = models.DateTimeField(_("time"))
    host = models.CharField(_("host"), max_length=64)
    service = models.CharField(_("service"), max_length=16)
    address = models.CharField(_("address"), max_length=255, blank=True)
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    client_ip = models.CharField(_("client address"), max_length=45, blank=True)
    success = models.BooleanField(_("success"))
    detail = models.CharField(_("detail"), max_length=255, blank=True)

    objects = LoginQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_activity_login"
        ordering = ["-time", "-id"]
        indexes = [
            models.Index(fields=["address", "time"], name="mailadmin_act_login_address"),
            models.Index(fields=["domain", "time"], name="mailadmin_act_login_domain"),
            models.Index(fields=["time"], name="mailadmin_act_login_time"),
        ]
        verbose_name = _("login")
        verbose_name_plural = _("logins")

    def __str__(self) -> str:
        return f"{self.service} {self.address} {'ok' if self.success else 'failed'}"


class Kind(models.TextChoices):
    """What the graphs count (docs/activity.md, "What is counted")."""

    RECEIVED = "received", _("received")
    SENT = "sent", _("sent")
    BOUNCED = "bounced", _("bounced")
    REJECTED = "rejected", _("rejected")
    DEFERRED = "deferred", _("deferred")
    SPAM = "spam", _("spam")
    VIRUS = "virus", _("virus")


class HourlyCount(models.Model):
    """Events of one kind in one hour (UTC), for one domain or, with ``domain`` empty, for the
    whole installation. Kept up to date by the follower."""

    hour = models.DateTimeField(_("hour"))
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        db_table = "mailadmin_activity_hourly"
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "hour", "kind"], name="mailadmin_act_hourly_unique"
            )
        ]
        verbose_name = _("hourly count")
        verbose_name_plural = _("hourly counts")

    def __str__(self) -> str:
        return f"{self.hour} {self.domain or '*'} {self.kind}: {self.count}"


class DailyCount(models.Model):
    """Events of one kind on one day (``MAILADMIN_TIME_ZONE``), as :class:`HourlyCount`."""

    day = models.DateField(_("day"))
    domain = models.CharField(_("domain"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        db_table = "mailadmin_activity_daily"
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "day", "kind"], name="mailadmin_act_daily_unique"
            )
        ]
        # The month and year graphs sum years of a domain's rows from this index alone.
        indexes = [
            models.Index(fields=["domain", "day", "kind", "count"], name="mailadmin_act_daily_sum")
        ]
        verbose_name = _("daily count")
        verbose_name_plural = _("daily counts")

    def __str__(self) -> str:
        return f"{self.day} {self.domain or '*'} {self.kind}: {self.count}"


class FollowerPosition(models.Model):
    """Where the follower of ``source`` (a log file's path, or ``journal``) on ``host`` stopped:
    the file's inode and the offset after the last line stored (or the journal's cursor).
    Written in the same transaction as the rows of those lines."""

    host = models.CharField(_("host"), max_length=64)
    source = models.CharField(_("source"), max_length=255)
    inode = models.BigIntegerField(_("inode"), default=0)
    offset = models.BigIntegerField(_("offset"), default=0)
    cursor = models.TextField(_("journal cursor"), blank=True)
    lines = models.BigIntegerField(_("lines read"), default=0)
    unknown = models.BigIntegerField(_("unknown lines"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        db_table = "mailadmin_activity_position"
        constraints = [
            models.UniqueConstraint(fields=["host", "source"], name="mailadmin_act_position_once")
        ]
        verbose_name = _("follower position")
        verbose_name_plural = _("follower positions")

    def __str__(self) -> str:
        return f"{self.host}:{self.source} @ {self.inode}/{self.offset}"
