"""The panel's own records about the Postfix/Dovecot side (the legacy tables stay as they are)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class InternalOnly(models.Model):
    """A mailbox or alias address that accepts mail only from senders of the panel's domains.

    It becomes a ``local_recipient`` entry of the ``local_only`` restriction class (the EMOS
    recipe). Keyed by the address, so a mailbox and its forwarding alias share one entry.
    """

    address = models.CharField(_("address"), max_length=255, primary_key=True)
    domain = models.CharField(_("domain"), max_length=255, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "mailadmin_internal_only"
        ordering = ["address"]
        verbose_name = _("internal-only address")
        verbose_name_plural = _("internal-only addresses")

    def __str__(self) -> str:
        return self.address


class HostStatus(models.Model):
    """What one host of the mail system last reported (mailstack.status.local_status): kept
    by the periodic collection (mailstack.services.collect_status) and after a queue action."""

    host = models.CharField(_("host"), max_length=255, primary_key=True)
    data = models.JSONField(default=dict)
    #: The workers of this host that answered: ``[{"name": ..., "queues": [...]}]``.
    workers = models.JSONField(default=list)
    reported_at = models.DateTimeField(_("reported"))

    class Meta:
        db_table = "mailadmin_host_status"
        ordering = ["host"]
        verbose_name = _("host status")
        verbose_name_plural = _("host statuses")

    def __str__(self) -> str:
        return self.host


class StatusCollection(models.Model):
    """The last run of the periodic status collection (one row): when Celery beat last had it
    run, and how many workers answered."""

    ran_at = models.DateTimeField()
    answered = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "mailadmin_status_collection"
        verbose_name = _("status collection")
        verbose_name_plural = _("status collections")

    def __str__(self) -> str:
        return f"{self.ran_at} ({self.answered})"
