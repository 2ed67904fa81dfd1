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

from collections.abc import Callable, Iterable
from typing import Any

from django.db import IntegrityError, models, transaction
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from aliases.models import Alias
from domains.models import Domain, DomainDiskUsage, DomainUsage
from mailadmin.lib.expressions import AddressDomain
from mailboxes.models import Mailbox, MailboxDiskUsage

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
    """Move a renamed domain's rows (its mailboxes and aliases, and their measurements, moved
    with it)."""
    for model in (DomainUsage, DomainDiskUsage):
        model.objects.filter(pk=new).delete()
        model.objects.filter(pk=old).update(domain_id=new, updated_at=timezone.now())


def usage_delete(domain: str) -> None:
    DomainUsage.objects.filter(pk=domain).delete()
    DomainDiskUsage.objects.filter(pk=domain).delete()


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


def _correct_row(
    model: type[models.Model],
    name: str,
    count: Callable[[list[str]], dict[str, dict[str, Any]]],
    zero: dict[str, Any],
) -> bool:
    """Set ``model``'s row of the domain ``name`` to ``count([name])`` (created when missing,
    dropped when the domain was deleted behind the panel's back); True when the row changed.
    The row is locked before the count (in the caller's transaction), so two corrections of
    one domain write one after the other, the later with the later figures."""
    row = model.objects.select_for_update().filter(pk=name).first()
    if not Domain.objects.filter(pk=name).exists():
        if row is not None:
            row.delete()
            return True
        return False
    figures = count([name]).get(name, zero)
    if row is None:
        try:
            with transaction.atomic():
                model.objects.create(domain_id=name, **figures)
        except IntegrityError:  # created meanwhile: lock it and count again
            return _correct_row(model, name, count, zero)
        return True
    if all(getattr(row, field) == value for field, value in figures.items()):
        return False
    for field, value in figures.items():
        setattr(row, field, value)
    row.save()
    return True


@transaction.atomic
def recompute_domain(name: str) -> bool:
    """Count one domain's figures again and correct its row; True when the row changed."""
    return _correct_row(DomainUsage, name, count_usage, ZERO)


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


# --- measured disk use (mailadmin_domain_disk_usage) ------------------------------------------
#: A domain's disk figures before any measurement (its fields, in this order).
DISK_NONE: dict[str, Any] = {
    "measured": 0,
    "used_bytes": 0,
    "messages": 0,
    "over_90": 0,
    "measured_at": None,
}
DISK_FIGURES = tuple(DISK_NONE)


def _disk_sums(rows: QuerySet) -> QuerySet:
    """The measurements of the domains' own mailboxes (the mailbox exists, and its ``domain``
    column and its address are both in the domain), summed by domain in one grouped query."""
    return (
        rows.filter(mailbox__domain_id=F("domain"))
        .alias(address_domain=AddressDomain("mailbox_id"))
        .filter(address_domain=F("domain"))
        .order_by()
        .values("domain")
        .annotate(
            n_measured=Count("used_bytes"),
            sum_bytes=Sum("used_bytes"),
            sum_messages=Sum("messages"),
            n_over_90=Count("pk", filter=Q(percent__gte=90)),
            last=Max("measured_at"),
        )
    )


def count_disk_usage(names: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Live disk figures by domain from the mailboxes' measurements; domains without any are
    left out. ``names=None`` sums every domain (one pass over the whole table)."""
    rows = MailboxDiskUsage.objects.all()
    if names is not None:
        names = list(names)
        if not names:
            return {}
        rows = rows.filter(domain__in=names)
    return {
        row["domain"]: {
            "measured": row["n_measured"],
            "used_bytes": int(row["sum_bytes"] or 0),
            "messages": int(row["sum_messages"] or 0),
            "over_90": row["n_over_90"],
            "measured_at": row["last"],
        }
        for row in _disk_sums(rows)
    }


@transaction.atomic
def disk_usage_refresh_domain(name: str) -> bool:
    """Sum one domain's measurements again into its row (created when missing, dropped with a
    domain that is gone); True when the row changed."""
    return _correct_row(DomainDiskUsage, name, count_disk_usage, DISK_NONE)


def disk_usage_refresh(names: Iterable[str]) -> int:
    """After a measuring run: one sum per domain it measured (never one per mailbox). Returns
    the number of rows changed."""
    return sum(disk_usage_refresh_domain(name) for name in sorted(set(names)))


def _counted(row: MailboxDiskUsage | None) -> bool:
    """Whether a mailbox's measurement is in its domain's sums: its address is in the domain
    (the mailbox exists, with that domain column, when it was just measured)."""
    return row is not None and row.mailbox_id.rpartition("@")[2].lower() == row.domain.lower()


def disk_usage_apply(
    changes: Iterable[tuple[MailboxDiskUsage | None, MailboxDiskUsage | None]],
) -> None:
    """After measuring a few mailboxes, or deleting some: add the difference between each
    one's previous and new measurement (``(before, after)``; None: none) to its domain's sums
    instead of summing the domain again (4 s at 1,000,000 mailboxes). A domain without a row,
    or a mailbox whose previous row was filed under another domain, is summed again. Two
    measurements of the same mailbox at once may leave the sums off until the recompute."""
    deltas: dict[str, dict[str, Any]] = {}
    refresh: set[str] = set()
    for before, after in changes:
        current = after or before
        if current is None:
            continue
        if before is not None and after is not None and before.domain != after.domain:
            refresh |= {before.domain, after.domain}
            continue
        delta = deltas.setdefault(current.domain, dict(DISK_NONE))
        if after is not None:
            delta["measured_at"] = max(delta["measured_at"] or after.measured_at, after.measured_at)
        for row, sign in ((before, -1), (after, 1)):
            if not _counted(row):
                continue
            if row.used_bytes is not None:
                delta["measured"] += sign
                delta["used_bytes"] += sign * row.used_bytes
            delta["messages"] += sign * (row.messages or 0)
            if row.percent is not None and row.percent >= 90:
                delta["over_90"] += sign
    for name, delta in deltas.items():
        if name in refresh:
            continue
        latest = delta.pop("measured_at")
        changes_of_row: dict[str, Any] = {
            field: F(field) + value for field, value in delta.items() if value
        }
        if latest is not None:
            changes_of_row["measured_at"] = Case(
                When(measured_at__gte=latest, then=F("measured_at")), default=Value(latest)
            )
        if not changes_of_row:
            continue
        if not DomainDiskUsage.objects.filter(pk=name).update(
            **changes_of_row, updated_at=timezone.now()
        ):
            refresh.add(name)
    disk_usage_refresh(refresh)


def disk_usage_forget(address: str) -> None:
    """A deleted mailbox's measurement goes, and out of its domain's sums (in the caller's
    transaction)."""
    row = MailboxDiskUsage.objects.filter(pk=address).first()
    if row is not None:
        MailboxDiskUsage.objects.filter(pk=address).delete()
        disk_usage_apply([(row, None)])


def disk_usage_move(old: str, new: str) -> None:
    """A renamed mailbox keeps its measurement (its domain's sums are unchanged)."""
    MailboxDiskUsage.objects.filter(pk=new).delete()
    MailboxDiskUsage.objects.filter(pk=old).update(mailbox=new)


def disk_usage_recompute_all() -> int:
    """Correct every domain's disk row from the measurements (one grouped pass over them; the
    domains whose row differs are then locked and summed again one by one), and drop the rows
    of domains that are gone. Returns the number of rows changed."""
    live = count_disk_usage()
    stored = {
        row["domain"]: {field: row[field] for field in DISK_FIGURES}
        for row in DomainDiskUsage.objects.values("domain", *DISK_FIGURES)
    }
    names = set(Domain.objects.values_list("pk", flat=True))
    suspects = {
        name
        for name in names
        if (name in stored or name in live) and stored.get(name) != live.get(name, DISK_NONE)
    }
    suspects |= set(stored) - names
    return disk_usage_refresh(suspects)
