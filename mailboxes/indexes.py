"""Every panel table derived from the mailbox rows (``mailadmin.lib.derived``), kept together: the
services and the recompute call these, which call each index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mailadmin.lib.derived import DerivedIndex
from mailboxes.models import Mailbox
from mailboxes.names import NAME_PAIRS, NAME_WORDS
from mailboxes.sortkeys import SORT_KEYS

INDEXES: tuple[DerivedIndex, ...] = (NAME_WORDS, NAME_PAIRS, SORT_KEYS)


def forget_addresses(addresses: Iterable[str]) -> None:
    """Forget mailboxes deleted or renamed (the old address)."""
    addresses = list(addresses)
    for index in INDEXES:
        index.forget_addresses(addresses)


def index_new(mailboxes: Iterable[Mailbox]) -> None:
    """Index mailboxes just inserted in bulk (no save signal)."""
    mailboxes = list(mailboxes)
    for index in INDEXES:
        index.index_new(mailboxes)


def rename_domain(old: str, new: str) -> None:
    """Follow a domain renamed in bulk."""
    for index in INDEXES:
        index.rename_domain(old, new)


def forget_domain(domain: str) -> None:
    """Forget every mailbox of a domain deleted in bulk."""
    for index in INDEXES:
        index.forget_domain(domain)


def reindex_all() -> dict[str, int]:
    """Correct every derived table from the mailbox table: rows changed, by table."""
    return {index.model._meta.db_table: index.reindex_all() for index in INDEXES}


def _on_save(
    sender: Any, instance: Mailbox, raw: bool = False, update_fields: Any = None, **kwargs: Any
) -> None:
    if raw:
        return
    for index in INDEXES:
        index.on_save(instance, update_fields)


def connect() -> None:
    from django.db.models.signals import post_save

    post_save.connect(_on_save, sender=Mailbox, dispatch_uid="mailadmin-mailbox-indexes-save")
