"""Signup requests and the per-domain signup policy (SPEC §3.7), in the panel's own tables.

No mailbox row exists before approval: a pending applicant can neither receive mail nor log
in. The request keeps the password hashed and the recovery answer in the form the mailbox
will get (hashed, or in clear text under ``MAILADMIN_RECOVERY_ANSWER_FORMAT=extmail``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from accounts.models import Manager


class SignupPolicy(models.Model):
    """How a domain treats signup requests. A domain without a row requires approval."""

    class Approval(models.TextChoices):
        REQUIRED = "required", _("approval required")
        OPEN = "open", _("open: mailboxes are created at once")

    domain = models.CharField(_("domain"), max_length=255, primary_key=True)
    approval = models.CharField(
        _("signup approval"),
        max_length=16,
        choices=Approval.choices,
        default=Approval.REQUIRED,
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.CharField(max_length=255, blank=True, default="")

    class Meta:
        db_table = "mailadmin_signup_policy"
        verbose_name = _("signup policy")
        verbose_name_plural = _("signup policies")

    def __str__(self) -> str:
        return f"{self.domain}: {self.approval}"


class SignupRequestQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> SignupRequestQuerySet:
        """All requests for a superadmin; those of their domains for a domain admin."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(domain__in=DomainManager.objects.domain_names_of(manager))

    def pending(self) -> SignupRequestQuerySet:
        return self.filter(state=SignupRequest.State.PENDING)


class SignupRequest(models.Model):
    """One applicant's request for a mailbox."""

    class State(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        EXPIRED = "expired", _("expired")

    domain = models.CharField(_("domain"), max_length=255, db_index=True)
    local_part = models.CharField(_("local part"), max_length=64)
    address = models.CharField(_("address"), max_length=255, db_index=True)
    # The address while the request is pending, NULL afterwards: the unique index keeps two
    # pending requests from reserving the same address.
    pending_address = models.CharField(max_length=255, null=True, blank=True, unique=True)
    name = models.CharField(_("display name"), max_length=255, blank=True, default="")
    password_hash = models.CharField(max_length=255)
    question = models.CharField(_("recovery question"), max_length=255, blank=True, default="")
    # The stored form of the answer (mailboxes.credentials.stored_recovery_answer): a hash, or
    # the clear text under MAILADMIN_RECOVERY_ANSWER_FORMAT=extmail.
    answer_hash = models.CharField(max_length=255, blank=True, default="")
    contact_email = models.EmailField(_("contact address"), blank=True, default="")
    state = models.CharField(
        _("state"), max_length=16, choices=State.choices, default=State.PENDING, db_index=True
    )
    reason = models.TextField(_("reason"), blank=True, default="")
    client_ip = models.GenericIPAddressField(_("client address"), null=True, blank=True)
    created_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(_("expires"))
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.CharField(_("decided by"), max_length=255, blank=True, default="")

    objects = SignupRequestQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_signup_request"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="mailadmin_signup_state"),
        ]
        verbose_name = _("signup request")
        verbose_name_plural = _("signup requests")

    def __str__(self) -> str:
        return f"#{self.pk} {self.address} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state == self.State.PENDING
