"""The ``alias`` table of the extmail schema."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db import models
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.addresses import key_problems
from mailadmin.lib.expressions import AddressDomain
from mailadmin.lib.fields import ZeroDateTimeField, local_now

if TYPE_CHECKING:
    from accounts.models import Manager


class AliasQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> AliasQuerySet:
        """Aliases of the domains ``manager`` may see: by the ``domain`` column and by the
        address's own domain, which a legacy row can have different (``x@corp.example`` with
        ``domain = 'shop.example'`` is not for the admin of shop.example alone)."""
        from accounts.models import DomainManager

        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        names = DomainManager.objects.domain_names_of(manager)
        return self.filter(domain_id__in=names).address_in(names)

    def address_in(self, names: Iterable[str] | models.QuerySet) -> AliasQuerySet:
        """Aliases whose address's own domain (after its last @) is one of ``names``."""
        return self.alias(address_domain=AddressDomain("address")).filter(address_domain__in=names)


class Alias(models.Model):
    """An alias; ``@domain`` is the domain's catch-all. Postfix reads ``goto`` by address."""

    address = models.CharField(_("address"), max_length=255, primary_key=True)
    goto = models.TextField(_("targets"), default="")
    domain = models.ForeignKey(
        "domains.Domain",
        verbose_name=_("domain"),
        db_column="domain",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="aliases",
    )
    createdate = ZeroDateTimeField(_("created"), default=local_now)
    active = models.BooleanField(_("active"), default=True)

    objects = AliasQuerySet.as_manager()

    class Meta:
        managed = False  # created by mailadmin.lib.schema when missing, never altered
        db_table = "alias"
        ordering = ["address"]
        verbose_name = _("alias")
        verbose_name_plural = _("aliases")

    def __str__(self) -> str:
        return self.address

    @property
    def is_catchall(self) -> bool:
        return self.address.startswith("@")

    @property
    def key_problems(self) -> list[str]:
        """What is wrong with this row's address, for a badge on the pages (legacy rows)."""
        return key_problems(self.address, self.domain_id)

    @property
    def targets(self) -> list[str]:
        """The targets in stored order; ExtMan joins them with commas, no spaces."""
        return [t.strip() for t in self.goto.replace("\n", ",").split(",") if t.strip()]


class AliasTarget(models.Model):
    """The reverse index of alias targets: one row per (alias, target), kept by the panel beside
    the legacy ``alias`` table (``aliases.index``), so that "which aliases deliver to this
    address" and the cascades of a mailbox or domain rename or delete are index lookups, not a
    scan of every ``goto``. Targets are lower-case; a catch-all target ``@domain`` has the
    domain as its ``target_domain``."""

    alias = models.CharField(max_length=255, db_index=True)
    alias_domain = models.CharField(max_length=255, db_index=True)
    target = models.CharField(max_length=255, db_index=True)
    target_domain = models.CharField(max_length=255, db_index=True)

    class Meta:
        db_table = "mailadmin_alias_target"

    def __str__(self) -> str:
        return f"{self.alias} -> {self.target}"
