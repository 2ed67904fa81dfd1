"""Upkeep and lookups of the word index of display names (``mailboxes.models.NameWord``).

Kept right in three ways, as the reverse alias index is (``aliases.index``):

- every save of a ``Mailbox`` row through the ORM re-indexes that mailbox when its name or
  address may have changed (a signal, connected in ``MailboxesConfig.ready``); the services
  forget a deleted or renamed mailbox (:func:`forget_addresses`) and follow their bulk paths
  (an import: :func:`index_addresses`; a domain renamed or deleted: :func:`index_domain`,
  :func:`forget_domain`). No delete signal: it would make Django load every row of a
  domain deleted in bulk.
- ``migrate`` fills it from the existing rows;
- :func:`reindex_all` (run with the usage recompute: ``manage.py recompute_usage`` and the
  periodic task) corrects what something else wrote into the ``mailbox`` table (ExtMan, SQL).

Searches read the index and then the mailboxes themselves (``username IN (...)`` on the list's
own query), so a stale row can never show a mailbox that is gone or out of scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat, Left, Length

from mailadmin.lib.words import name_words, search_words
from mailboxes.models import Mailbox, NameWord

BATCH = 1000
#: Addresses read from the index per search word before the search falls back to a subquery.
LOOKUP_LIMIT = 1000


def _rows(address: str, domain: str | None, name: str | None) -> Iterator[tuple[str, str, str]]:
    for word in sorted(name_words(name or "")):
        yield word, address, domain or ""


def _insert(rows: Iterable[tuple[str, str, str]]) -> int:
    objects = [NameWord(word=w, address=a, domain=d) for w, a, d in rows]
    # ignore_conflicts: two words a case-insensitive collation holds equal (ß / ss) are one.
    NameWord.objects.bulk_create(objects, batch_size=BATCH, ignore_conflicts=True)
    return len(objects)


@transaction.atomic
def index_addresses(addresses: Iterable[str]) -> None:
    """Index the mailboxes ``addresses`` as they are now (gone ones are forgotten)."""
    addresses = list(addresses)
    for start in range(0, len(addresses), BATCH):
        batch = addresses[start : start + BATCH]
        NameWord.objects.filter(address__in=batch).delete()
        _insert(
            row
            for address, domain, name in Mailbox.objects.filter(pk__in=batch).values_list(
                "username", "domain", "name"
            )
            for row in _rows(address, domain, name)
        )


def index_new(mailboxes: Iterable[Mailbox]) -> None:
    """Index mailboxes just inserted in bulk (an import), from the objects themselves: one
    DELETE of leftovers under their addresses and the INSERTs, in the caller's transaction."""
    mailboxes = list(mailboxes)
    forget_addresses(m.username for m in mailboxes)
    _insert(row for m in mailboxes for row in _rows(m.username, m.domain_id, m.name))


def rename_domain(old: str, new: str) -> None:
    """Follow a domain renamed in bulk (``local@old`` became ``local@new``) in one UPDATE. A
    legacy row whose address did not end in ``@old`` is left to :func:`reindex_all` (the
    search never shows a mailbox through a stale row: it reads the mailbox rows)."""
    suffix = f"@{old}"
    NameWord.objects.filter(domain=old, address__endswith=suffix).update(
        domain=new,
        address=Concat(Left("address", Length("address") - len(suffix)), Value(f"@{new}")),
    )


def forget_addresses(addresses: Iterable[str]) -> None:
    """Forget mailboxes deleted or renamed (the old address)."""
    addresses = list(addresses)
    for start in range(0, len(addresses), BATCH):
        NameWord.objects.filter(address__in=addresses[start : start + BATCH]).delete()


def forget_domain(domain: str) -> None:
    """Forget every mailbox of ``domain`` (its rows were deleted or moved in bulk)."""
    NameWord.objects.filter(domain=domain).delete()


@transaction.atomic
def index_domain(domain: str) -> None:
    """Index every mailbox of ``domain`` again (its rows were changed in bulk)."""
    forget_domain(domain)
    _insert(
        row
        for address, name in Mailbox.objects.filter(domain_id=domain)
        .values_list("username", "name")
        .iterator(chunk_size=BATCH)
        for row in _rows(address, domain, name)
    )


def reindex_all() -> int:
    """Make the index match the ``mailbox`` table; returns how many index rows changed. Reads
    both in full (a few seconds at 100,000 mailboxes) and writes only the differences."""
    wanted = {
        row
        for address, domain, name in Mailbox.objects.values_list("username", "domain", "name")
        .order_by()
        .iterator(chunk_size=BATCH)
        for row in _rows(address, domain, name)
    }
    stored: set[tuple[str, str, str]] = set()
    stale: list[int] = []
    for pk, *row in NameWord.objects.values_list("pk", "word", "address", "domain").iterator(
        chunk_size=BATCH
    ):
        key = tuple(row)
        if key in wanted and key not in stored:
            stored.add(key)  # type: ignore[arg-type]
        else:
            stale.append(pk)
    missing = [row for row in wanted if row not in stored]
    with transaction.atomic():
        for start in range(0, len(stale), BATCH):
            NameWord.objects.filter(pk__in=stale[start : start + BATCH]).delete()
        _insert(missing)
    return len(stale) + len(missing)


def _word_rows(word: str, domains: list[str] | None) -> QuerySet[NameWord]:
    rows = NameWord.objects.filter(word__istartswith=word)
    return rows if domains is None else rows.filter(domain__in=domains)


def _has_word(word: str, address: Any) -> Exists:
    return Exists(NameWord.objects.filter(address=address, word__istartswith=word))


def name_match(text: str, domains: list[str] | None = None) -> Q:
    """A filter on mailboxes whose display name has a word starting with each word of
    ``text`` (see ``mailadmin.lib.words``), through the index, within ``domains`` when given.

    One query reads the addresses having every word from the index (the first word's range
    of the (domain, word) or (word) index, each other word checked by the (address, word)
    key), at most :data:`LOOKUP_LIMIT` + 1 of them. Up to that many are given to the list's
    query as a list, which MariaDB reads by primary key. Beyond it (a common surname in a big
    domain) each word becomes a correlated ``EXISTS`` on the (address, word) key: the list
    walks its own order, checks each row with index lookups and stops at the end of the page.
    The filter then carries ``at_least``, the number of mailboxes known to match, so that the
    list's bounded count is skipped (more than 1,000).
    """
    words = search_words(text)
    if not words:
        return Q(pk__in=[])
    rows = _word_rows(words[0], domains)
    for word in words[1:]:
        rows = rows.filter(_has_word(word, OuterRef("address")))
    addresses = set(
        rows.order_by().values_list("address", flat=True).distinct()[: LOOKUP_LIMIT + 1]
    )
    if len(addresses) <= LOOKUP_LIMIT:
        return Q(username__in=sorted(addresses))
    condition = Q()
    for word in words:
        condition &= Q(_has_word(word, OuterRef("username")))
    condition.at_least = LOOKUP_LIMIT + 1  # type: ignore[attr-defined]
    return condition


def _on_save(sender, instance: Mailbox, raw: bool = False, update_fields=None, **kwargs) -> None:
    if raw:
        return
    if update_fields is not None and not {"name", "username", "domain"} & set(update_fields):
        return
    index_addresses([instance.username])


def connect() -> None:
    from django.db.models.signals import post_save

    post_save.connect(_on_save, sender=Mailbox, dispatch_uid="mailadmin-name-index-save")
