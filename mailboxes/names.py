"""The word index of display names (``mailboxes.models.NameWord``) and its lookups.

The index is derived from the mailbox rows and kept right as every derived index is
(``mailadmin.lib.derived``: the save signal, the services' bulk paths, the migration and the
recompute).

Searches read the index and then the mailboxes themselves (``username IN (...)`` on the list's
own query), so a stale row can never show a mailbox that is gone or out of scope.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull

from mailadmin.lib.derived import DerivedIndex
from mailadmin.lib.words import name_words, search_words
from mailboxes.models import Mailbox, NameWord

#: Addresses read from the index per search word before the search falls back to a subquery.
LOOKUP_LIMIT = 1000


def _rows(address: str, domain: str, name: str | None) -> Iterator[tuple[str, str, str]]:
    for word in sorted(name_words(name or "")):
        yield word, address, domain


NAME_WORDS = DerivedIndex(
    model=NameWord,
    fields=("word", "address", "domain"),
    columns=("name",),
    rows=_rows,
    source=Mailbox,
    source_key="username",
)


def _word_rows(word: str, domains: list[str] | None) -> QuerySet[NameWord]:
    rows = NameWord.objects.filter(word__istartswith=word)
    return rows if domains is None else rows.filter(domain__in=domains)


def _has_word(word: str, address: Any) -> Exists:
    return Exists(NameWord.objects.filter(address=address, word__istartswith=word))


def _names_word(word: str) -> IsNull:
    """The list's mailbox has a name word starting with ``word``: a scalar subquery on the
    (address, word) key, which MariaDB runs for each row it walks. As an ``EXISTS`` MariaDB
    may instead materialise the word's entries of every domain first (110 ms for a CJK
    character at 1,000,000 mailboxes, against 4 ms)."""
    rows = NameWord.objects.filter(address=OuterRef("username"), word__istartswith=word)
    return IsNull(Subquery(rows.values("pk")[:1]), False)


def name_match(text: str, domains: list[str] | None = None) -> Q:
    """A filter on mailboxes whose display name has a word starting with each word of
    ``text`` (see ``mailadmin.lib.words``), through the index, within ``domains`` when given.

    One query reads the addresses having every word from the index (the longest word's range
    of the (domain, word, address) or (word, address) index, each other word checked by the
    (address, word) key), at most :data:`LOOKUP_LIMIT` + 1 of them. Up to that many are given
    to the list's query as a list, which MariaDB reads by primary key. Beyond it (a common
    surname in a big domain) each word becomes a correlated subquery on the (address, word)
    key: the list walks its own order, checks each row with index lookups and stops at the end
    of the page. The filter then carries ``at_least``, the number of mailboxes known to match,
    so that the list's bounded count is skipped (more than 1,000).

    For every domain or one domain the lookup reads the index in its (word, address) order.
    When that word of the search is the start of a single indexed word there (``tanaka``
    of "Tanaka"), the addresses read are then the first ones in address order, and every
    mailbox before the last of them that matches is among them: the list's query takes them as
    a list and checks only the rows after the last one, so that a page in address order does
    not walk the rows in between (20,000 rows before the 26th "Tanaka" of all the domains).
    """
    words = search_words(text)
    if not words:
        return Q(pk__in=[])
    # The longest word first: a longer prefix starts fewer indexed words, so the lookup reads
    # fewer entries of the index and checks the other words on fewer of them.
    words = sorted(words, key=len, reverse=True)
    rows = _word_rows(words[0], domains)
    for word in words[1:]:
        rows = rows.filter(_has_word(word, OuterRef("address")))
    first: list[str] = []  # the first matching addresses in address order, when known
    if domains is None or len(domains) == 1:
        found = list(
            rows.order_by("word", "address").values_list("word", "address")[: LOOKUP_LIMIT + 1]
        )
        addresses = {address for _word, address in found}
        if len(found) > LOOKUP_LIMIT:
            indexed = {word for word, _address in found}
            if (
                len(indexed) == 1
                and not _word_rows(words[0], domains).filter(word__gt=found[0][0]).exists()
            ):
                first = [address for _word, address in found]
            elif len(addresses) <= LOOKUP_LIMIT:  # several words: count the addresses
                addresses = _distinct(rows)
    else:
        addresses = _distinct(rows)
    if len(addresses) <= LOOKUP_LIMIT:
        return Q(username__in=sorted(addresses))
    condition = Q()
    for word in words:
        condition &= Q(_names_word(word))
    if first:
        condition = Q(username__in=first) | (Q(username__gt=first[-1]) & condition)
    condition.at_least = LOOKUP_LIMIT + 1  # type: ignore[attr-defined]
    return condition


def _distinct(rows: QuerySet[NameWord]) -> set[str]:
    """Up to :data:`LOOKUP_LIMIT` + 1 addresses of the lookup's ``rows``."""
    return set(rows.order_by().values_list("address", flat=True).distinct()[: LOOKUP_LIMIT + 1])
