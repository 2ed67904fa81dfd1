"""The ``domain`` table of the extmail schema."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from mailadmin.lib import dates
from mailadmin.lib.addresses import domain_key_problems
from mailadmin.lib.fields import ZeroDateField, ZeroDateTimeField, local_now
from mailadmin.lib.flags import ServiceFlagsMixin
from mailadmin.lib.quota import quota_bytes

if TYPE_CHECKING:
    from accounts.models import Manager


class DomainQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> DomainQuerySet:
        """The domains ``manager`` may see: all for a superadmin, their own for a domain admin."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(pk__in=DomainManager.objects.domain_names_of(manager))


class Domain(ServiceFlagsMixin, models.Model):
    """A mail domain; Postfix's domain map reads ``domain`` where ``active = 1``."""

    domain = models.CharField(_("domain"), max_length=255, primary_key=True)
    description = models.CharField(_("description"), max_length=255, blank=True, default="")
    hashdirpath = models.CharField(max_length=255, blank=True, default="")
    maxalias = models.IntegerField(_("max aliases"), default=0)
    maxusers = models.IntegerField(_("max mailboxes"), default=0)
    maxquota = models.CharField(_("max total quota"), max_length=16, default="0")
    maxnetdiskquota = models.CharField(_("max total netdisk quota"), max_length=16, default="0")
    transport = models.CharField(_("transport"), max_length=255, null=True, blank=True)
    can_signup = models.BooleanField(_("signup allowed"), default=False)
    default_quota = models.CharField(max_length=255, null=True, blank=True)
    default_netdiskquota = models.CharField(max_length=255, null=True, blank=True)
    default_expire = models.CharField(max_length=12, null=True, blank=True)
    disablesmtpd = models.SmallIntegerField(null=True, blank=True)
    disablesmtp = models.SmallIntegerField(null=True, blank=True)
    disablewebmail = models.SmallIntegerField(null=True, blank=True)
    disablenetdisk = models.SmallIntegerField(null=True, blank=True)
    disableimap = models.SmallIntegerField(null=True, blank=True)
    disablepop3 = models.SmallIntegerField(null=True, blank=True)
    createdate = ZeroDateTimeField(_("created"), default=local_now)
    expiredate = ZeroDateField(_("expires"), null=True, blank=True, default=None)
    active = models.BooleanField(_("active"), default=True)

    objects = DomainQuerySet.as_manager()

    class Meta:
        managed = False  # created by mailadmin.lib.schema when missing, never altered
        db_table = "domain"
        ordering = ["domain"]
        verbose_name = _("domain")
        verbose_name_plural = _("domains")

    def __str__(self) -> str:
        return self.domain

    @property
    def max_quota_bytes(self) -> int:
        return quota_bytes(self.maxquota)

    @property
    def max_netdisk_bytes(self) -> int:
        return quota_bytes(self.maxnetdiskquota)

    @property
    def default_quota_bytes(self) -> int:
        return quota_bytes(self.default_quota)

    @property
    def default_netdisk_bytes(self) -> int:
        return quota_bytes(self.default_netdiskquota)

    @property
    def is_expired(self) -> bool:
        return dates.is_expired(self.expiredate)

    @property
    def key_problems(self) -> list[str]:
        """What is wrong with this row's name, for a badge on the pages (legacy rows)."""
        return domain_key_problems(self.domain)

    def default_mailbox_expiry(self, start: datetime.date | None = None) -> datetime.date | None:
        """Expiry of a new mailbox: today + the default lifetime, capped by the domain's."""
        try:
            expiry = dates.add_lifetime(start or dates.today(), self.default_expire)
        except ValueError:
            expiry = None  # an unreadable legacy template lifetime means "no lifetime"
        if self.expiredate is not None and (expiry is None or expiry > self.expiredate):
            return self.expiredate
        return expiry


class DomainUsage(models.Model):
    """What a domain's mailboxes and aliases use, kept for the list pages (SPEC §3.2, §7.1).

    The services update this row in the transaction of every change that affects it, so a page
    reads one row per domain instead of aggregating the domain's mailboxes. Rows written behind
    the panel's back (ExtMan, SQL scripts) make it drift until ``domains.usage.recompute_all()``
    runs (``manage.py recompute_usage``). ``aliases`` leaves out the forwarding aliases of
    mailboxes; quotas are the allocated bytes, summed by the leading number of the strings.
    """

    domain = models.OneToOneField(
        Domain,
        primary_key=True,
        db_column="domain",
        db_constraint=False,  # the legacy table may be MyISAM; it is never altered
        on_delete=models.DO_NOTHING,
        related_name="usage",
    )
    mailboxes = models.IntegerField(default=0)
    aliases = models.IntegerField(default=0)
    quota_bytes = models.BigIntegerField(default=0)
    netdisk_bytes = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "mailadmin_domain_usage"
        # The domain list sorted by a figure reads its page from these (domains.views).
        indexes = [
            models.Index(fields=["mailboxes", "domain"], name="mailadmin_usage_mailboxes"),
            models.Index(fields=["aliases", "domain"], name="mailadmin_usage_aliases"),
            models.Index(fields=["quota_bytes", "domain"], name="mailadmin_usage_quota"),
        ]

    def __str__(self) -> str:
        return f"{self.domain_id}: {self.mailboxes} mailboxes, {self.aliases} aliases"


class DomainDiskUsage(models.Model):
    """The measured disk use of a domain's mailboxes, summed (docs/disk-usage.md), so that the
    domain page reads one row instead of aggregating every mailbox's measurement.

    Written by the storage worker after each measuring run (one aggregate per domain measured,
    ``domains.usage.disk_usage_refresh``), by ``manage.py recompute_usage`` for every domain,
    and moved or dropped with a renamed or deleted domain. The mailboxes counted are the
    domain's own: ``domain`` column and address both in the domain, as in the usage report.
    No row: never measured.
    """

    domain = models.OneToOneField(
        Domain,
        primary_key=True,
        db_column="domain",
        db_constraint=False,  # the legacy table may be MyISAM; it is never altered
        on_delete=models.DO_NOTHING,
        related_name="disk_usage",
    )
    # Mailboxes with a figure (measured from maildirsize or on disk).
    measured = models.IntegerField(default=0)
    used_bytes = models.BigIntegerField(default=0)
    messages = models.BigIntegerField(default=0)
    over_90 = models.IntegerField(default=0)
    # The latest measurement of any of its mailboxes (None: none stored).
    measured_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "mailadmin_domain_disk_usage"

    def __str__(self) -> str:
        return f"{self.domain_id}: {self.used_bytes} bytes in {self.measured} mailboxes"


class PageMark(models.Model):
    """The position of every 1,000th row of a big domain's mailbox or alias list in one sort
    order (``domains.pagemarks``), so that a page number typed in the box is a seek from the
    nearest mark and fewer than 1,000 keys skipped, whatever its depth. Refreshed by the
    periodic recompute; between two refreshes a deep page number is off by as many rows as
    were added or removed before it (links are always exact)."""

    listing = models.CharField(max_length=16)
    domain = models.CharField(max_length=255)
    sort = models.CharField(max_length=16)
    # The 0-based row of the list at this position.
    row = models.IntegerField()
    # A position token of mailadmin.lib.listing (the row's sort value and primary key).
    position = models.TextField()
    refreshed_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "mailadmin_page_mark"
        constraints = [
            models.UniqueConstraint(
                fields=["listing", "domain", "sort", "row"], name="mailadmin_page_mark_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.listing} of {self.domain} by {self.sort}: row {self.row}"
