"""The word index of display names (``mailboxes.models.NameWord``) and its lookups.

The index is derived from the mailbox rows and kept right as every derived index is
(``mailadmin.lib.derived``: the save signal, the services' bulk paths, the migration and the
recompute).

Searches read the index and then the mailboxes themselves (``username IN (...)`` on the list's
own query), so a stale row can never show a mailbox that is gone or out of scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import IsNull

from mailadmin.lib.derived import DerivedIndex
from mailadmin.lib.words import name_pairs, name_words, search_terms
from mailboxes.models import Mailbox, NamePair, NameWord

#: Addresses read from the index per search word before the search falls back to a subquery.
LOOKUP_LIMIT = 1000
#: The first addresses in address order given to the list's query as a list, when known: a
#: list of 1,000 cost MariaDB 6 ms to parse and plan (about 6 µs an address), 100 of them 1 ms.
LISTED = 100
#: Indexed words a search word may start for a search of two words to read the pair index.
PAIR_WORDS_READ = 20


def _rows(address: str, domain: str, name: str | None) -> Iterator[tuple[str, str, str]]:
    for word in sorted(name_words(name or "")):
        yield word, address, domain


def _pair_rows(address: str, domain: str, name: str | None) -> Iterator[tuple[str, str, str, str]]:
    for first, second in sorted(name_pairs(name or "")):
        yield first, second, address, domain


NAME_WORDS = DerivedIndex(
    model=NameWord,
    fields=("word", "address", "domain"),
    columns=("name",),
    rows=_rows,
    source=Mailbox,
    source_key="username",
)

NAME_PAIRS = DerivedIndex(
    model=NamePair,
    fields=("first", "second", "address", "domain"),
    columns=("name",),
    rows=_pair_rows,
    source=Mailbox,
    source_key="username",
)


def _word_rows(word: str, domains: list[str] | None) -> QuerySet[NameWord]:
    return _scoped(NameWord.objects.filter(word__istartswith=word), domains)


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

    One query reads the addresses having every word from the index, at most
    :data:`LOOKUP_LIMIT` + 1 of them: for one word a range of the (domain, word, address) or
    (word, address) index of the words; for two words or more a range of the pair index
    (:func:`_pair_lookup`), each further word checked by the (address, word) key. Up to that
    many are given to the list's query as a list, which MariaDB reads by primary key. Beyond
    it (a common surname in a big domain) each word becomes a correlated subquery on the
    (address, word) key: the list walks its own order, checks each row with index lookups and
    stops at the end of the page. The filter then carries ``at_least``, the number of
    mailboxes known to match, so that the list's bounded count is skipped (more than 1,000).

    For every domain or one domain the lookup reads the index in its (word, address) order.
    When the search's words start a single indexed word there (``tanaka`` of "Tanaka"), or a
    single pair of them, the addresses read are then the first ones in address order, and
    every mailbox before the last of them that matches is among them: the list's query takes
    the first :data:`LISTED` of them as a list and checks the words only on the rows after
    the last one, so that the first pages in address order do not run the word lookups on
    the rows in between (20,000 rows before the 26th "Tanaka" of all the domains).
    """
    words = search_terms(text)
    if not words:
        return Q(pk__in=[])
    found = _pair_lookup(words, domains) if len(words) > 1 else None
    addresses, first = found if found is not None else _word_lookup(words, domains)
    if len(addresses) <= LOOKUP_LIMIT:
        every = sorted(addresses)
        condition = Q(username__in=every)
        if len(every) <= LISTED:  # all of them
            condition.listed = Listed(every, None)  # type: ignore[attr-defined]
        return condition
    condition = Q()
    for word in words:
        condition &= Q(_names_word(word))
    if first:
        listed = first[:LISTED]
        condition = Q(username__in=listed) | (Q(username__gt=listed[-1]) & condition)
        # the first ones in the database's address order: complete up to the last of them
        condition.listed = Listed(listed, listed[-1])  # type: ignore[attr-defined]
    condition.at_least = LOOKUP_LIMIT + 1  # type: ignore[attr-defined]
    return condition


@dataclass(frozen=True)
class Listed:
    """Addresses a search matches, known to hold its first matches, for the list to read its
    first page from them by primary key (``mailadmin.lib.listing``, ``listed``) instead of
    walking its rows to the page's end: every address the name lookup matches up to
    ``bound`` (None: every one; when given, ``addresses`` are in the database's address
    order), and ``also``, the search's other matches as a condition the database reads in
    address order (the address prefix: a range of the primary key)."""

    addresses: list[str]
    bound: str | None
    also: Q | None = None

    def candidates(self, limit: int) -> tuple[list[str], str | None]:
        """At most ``limit`` addresses holding the lookup's first ``limit`` matches, and the
        bound up to which they hold every one (compared by the database, in its collation)."""
        if self.bound is not None and len(self.addresses) > limit:
            return self.addresses[:limit], self.addresses[limit - 1]
        return self.addresses, self.bound


Found = tuple[set[str], list[str]]


def _word_lookup(words: list[str], domains: list[str] | None) -> Found:
    """The addresses whose names have every one of ``words`` (longest first), read from the
    word index: the longest word's range, each other word checked by the (address, word) key;
    with the first matching addresses in address order, when they are known."""
    rows = _word_rows(words[0], domains)
    for word in words[1:]:
        rows = rows.filter(_has_word(word, OuterRef("address")))

    def alone(key: tuple[str, ...]) -> bool:  # no other indexed word in the range
        return not _word_rows(words[0], domains).filter(word__gt=key[0]).exists()

    return _read_lookup(rows, ("word",), domains, alone)


def _pair_lookup(words: list[str], domains: list[str] | None) -> Found | None:
    """The addresses whose names have every one of ``words`` (two or more, longest first),
    read from the pair index: the indexed words that one search word starts (at most
    :data:`PAIR_WORDS_READ` of them: :func:`_indexed_words`), each a range
    of the pairs whose second word starts the other one; further words checked by the
    (address, word) key. None when neither of the two longest words starts few enough indexed
    words."""
    one, other = words[0], words[1]
    firsts = _indexed_words(one)
    if len(firsts) > PAIR_WORDS_READ:  # the other word may start fewer
        one, other = other, one
        firsts = _indexed_words(one)
        if len(firsts) > PAIR_WORDS_READ:
            return None
    # Names not paired (UNPAIRED: too many words) are checked word by word, in the same read.
    unpaired = Q(first="", second="")
    for word in words:
        unpaired &= Q(_has_word(word, OuterRef("address")))
    rows = NamePair.objects.filter(Q(first__in=firsts, second__istartswith=other) | unpaired)
    rows = _scoped(rows, domains)
    for word in words[2:]:
        rows = rows.filter(_has_word(word, OuterRef("address")))

    def alone(key: tuple[str, ...]) -> bool:  # a pair of words (not an unpaired name), no other
        return len(firsts) == 1 and bool(key[0]) and not rows.filter(second__gt=key[1]).exists()

    return _read_lookup(rows, ("first", "second"), domains, alone)


def _read_lookup(
    rows: QuerySet,
    keys: tuple[str, ...],
    domains: list[str] | None,
    alone: Callable[[tuple[str, ...]], bool],
) -> Found:
    """Up to :data:`LOOKUP_LIMIT` + 1 addresses of a lookup's index ``rows``, read in the
    index's (``keys``, address) order for every domain or one domain; when more than that
    match and they all have one key that ``alone(key)`` says is the only one in the lookup's
    range, those addresses are the first matches in address order (the ``first`` of
    :func:`name_match`). Several keys may give an address twice: then the distinct addresses
    are counted."""
    if domains is not None and len(domains) != 1:
        return _distinct(rows), []
    found = list(rows.order_by(*keys, "address").values_list(*keys, "address")[: LOOKUP_LIMIT + 1])
    addresses = {row[-1] for row in found}
    if len(found) <= LOOKUP_LIMIT:
        return addresses, []
    if len({row[:-1] for row in found}) == 1 and alone(found[0][:-1]):
        return addresses, [row[-1] for row in found]
    if len(addresses) <= LOOKUP_LIMIT:
        addresses = _distinct(rows)
    return addresses, []


def _indexed_words(word: str) -> list[str]:
    """The indexed words starting with ``word``, at most :data:`PAIR_WORDS_READ` + 1: a loose
    scan of the (word, address) index, one entry per word. In every domain, a superset of a
    list's own (a word of no name there is an empty range of the pair index): within a
    domain MariaDB reads every entry of the (domain, word, address) range instead (31 ms for
    "chen" in 1,000,000 mailboxes, against 0.2 ms)."""
    rows = NameWord.objects.filter(word__istartswith=word).order_by("word")
    return list(rows.values_list("word", flat=True).distinct()[: PAIR_WORDS_READ + 1])


def _scoped(rows: QuerySet, domains: list[str] | None) -> QuerySet:
    return rows if domains is None else rows.filter(domain__in=domains)


def _distinct(rows: QuerySet) -> set[str]:
    """Up to :data:`LOOKUP_LIMIT` + 1 addresses of the lookup's ``rows``."""
    return set(rows.order_by().values_list("address", flat=True).distinct()[: LOOKUP_LIMIT + 1])
