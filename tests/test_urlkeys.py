"""Every stored key has a URL that finds exactly it (mailadmin.lib.urlkeys).

Legacy rows hold keys no path segment carries as they are (``domain = ''``, ``a/b@x.example``,
``odd_domain!.example``); reversing a URL for them used to raise NoReverseMatch, a 500 on
every list that showed such a row.
"""

from __future__ import annotations

import pytest
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from hypothesis import given
from hypothesis import strategies as st

from mailadmin.lib.storable import is_storable
from mailadmin.lib.urlkeys import decode_key, domain_from_param, domain_param

ODD_ADDRESSES = [
    "",
    "@",
    "nobody@",
    "a/b@x.example",
    "a@b@c",
    "@odd_domain!.example",
    "Upper@shop.example",
    " space@shop.example ",
    "with space@shop.example",
    "müller@shop.example",
    "add",
    "bulk",
    "import",
    ".",
    "..",
    "~tilde@x.example",
    "100%@x.example",
    "what?@x.example",
    "hash#@x.example",
    "tab\t@x.example",
    "new\nline@x.example",
]
ODD_DOMAINS = ["", "odd_domain!.example", "Upper.Example", "a/b", "add", "..", "~x", " x.example"]
ADDRESS_ROUTES = ["mailboxes:detail", "mailboxes:edit", "aliases:edit", "accounts:manager_edit"]
DOMAIN_ROUTES = ["domains:detail", "domains:rename", "signup:policy", "signup:form"]


def round_trip(name: str, key: str) -> str:
    """The key the URL of ``name`` for ``key`` resolves to, as a browser would send the path
    (percent-encoded, decoded again by the server)."""
    from urllib.parse import unquote

    match = resolve(unquote(reverse(name, args=[key])))
    assert match.view_name == name
    (value,) = match.kwargs.values()
    return value


@pytest.mark.parametrize("name", ADDRESS_ROUTES)
@pytest.mark.parametrize("key", ODD_ADDRESSES)
def test_every_legacy_address_has_a_url_that_finds_it(name, key):
    assert round_trip(name, key) == key


@pytest.mark.parametrize("name", DOMAIN_ROUTES)
@pytest.mark.parametrize("key", ODD_DOMAINS)
def test_every_legacy_domain_name_has_a_url_that_finds_it(name, key):
    assert round_trip(name, key) == key


@given(st.text(max_size=40).filter(is_storable))
def test_any_storable_address_key_round_trips(key):
    assert round_trip("mailboxes:detail", key) == key
    assert round_trip("aliases:delete", key) == key


@given(st.text(max_size=40).filter(is_storable))
def test_any_storable_domain_key_round_trips(key):
    assert round_trip("domains:edit", key) == key
    assert domain_from_param(_unquoted(domain_param(key))) == key


def _unquoted(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


def test_valid_keys_keep_their_readable_urls():
    assert reverse("mailboxes:detail", args=["anna@example.com"]) == "/mailboxes/anna@example.com/"
    assert reverse("aliases:edit", args=["@example.com"]) == "/aliases/@example.com/edit/"
    assert reverse("domains:detail", args=["xn--bcher-kva.example"]) == (
        "/domains/xn--bcher-kva.example/"
    )
    assert domain_param("example.com") == "example.com"
    assert reverse("mailboxes:detail", args=["a/b@x.example"]).startswith("/mailboxes/~")
    assert domain_param("") == "~"


def test_typed_urls_are_normalised_as_before():
    assert resolve("/mailboxes/Anna@Example.COM/").kwargs == {"address": "anna@example.com"}
    assert resolve("/domains/Bücher.Example/").kwargs == {"domain": "xn--bcher-kva.example"}
    assert resolve("/managers/ROOT@example.com/edit/").kwargs == {"username": "root@example.com"}


@pytest.mark.parametrize(
    "path",
    [
        "/mailboxes/😀@x.example/",
        "/aliases/😀@x.example/edit/",
        "/managers/😀/edit/",
        "/domains/😀.example/",
        "/domains/not a domain/",
        "/signup/😀/",
        "/mailboxes/~not-base64!/",
        "/mailboxes/~8J-YgA/",  # 😀 encoded: no table can hold it
        "/domains/~_w/",  # not UTF-8
    ],
)
def test_a_segment_that_names_no_storable_key_matches_no_page(path):
    with pytest.raises(Resolver404):
        resolve(path)


def test_a_query_domain_that_names_nothing_is_refused():
    assert domain_from_param("") is None
    assert domain_from_param("~") == ""
    for value in ("😀.example", "not a domain", "~%%%"):
        with pytest.raises(ValueError):
            domain_from_param(value)
    with pytest.raises(ValueError):
        decode_key("~8J-YgA")


def test_reverse_never_fails_for_a_stored_key():
    for key in ODD_ADDRESSES:
        try:
            reverse("mailboxes:delete", args=[key])
        except NoReverseMatch:  # pragma: no cover - the failure this test is about
            pytest.fail(f"no URL for {key!r}")
