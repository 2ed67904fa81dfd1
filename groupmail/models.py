"""Group mails: a notice to every active mailbox of some domains (docs/group-mail.md).

A group mail is sent by a background operation in steps (``provisioning.operations``): the
recipients are taken when it first runs, one row each, and every row records what became of
its message, so that a stopped or interrupted group mail goes on without mailing anyone twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from provisioning.models import Operation

if TYPE_CHECKING:
    from accounts.models import Manager


class GroupMailQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> GroupMailQuerySet:
        """The group mails whose operation ``manager`` may see: all for a superadmin; for a
        domain admin those to one of their domains, and those they sent to several."""
        return self.filter(operation__in=Operation.objects.visible_to(manager))


class GroupMail(models.Model):
    operation = models.OneToOneField(
        Operation, on_delete=models.CASCADE, related_name="group_mail", verbose_name=_("operation")
    )
    actor = models.CharField(_("sent by"), max_length=255)
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("text"))
    domains = models.JSONField(_("domains"), default=list)
    skip_expired = models.BooleanField(_("leave out expired mailboxes"), default=True)
    attachment_name = models.CharField(_("attachment"), max_length=255, blank=True, default="")
    attachment_type = models.CharField(max_length=255, blank=True, default="")
    attachment_data = models.BinaryField(blank=True, default=b"")
    attachment_size = models.PositiveIntegerField(default=0)
    # Whether the recipients have been taken (when the operation first ran).
    recipients_taken = models.BooleanField(default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    objects = GroupMailQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_group_mail"
        ordering = ["-created_at", "-id"]
        verbose_name = _("group mail")
        verbose_name_plural = _("group mails")

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    def get_absolute_url(self) -> str:
        return self.operation.get_absolute_url()


class Recipient(models.Model):
    """One mailbox of a group mail, and what became of its message.

    ``sending`` is written before the message is handed to the mail server and ``sent`` after
    it accepted it: a row left ``sending`` by a run that ended in between is ``unknown`` and is
    never mailed again (at most once, never twice)."""

    class State(models.TextChoices):
        PENDING = "pending", _("waiting")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("refused")
        UNKNOWN = "unknown", _("unknown")

    group_mail = models.ForeignKey(GroupMail, on_delete=models.CASCADE, related_name="recipients")
    address = models.CharField(_("address"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255)
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING
    )
    # The run (operation attempt) that claimed the row for sending.
    run = models.PositiveIntegerField(default=0)
    error = models.CharField(_("error"), max_length=255, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "mailadmin_group_mail_recipient"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["group_mail", "address"], name="mailadmin_group_mail_recipient_once"
            )
        ]
        indexes = [
            models.Index(fields=["group_mail", "state", "id"], name="mailadmin_gm_recipient_state")
        ]
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")

    def __str__(self) -> str:
        return f"{self.address} ({self.state})"
