"""What the daily expiry run has told whom (docs/jobs.md, "Expiry"): one row per object, expiry
date and notice threshold, so that no notice goes out twice for the same threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

if TYPE_CHECKING:
    from accounts.models import Manager


class ExpiryNoticeQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> ExpiryNoticeQuerySet:
        """All notices for a superadmin; those of their domains for a domain admin."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(domain__in=DomainManager.objects.domain_names_of(manager))


class ExpiryNotice(models.Model):
    """A notice sent ``days`` days (a threshold of ``MAILADMIN_EXPIRY_NOTICE_DAYS``) before
    ``expiredate``. A new expiry date starts the notices again."""

    class ObjectType(models.TextChoices):
        MAILBOX = "mailbox", _("mailbox")
        DOMAIN = "domain", _("domain")

    object_type = models.CharField(_("object type"), max_length=16, choices=ObjectType.choices)
    object_id = models.CharField(_("object"), max_length=255)
    domain = models.CharField(_("domain"), max_length=255, db_index=True)
    expiredate = models.DateField(_("expires"))
    days = models.PositiveSmallIntegerField(_("days before"))
    recipients = models.TextField(_("sent to"), blank=True, default="")
    sent_at = models.DateTimeField(pgettext_lazy("time", "sent"), auto_now_add=True)

    objects = ExpiryNoticeQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_expiry_notice"
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "expiredate", "days"],
                name="mailadmin_expiry_notice_once",
            )
        ]
        verbose_name = _("expiry notice")
        verbose_name_plural = _("expiry notices")

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}: {self.days} days before {self.expiredate}"
