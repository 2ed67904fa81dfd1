"""The ``mailbox`` table of the extmail schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from mailadmin.lib import dates
from mailadmin.lib.addresses import key_problems
from mailadmin.lib.expressions import AddressDomain
from mailadmin.lib.fields import ZeroDateField, ZeroDateTimeField, local_now
from mailadmin.lib.flags import ServiceFlagsMixin
from mailadmin.lib.quota import quota_bytes

if TYPE_CHECKING:
    from accounts.models import Manager


class MailboxQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> MailboxQuerySet:
        """Mailboxes of the domains ``manager`` may see: by the ``domain`` column and by the
        address's own domain, which a legacy row can have different (``x@corp.example`` with
        ``domain = 'shop.example'`` is not for the admin of shop.example alone)."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        names = DomainManager.objects.domain_names_of(manager)
        return self.filter(domain_id__in=names).address_in(names)

    def address_in(self, names: Iterable[str] | models.QuerySet) -> MailboxQuerySet:
        """Mailboxes whose address's own domain (after its last @) is one of ``names``."""
        return self.alias(address_domain=AddressDomain("username")).filter(address_domain__in=names)


class Mailbox(ServiceFlagsMixin, models.Model):
    """A mailbox. Postfix, Courier authlib/maildrop and Dovecot read this row directly.

    ``maildir`` and ``homedir`` are relative to the mail base and are never recomputed for an
    existing mailbox; ``clearpwd`` is never written by the panel.
    """

    username = models.CharField(_("address"), max_length=255, primary_key=True)
    uid = models.CharField(_("local part"), max_length=255, default="")
    password = models.CharField(max_length=255, default="")
    clearpwd = models.CharField(max_length=128, default="", editable=False)
    name = models.CharField(_("display name"), max_length=255, blank=True, default="")
    mailhost = models.CharField(_("storage host"), max_length=255, blank=True, default="")
    maildir = models.CharField(max_length=255, default="")
    homedir = models.CharField(max_length=255, default="")
    quota = models.CharField(_("quota"), max_length=16, default="0")
    netdiskquota = models.CharField(_("netdisk quota"), max_length=16, default="0")
    domain = models.ForeignKey(
        "domains.Domain",
        verbose_name=_("domain"),
        db_column="domain",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="mailboxes",
    )
    uidnumber = models.IntegerField(_("uid"), default=1000)
    gidnumber = models.IntegerField(_("gid"), default=1000)
    createdate = ZeroDateTimeField(_("created"), default=local_now)
    expiredate = ZeroDateField(_("expires"), null=True, blank=True, default=None)
    active = models.BooleanField(_("active"), default=True)
    disablepwdchange = models.SmallIntegerField(null=True, blank=True)
    disablesmtpd = models.SmallIntegerField(null=True, blank=True)
    disablesmtp = models.SmallIntegerField(null=True, blank=True)
    disablewebmail = models.SmallIntegerField(null=True, blank=True)
    disablenetdisk = models.SmallIntegerField(null=True, blank=True)
    disableimap = models.SmallIntegerField(null=True, blank=True)
    disablepop3 = models.SmallIntegerField(null=True, blank=True)
    question = models.TextField(_("recovery question"), blank=True, default="")
    answer = models.TextField(blank=True, default="")

    objects = MailboxQuerySet.as_manager()

    class Meta:
        managed = False  # created by mailadmin.lib.schema when missing, never altered
        db_table = "mailbox"
        ordering = ["username"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self) -> str:
        return self.username

    @property
    def local_part(self) -> str:
        return self.username.rpartition("@")[0]

    @property
    def quota_bytes(self) -> int:
        return quota_bytes(self.quota)

    @property
    def netdisk_bytes(self) -> int:
        return quota_bytes(self.netdiskquota)

    @property
    def is_expired(self) -> bool:
        return dates.is_expired(self.expiredate)

    @property
    def password_change_disabled(self) -> bool:
        return bool(self.disablepwdchange)

    @property
    def key_problems(self) -> list[str]:
        """What is wrong with this row's address, for a badge on the pages (legacy rows)."""
        return key_problems(self.username, self.domain_id)


class NameWord(models.Model):
    """The word index of display names: one row per (mailbox, word of its name), kept by the
    panel beside the legacy ``mailbox`` table (``mailboxes.names``), so that the default
    search finds a surname or any word of a name by an index lookup instead of a scan
    (``mailadmin.lib.words`` says how a name is cut into words)."""

    word = models.CharField(max_length=64)
    address = models.CharField(max_length=255)
    domain = models.CharField(max_length=255)

    class Meta:
        db_table = "mailadmin_name_word"
        constraints = [
            models.UniqueConstraint(fields=["address", "word"], name="mailadmin_name_word_key")
        ]
        indexes = [
            # With the address: the index lookups of a search read no row of the table.
            models.Index(fields=["word", "address"], name="mailadmin_name_word_word_addr"),
            models.Index(fields=["domain", "word", "address"], name="mailadmin_name_word_dom_addr"),
        ]

    def __str__(self) -> str:
        return f"{self.word} -> {self.address}"


class NamePair(models.Model):
    """The word pairs of display names: one row per (mailbox, ordered pair of two different
    words of its name), kept beside the word index (``mailboxes.names``), so that a search of
    two common words (``wei chen``) is one index range instead of the names of one word each
    checked for the other (``mailadmin.lib.words.name_pairs``). A name of more words than
    ``PAIR_WORDS`` has one row with two empty words instead: such names are checked word by
    word."""

    first = models.CharField(max_length=64)
    second = models.CharField(max_length=64)
    address = models.CharField(max_length=255)
    domain = models.CharField(max_length=255)

    class Meta:
        db_table = "mailadmin_name_pair"
        constraints = [
            models.UniqueConstraint(
                fields=["address", "first", "second"], name="mailadmin_name_pair_key"
            )
        ]
        indexes = [
            models.Index(fields=["first", "second", "address"], name="mailadmin_name_pair_words"),
            models.Index(
                fields=["domain", "first", "second", "address"], name="mailadmin_name_pair_domain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.first} {self.second} -> {self.address}"


class MailboxSortKey(models.Model):
    """Numeric sort keys of a mailbox, kept by the panel beside the legacy ``mailbox`` table
    (``mailboxes.sortkeys``): the legacy quota is a string (``104857600S,2000C``) that no index
    orders by its number, and the panel may not add a column there. With the index on
    (domain, quota_bytes, address) a page of a domain sorted by quota is an index range read
    at any depth."""

    address = models.CharField(max_length=255, primary_key=True)
    domain = models.CharField(max_length=255)
    # The size part of the quota in bytes, as ``mailadmin.lib.quota.quota_bytes`` reads it.
    quota_bytes = models.BigIntegerField(default=0)

    class Meta:
        db_table = "mailadmin_mailbox_sort_key"
        indexes = [
            models.Index(
                fields=["domain", "quota_bytes", "address"], name="mailadmin_sort_key_quota"
            ),
            models.Index(fields=["quota_bytes", "address"], name="mailadmin_sort_key_quota_all"),
        ]

    def __str__(self) -> str:
        return f"{self.address}: {self.quota_bytes}"


class MailboxDiskUsage(models.Model):
    """What a mailbox's Maildir holds on its storage host, as last measured there
    (docs/disk-usage.md): bytes and messages, from ``maildirsize`` or by walking the Maildir.

    The storage workers write these rows (job ``maildir.usage``); the lists, the domain page,
    the reports and the portal read them. ``quota_bytes`` and ``percent`` are those of the
    measurement (the quota of the row then), so "over 90 %" is one indexed condition.
    ``warned_percent`` is the highest warning threshold the mailbox was told about; it drops
    back when the use does, so the next crossing warns again. A mailbox whose home is not its
    own is not measured: ``used_bytes`` is None and ``problem`` says why.
    """

    class Source(models.TextChoices):
        MAILDIRSIZE = "maildirsize", _("maildirsize")
        WALK = "walk", _("counted on disk")
        MISSING = "missing", _("no Maildir")
        REFUSED = "refused", _("not measured")

    mailbox = models.OneToOneField(
        Mailbox,
        primary_key=True,
        db_column="address",
        db_constraint=False,  # the legacy table may be MyISAM; it is never altered
        on_delete=models.DO_NOTHING,
        related_name="disk_usage",
    )
    domain = models.CharField(_("domain"), max_length=255, db_index=True)
    mailhost = models.CharField(_("storage host"), max_length=255, blank=True, default="")
    used_bytes = models.BigIntegerField(_("used"), null=True, blank=True)
    messages = models.BigIntegerField(_("messages"), null=True, blank=True)
    quota_bytes = models.BigIntegerField(_("quota"), default=0)
    # Used / quota in whole percent (None: no quota, or not measured).
    percent = models.IntegerField(_("percent used"), null=True, blank=True, db_index=True)
    source = models.CharField(_("measured from"), max_length=16, choices=Source.choices)
    problem = models.CharField(_("problem"), max_length=500, blank=True, default="")
    measured_at = models.DateTimeField(_("measured"))
    warned_percent = models.IntegerField(default=0)

    class Meta:
        db_table = "mailadmin_mailbox_disk_usage"
        indexes = [
            models.Index(fields=["mailhost", "domain"], name="mailadmin_disk_usage_host"),
            # The mailbox list sorted by use reads its page's keys from these
            # (mailboxes.sortkeys.used_side_keys): of one domain, and of every domain.
            models.Index(
                fields=["domain", "used_bytes", "mailbox"], name="mailadmin_disk_usage_used"
            ),
            models.Index(fields=["used_bytes", "mailbox"], name="mailadmin_disk_usage_used_all"),
        ]
        verbose_name = _("disk usage")
        verbose_name_plural = _("disk usage")

    def __str__(self) -> str:
        return f"{self.mailbox_id}: {self.used_bytes} bytes, {self.messages} messages"
