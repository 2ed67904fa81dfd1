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
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.urls import get_script_prefix, get_urlconf, resolve, reverse
from django.urls.converters import get_converters
from django.utils.http import RFC3986_SUBDELIMS

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


#: A key that every converter here writes as it is, to find where a key goes in a URL.
_SAMPLE_KEY = "keyurlsample.example"


@lru_cache(maxsize=128)
def _key_url_parts(name: str, script_prefix: str, urlconf: str | None) -> tuple[str, str, Any]:
    """The URL of the view ``name`` before and after its one key, and the converter of the key
    (per script prefix and URLconf, as ``reverse`` depends on both)."""
    url = reverse(name, args=[_SAMPLE_KEY], urlconf=urlconf)
    before, found, after = url.partition(_SAMPLE_KEY)
    # reverse() quotes the script prefix with the path; resolve() takes the path alone
    match = resolve(url[len(_quote_path(script_prefix)) - 1 :], urlconf=urlconf)
    converters = re.findall(r"<(?:([^>:]+):)?[^>]+>", match.route)
    if not found or _SAMPLE_KEY in after or len(converters) != 1:
        raise ImproperlyConfigured(f"{name} does not take exactly one key")
    return before, after, get_converters()[converters[0] or "str"]


def key_url(name: str, key: str) -> str:
    """``reverse(name, args=[key])`` for a view whose URL holds one stored key, without the
    resolver's work each time: a list page links to every row several times."""
    before, after, converter = _key_url_parts(name, get_script_prefix(), get_urlconf())
    return before + _quote_path(converter.to_url(key)) + after


def _quote_path(text: str) -> str:
    """``text`` quoted as ``reverse()`` quotes a URL's path."""
    return quote(text, safe=RFC3986_SUBDELIMS + "/~:@")
