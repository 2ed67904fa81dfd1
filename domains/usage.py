"""Upkeep of the per-domain usage figures in ``mailadmin_domain_usage`` (SPEC §3.2, §7.1).

The list pages read one :class:`~domains.models.DomainUsage` row per domain instead of
aggregating the domain's mailboxes on every request. The row is kept right in three ways:

- **Services** call :func:`usage_change` in the transaction of every change that affects it,
  after writing that change: an atomic ``UPDATE ... SET n = n + delta``.
- **Reads** that meet a domain without a row (a domain created behind the panel's back)
  create it from the live rows (:func:`fill_missing`).
- **Recompute** (:func:`recompute_all`, ``manage.py recompute_usage``, a periodic task)
  corrects rows that drifted because something else wrote the legacy tables (ExtMan, SQL
  scripts).

Why this is safe without extra locks: a delta is an atomic update of the row; a recompute locks
the row *before* counting, so it either waits for a transaction that already applied its delta
(and then counts its committed rows) or counts without that transaction's uncommitted rows,
whose delta then lands on the recomputed value. Figures are a display aid: the limit checks of
the services still count the live rows under the domain lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Count, Exists, F, OuterRef, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from aliases.models import Alias
from domains.models import Domain, DomainUsage
from mailboxes.models import Mailbox

FIGURES = ("mailboxes", "aliases", "quota_bytes", "netdisk_bytes")
ZERO = dict.fromkeys(FIGURES, 0)


def count_usage(names: Iterable[str] | None = None) -> dict[str, dict[str, int]]:
    """Live figures by domain from the mailbox and alias rows (two grouped queries).

    ``names=None`` counts every domain. Quota strings (``104857600S``, ``104857600``,
    ``104857600S,2000C``) are summed by their leading number, which is what both MariaDB and
    SQLite take from a string cast to an integer. A mailbox's own forwarding alias (same
    address as the mailbox) is not an alias. Domains without rows are left out.
    """
    mailboxes = Mailbox.objects.all()
    aliases = Alias.objects.exclude(Exists(Mailbox.objects.filter(pk=OuterRef("address"))))
    if names is not None:
        names = list(names)
        if not names:
            return {}
        mailboxes = mailboxes.filter(domain_id__in=names)
        aliases = aliases.filter(domain_id__in=names)
    figures: dict[str, dict[str, int]] = {}
    for row in (
        mailboxes.order_by()
        .values("domain")
        .annotate(
            n=Count("*"),
            quota=Sum(Cast("quota", BigIntegerField())),
            netdisk=Sum(Cast("netdiskquota", BigIntegerField())),
        )
    ):
        figures[row["domain"]] = {
            **ZERO,
            "mailboxes": row["n"],
            "quota_bytes": row["quota"] or 0,
            "netdisk_bytes": row["netdisk"] or 0,
        }
    for row in aliases.order_by().values("domain").annotate(n=Count("*")):
        figures.setdefault(row["domain"], dict(ZERO))["aliases"] = row["n"]
    return figures


def usage_change(
    domain: str, *, mailboxes: int = 0, aliases: int = 0, quota: int = 0, netdisk: int = 0
) -> None:
    """Add to a domain's figures, in the caller's transaction, after the change is written.

    A domain without a row gets one counted from its rows (which then include the change).
    """
    delta = {
        "mailboxes": mailboxes,
        "aliases": aliases,
        "quota_bytes": quota,
        "netdisk_bytes": netdisk,
    }
    if not any(delta.values()):
        return
    if _add(domain, delta):
        return
    figures = count_usage([domain]).get(domain, ZERO)
    try:
        with transaction.atomic():
            DomainUsage.objects.create(domain_id=domain, **figures)
    except IntegrityError:  # created meanwhile by another transaction, without our change
        _add(domain, delta)


def _add(domain: str, delta: dict[str, int]) -> bool:
    changes = {name: F(name) + value for name, value in delta.items() if value}
    return bool(DomainUsage.objects.filter(pk=domain).update(**changes, updated_at=timezone.now()))


def usage_create(domain: str) -> None:
    """The empty row of a new domain."""
    DomainUsage.objects.update_or_create(domain_id=domain, defaults=dict(ZERO))


def usage_rename(old: str, new: str) -> None:
    """Move a renamed domain's row (its mailboxes and aliases moved with it)."""
    DomainUsage.objects.filter(pk=new).delete()
    DomainUsage.objects.filter(pk=old).update(domain_id=new, updated_at=timezone.now())


def usage_delete(domain: str) -> None:
    DomainUsage.objects.filter(pk=domain).delete()


def fill_missing(names: Iterable[str]) -> dict[str, dict[str, int]]:
    """Create the rows of these domains from their live rows (for domains that have none) and
    return their figures; a row created meanwhile by a service is kept."""
    names = list(names)
    if not names:
        return {}
    live = count_usage(names)
    figures = {name: live.get(name, dict(ZERO)) for name in names}
    DomainUsage.objects.bulk_create(
        [DomainUsage(domain_id=name, **values) for name, values in figures.items()],
        ignore_conflicts=True,
    )
    return figures


@transaction.atomic
def recompute_domain(name: str) -> bool:
    """Count one domain's figures again and correct its row; True when the row changed."""
    row = DomainUsage.objects.select_for_update().filter(pk=name).first()
    if not Domain.objects.filter(pk=name).exists():
        if row is not None:
            row.delete()  # the domain was deleted behind the panel's back
            return True
        return False
    figures = count_usage([name]).get(name, ZERO)
    if row is None:
        try:
            with transaction.atomic():
                DomainUsage.objects.create(domain_id=name, **figures)
        except IntegrityError:  # created meanwhile: lock it and count again
            return recompute_domain(name)
        return True
    if all(getattr(row, field) == value for field, value in figures.items()):
        return False
    for field, value in figures.items():
        setattr(row, field, value)
    row.save()
    return True


def recompute_all() -> int:
    """Correct every row that differs from the mailbox and alias tables, create missing rows
    and drop rows of domains that no longer exist; returns the number of rows changed.

    Meant for a periodic task and ``manage.py recompute_usage``. All figures are read in a few
    grouped queries; only the domains whose row differs are then locked and counted again one
    by one, so a run over an unchanged database writes nothing.
    """
    live = count_usage()
    stored = {
        row["domain"]: {field: row[field] for field in FIGURES}
        for row in DomainUsage.objects.values("domain", *FIGURES)
    }
    names = set(Domain.objects.values_list("pk", flat=True))
    suspects = {name for name in names if stored.get(name) != live.get(name, ZERO)}
    suspects |= set(stored) - names
    return sum(recompute_domain(name) for name in sorted(suspects))
