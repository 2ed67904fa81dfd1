"""The audit log (SPEC §3.9): who changed what, when, from where, before and after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from audit import presentation

if TYPE_CHECKING:
    from accounts.models import Manager


class AuditQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> AuditQuerySet:
        """Everything for a superadmin; entries of their domains for a domain admin."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(domain__in=DomainManager.objects.domain_names_of(manager))


class AuditEntry(models.Model):
    """One recorded action. ``changes`` maps a field to ``[before, after]``; secrets never
    appear in it (password and recovery-answer changes are recorded as "changed")."""

    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    actor = models.CharField(_("who"), max_length=255, blank=True, default="")
    actor_kind = models.CharField(max_length=16, default="manager")
    ip = models.GenericIPAddressField(_("from"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=32, blank=True, default="")
    object_id = models.CharField(_("object"), max_length=255, blank=True, default="")
    domain = models.CharField(_("domain"), max_length=255, blank=True, default="", db_index=True)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    message = models.CharField(_("note"), max_length=500, blank=True, default="")
    # The note's arguments when ``message`` is a message id (translated when shown).
    message_args = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_audit_entry"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="mailadmin_audit_object")]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action} {self.object_id}"

    def change_list(self) -> list[tuple[str, Any, Any]]:
        return [(field, pair[0], pair[1]) for field, pair in sorted(self.changes.items())]

    # --- in words, for the page (audit/presentation.py) ----------------------------------
    def action_label(self) -> str:
        return presentation.action_label(self.action)

    def get_actor_kind_label(self) -> str:
        return presentation.actor_kind_label(self.actor_kind)

    def note(self) -> str:
        return presentation.note_text(self.message, self.message_args)

    def change_rows(self) -> list[tuple[str, str, str]]:
        if self.action == "mailbox.import":
            return []
        return presentation.change_rows(self.changes or {})

    def summary(self) -> str:
        return presentation.summary(self)

    def imported_addresses(self) -> list[str]:
        if self.action != "mailbox.import":
            return []
        return list((self.changes.get("mailboxes") or [None, []])[1] or [])
