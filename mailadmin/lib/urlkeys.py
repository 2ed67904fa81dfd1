"""Stored keys (domain names, addresses, manager names) in URLs (SPEC §8).

Pages name their object by its natural key: ``/mailboxes/anna@example.com/``. A legacy row can
hold a key that a path segment cannot carry as it is: empty (``domain = ''``), with a slash
(``a/b@example.com``), no valid domain name (``odd_domain!.example``), or one that the lookup
of a typed URL would turn into another key (upper case, spaces at the ends, ``add``, ``.``).
Such a key is written as ``~`` followed by its UTF-8 in base64url:
``/mailboxes/~YS9iQGV4YW1wbGUuY29t/``, so that every stored key has a URL that finds exactly
it, and a row never breaks a page that links to it. Every other key keeps its readable URL,
and a typed one is normalised as before (``/domains/Bücher.Example/`` finds
``xn--bcher-kva.example``; a typed name that is no domain name finds nothing).

A segment that names a key no table can hold (text with characters outside the BMP, see
:mod:`mailadmin.lib.storable`) or a ``~`` form that does not decode does not match the URL
pattern at all: the answer is 404.

The same encoding names a domain in a query string (``?domain=~``), see :func:`domain_param`
and :func:`domain_from_param`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from urllib.parse import quote

from django.core.exceptions import ValidationError

from mailadmin.lib.addresses import normalize_domain
from mailadmin.lib.storable import is_storable

ENCODED = "~"
#: Segments that name other pages (``/mailboxes/add/``) or that browsers rewrite (``..``).
RESERVED_SEGMENTS = frozenset({"add", "bulk", "import", ".", ".."})

Normalize = Callable[[str], str]


def normalize_key(value: str) -> str:
    """The key a typed address or manager name stands for: trimmed and lower case."""
    return value.strip().lower()


def normalize_domain_key(value: str) -> str:
    """The key a typed domain name stands for: its stored (ASCII, lower-case) form. Raises
    ValueError for a name that is no valid domain name (a legacy row's has a ``~`` URL)."""
    try:
        return normalize_domain(value)
    except ValidationError as exc:
        raise ValueError("not a domain name") from exc


def _plain(key: str, normalize: Normalize) -> bool:
    if (
        key == ""
        or "/" in key
        or key.startswith(ENCODED)
        or key in RESERVED_SEGMENTS
        or not key.isprintable()
    ):
        return False
    try:
        return normalize(key) == key
    except ValueError:
        return False


def encode_key(key: str, normalize: Normalize = normalize_key) -> str:
    """The URL form of a stored key: the key itself where a typed URL would find it again,
    else ``~`` and base64url."""
    if _plain(key, normalize):
        return key
    return ENCODED + base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_key(segment: str, normalize: Normalize = normalize_key) -> str:
    """The stored key a URL segment names; raises ValueError when it names none (``normalize``
    may raise ValueError for a typed segment that names nothing)."""
    if segment.startswith(ENCODED):
        data = segment[len(ENCODED) :]
        try:
            raw = base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_", validate=True)
            key = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("not an encoded key") from exc
    else:
        key = normalize(segment)
    if not is_storable(key):
        raise ValueError("no table can hold this key")
    return key


class AddressConverter:
    """``<address:...>``: a mailbox or alias address, or a manager name, as stored."""

    regex = "[^/]+"

    @staticmethod
    def normalize(value: str) -> str:
        return normalize_key(value)

    def to_python(self, value: str) -> str:
        return decode_key(value, self.normalize)

    def to_url(self, value: str) -> str:
        return encode_key(str(value), self.normalize)


class DomainConverter(AddressConverter):
    """``<domain:...>``: a domain name as stored (Unicode or upper case typed are found)."""

    @staticmethod
    def normalize(value: str) -> str:
        return normalize_domain_key(value)


def domain_param(name: str) -> str:
    """A stored domain name for a query string (``?domain=...``), URL-encoded."""
    return quote(encode_key(name, normalize_domain_key), safe="~@")


def domain_from_param(value: str) -> str | None:
    """The stored domain name a ``?domain=`` value names (None for an empty value); raises
    ValueError for one that names no storable key."""
    value = value.strip()
    if not value:
        return None
    return decode_key(value, normalize_domain_key)
