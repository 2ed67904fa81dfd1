"""The words of a display name, for the panel's word index (``mailboxes.names``).

A name is cut into words at anything that is not a letter or a digit, after Unicode
normalisation (NFKC: full-width letters become ASCII ones) and case folding: ``Wei Chen`` gives
``wei`` and ``chen``, ``O'Brien-Smith`` gives ``o``, ``brien`` and ``smith``. A search word
finds the names having a word that starts with it (``che`` finds ``Wei Chen``).

Chinese, Japanese and Korean names are written without spaces, so a run of such characters is
indexed by **every suffix** of the run (``陈伟明`` gives ``陈伟明``, ``伟明`` and ``明``): a
search for any part of the run is then a prefix of one of its suffixes, so ``伟``, ``伟明`` and
``陈伟`` all find ``陈伟明`` with the same index lookup as a Latin word. Names are short (the
runs are cut at :data:`MAX_RUN` characters), so this costs a handful of rows per name.
"""

from __future__ import annotations

import re
import unicodedata

#: Longest word kept in the index (the column's length).
WORD_LENGTH = 64
#: Characters of a CJK run indexed by their suffixes.
MAX_RUN = 16
#: Words kept per name at most.
MAX_WORDS = 64

_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u312f"  # Bopomofo
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
)
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"[{_CJK}]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(unicodedata.normalize("NFKC", text or "").casefold())


def name_words(name: str) -> set[str]:
    """The words under which a display name is indexed."""
    words: list[str] = []
    for token in _tokens(name):
        if _CJK_RUN.fullmatch(token):
            run = token[:MAX_RUN]
            words.extend(run[i:] for i in range(len(run)))
        else:
            words.append(token[:WORD_LENGTH])
    return set(words[:MAX_WORDS])


def search_words(text: str) -> list[str]:
    """The words of a search text; a name matches when each of them starts one of its words
    (for a CJK run: when the run occurs in the name)."""
    seen: list[str] = []
    for token in _tokens(text):
        token = token[:WORD_LENGTH]
        if token not in seen:
            seen.append(token)
    return seen[:8]


#: Names with more words than this keep no word pairs (``k`` words give ``k * (k - 1)``).
PAIR_WORDS = 12
#: The one pair of a name of more than :data:`PAIR_WORDS` words (and of no name): a search
#: checks such names word by word.
UNPAIRED = ("", "")


def name_pairs(name: str) -> set[tuple[str, str]]:
    """The ordered pairs of two different words of a display name (``Wei Chen``: ``(wei,
    chen)`` and ``(chen, wei)``), for searches of two words or more; :data:`UNPAIRED` alone
    for a name of more than :data:`PAIR_WORDS` words, whose pairs are not kept.

    Each pair is one row of ``mailboxes.models.NamePair``: a name has two search words when
    one of its words starts with the first and another one with the second (one word cannot
    start with both unless one search word starts the other, and :func:`search_terms` drops
    such a word), so a search of two words reads one range of that index instead of
    intersecting the names of two common words."""
    words = name_words(name)
    if len(words) > PAIR_WORDS:
        return {UNPAIRED}
    return {(first, second) for first in words for second in words if first != second}


def search_terms(text: str) -> list[str]:
    """The words of a search text (:func:`search_words`) that a name must start, longest
    first, without a word that starts another one (``che chen``: any word starting with
    ``chen`` starts with ``che``)."""
    words = sorted(search_words(text), key=len, reverse=True)
    return [
        word
        for i, word in enumerate(words)
        if not any(other.startswith(word) for other in words[:i])
    ]
