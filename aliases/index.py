"""Upkeep of the reverse index of alias targets (``aliases.models.AliasTarget``).

Kept right in three ways, as the per-domain usage figures are (``domains.usage``):

- every save or delete of an ``Alias`` row through the ORM re-indexes that alias (signals,
  connected in ``AliasesConfig.ready``), and the bulk paths of the services (a domain deleted or
  renamed) call :func:`index_domain` / :func:`forget_domain` / :func:`index_aliases`;
- ``migrate`` fills it from the existing rows;
- :func:`reindex_all` (run with the usage recompute: ``manage.py recompute_usage`` and the
  periodic task) corrects what something else wrote into the ``alias`` table (ExtMan, SQL).

Lookups read the index and then the aliases themselves, so a stale row can never make a
cascade touch an alias that does not list the address any more.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.db import transaction

from aliases.models import Alias, AliasTarget

BATCH = 1000
_FIELD = AliasTarget._meta.get_field("target").max_length


def _targets(goto: str) -> list[str]:
    return [t.strip().lower() for t in (goto or "").replace("\n", ",").split(",") if t.strip()]


def _rows(address: str, domain: str | None, goto: str) -> Iterator[tuple[str, str, str, str]]:
    seen: set[str] = set()
    for target in _targets(goto):
        target = target[:_FIELD]
        if target in seen:
            continue
        seen.add(target)
        yield address, (domain or ""), target, target.rpartition("@")[2]


def _insert(rows: Iterable[tuple[str, str, str, str]]) -> int:
    objects = [
        AliasTarget(alias=a, alias_domain=d, target=t, target_domain=td) for a, d, t, td in rows
    ]
    AliasTarget.objects.bulk_create(objects, batch_size=BATCH)
    return len(objects)


@transaction.atomic
def index_aliases(addresses: Iterable[str]) -> None:
    """Index the aliases ``addresses`` as they are now (gone ones are forgotten)."""
    addresses = list(addresses)
    for start in range(0, len(addresses), BATCH):
        batch = addresses[start : start + BATCH]
        AliasTarget.objects.filter(alias__in=batch).delete()
        _insert(
            row
            for address, domain, goto in Alias.objects.filter(pk__in=batch).values_list(
                "address", "domain", "goto"
            )
            for row in _rows(address, domain, goto)
        )


def forget_domain(domain: str) -> None:
    """Forget every alias of ``domain`` (its rows were deleted in bulk)."""
    AliasTarget.objects.filter(alias_domain=domain).delete()


@transaction.atomic
def index_domain(domain: str) -> None:
    """Index every alias of ``domain`` again (its rows were changed in bulk)."""
    forget_domain(domain)
    _insert(
        row
        for address, goto in Alias.objects.filter(domain_id=domain)
        .values_list("address", "goto")
        .iterator(chunk_size=BATCH)
        for row in _rows(address, domain, goto)
    )


def aliases_targeting(address: str) -> list[str]:
    """Addresses of the aliases that list ``address`` among their targets (by the index)."""
    return sorted(
        set(
            AliasTarget.objects.filter(target=address.strip().lower()).values_list(
                "alias", flat=True
            )
        )
    )


def aliases_targeting_domain(domain: str) -> list[str]:
    """Addresses of the aliases with a target at ``domain`` (``x@domain`` or ``@domain``)."""
    return sorted(
        set(
            AliasTarget.objects.filter(target_domain=domain.strip().lower()).values_list(
                "alias", flat=True
            )
        )
    )


def reindex_all() -> int:
    """Make the index match the ``alias`` table; returns how many index rows changed. Reads
    both in full (a few seconds at 100,000 aliases) and writes only the differences."""
    wanted = {
        row
        for address, domain, goto in Alias.objects.values_list("address", "domain", "goto")
        .order_by()
        .iterator(chunk_size=BATCH)
        for row in _rows(address, domain, goto)
    }
    stored: dict[tuple[str, str, str, str], int] = {}
    stale: list[int] = []
    for pk, *row in AliasTarget.objects.values_list(
        "pk", "alias", "alias_domain", "target", "target_domain"
    ).iterator(chunk_size=BATCH):
        key = tuple(row)
        if key in wanted and key not in stored:
            stored[key] = pk
        else:
            stale.append(pk)  # gone from the alias table, or a duplicate
    missing = [row for row in wanted if row not in stored]
    with transaction.atomic():
        for start in range(0, len(stale), BATCH):
            AliasTarget.objects.filter(pk__in=stale[start : start + BATCH]).delete()
        _insert(missing)
    return len(stale) + len(missing)


def _on_save(sender, instance: Alias, raw: bool = False, **kwargs) -> None:
    if not raw:
        index_aliases([instance.address])


def _on_delete(sender, instance: Alias, **kwargs) -> None:
    AliasTarget.objects.filter(alias=instance.address).delete()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_on_save, sender=Alias, dispatch_uid="mailadmin-alias-index-save")
    post_delete.connect(_on_delete, sender=Alias, dispatch_uid="mailadmin-alias-index-delete")
