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

from aliases.models import Alias, AliasTarget
from mailadmin.lib.derived import DerivedIndex

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


ALIAS_TARGETS = DerivedIndex(
    model=AliasTarget,
    fields=("alias", "alias_domain", "target", "target_domain"),
    columns=("goto",),
    rows=_rows,
    source=Alias,
    source_key="address",
    address="alias",
    domain="alias_domain",
)


def index_aliases(addresses: Iterable[str]) -> None:
    """Index the aliases ``addresses`` as they are now (gone ones are forgotten)."""
    ALIAS_TARGETS.index_addresses(addresses)


def forget_domain(domain: str) -> None:
    """Forget every alias of ``domain`` (its rows were deleted in bulk)."""
    ALIAS_TARGETS.forget_domain(domain)


def index_domain(domain: str) -> None:
    """Index every alias of ``domain`` again (its rows were changed in bulk)."""
    ALIAS_TARGETS.index_domain(domain)


def reindex_all() -> int:
    """Make the index match the ``alias`` table; returns how many index rows changed (walked
    a chunk of aliases at a time: ``mailadmin.lib.derived``)."""
    return ALIAS_TARGETS.reindex_all()


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


def _on_save(sender, instance: Alias, raw: bool = False, update_fields=None, **kwargs) -> None:
    if not raw:
        ALIAS_TARGETS.on_save(instance, update_fields)


def _on_delete(sender, instance: Alias, **kwargs) -> None:
    AliasTarget.objects.filter(alias=instance.address).delete()


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    post_save.connect(_on_save, sender=Alias, dispatch_uid="mailadmin-alias-index-save")
    post_delete.connect(_on_delete, sender=Alias, dispatch_uid="mailadmin-alias-index-delete")
