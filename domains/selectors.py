"""Read paths for domains: usage against limits, computed in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import (
    Aggregate,
    BigIntegerField,
    Count,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import Cast, Coalesce

from aliases.models import Alias
from domains.models import Domain
from mailboxes.models import Mailbox


def _aggregate(queryset: QuerySet, expression: Aggregate) -> Subquery:
    return Subquery(
        queryset.filter(domain=OuterRef("pk"))
        .order_by()
        .values("domain")
        .annotate(v=expression)
        .values("v")
    )


def with_usage(queryset: QuerySet[Domain]) -> QuerySet[Domain]:
    """Annotate ``used_users``, ``used_aliases``, ``used_quota`` and ``used_netdisk`` (bytes).

    Quota strings (``104857600S``, ``104857600``, ``104857600S,2000C``) are summed by their
    leading number, which is what both MariaDB and SQLite take from a string cast to integer.
    The mailbox's own forwarding alias (same address as a mailbox) is not counted as an alias.
    """
    aliases = Alias.objects.exclude(address__in=Mailbox.objects.values("username"))
    return queryset.annotate(
        used_users=Coalesce(
            _aggregate(Mailbox.objects, Count("*")), 0, output_field=IntegerField()
        ),
        used_aliases=Coalesce(_aggregate(aliases, Count("*")), 0, output_field=IntegerField()),
        used_quota=Coalesce(
            _aggregate(Mailbox.objects, Sum(Cast("quota", BigIntegerField()))),
            0,
            output_field=BigIntegerField(),
        ),
        used_netdisk=Coalesce(
            _aggregate(Mailbox.objects, Sum(Cast("netdiskquota", BigIntegerField()))),
            0,
            output_field=BigIntegerField(),
        ),
    )


@dataclass(frozen=True)
class Usage:
    users: int
    aliases: int
    quota: int
    netdisk: int


def domain_usage(name: str) -> Usage:
    """Current usage of one domain (one query)."""
    domain = with_usage(Domain.objects.filter(pk=name)).values(
        "used_users", "used_aliases", "used_quota", "used_netdisk"
    ).first() or {"used_users": 0, "used_aliases": 0, "used_quota": 0, "used_netdisk": 0}
    return Usage(
        users=domain["used_users"],
        aliases=domain["used_aliases"],
        quota=domain["used_quota"],
        netdisk=domain["used_netdisk"],
    )


def lock_domain(name: str) -> Domain:
    """The domain row, locked until the end of the transaction (InnoDB), so that limit checks
    of concurrent requests run one after the other. Raises Domain.DoesNotExist."""
    return Domain.objects.select_for_update().get(pk=name)
