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
