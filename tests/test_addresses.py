from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from mailadmin.lib.addresses import (
    domain_unicode,
    normalize_address,
    normalize_domain,
    normalize_local_part,
)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("Example.COM", "example.com"),
        (" mail.example.com. ", "mail.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("例子.测试", "xn--fsqu00a.xn--0zwm56d"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c-d.example", "a-b.c-d.example"),
    ],
)
def test_domains_are_stored_lower_case_and_as_punycode(value, stored):
    assert normalize_domain(value) == stored


@pytest.mark.parametrize(
    "value",
    [
        "",
        "localhost",
        "-bad.example",
        "bad-.example",
        "a..b",
        "exa mple.com",
        "../etc",
        "a/b.example",
        "x" * 64 + ".example",
        ".".join(["abcdefghi"] * 26),
        "example.123",
        "xn--zz.example",
        "under_score.example",
    ],
)
def test_invalid_domains_are_refused(value):
    with pytest.raises(ValidationError):
        normalize_domain(value)


def test_the_unicode_form_is_shown_for_idns():
    assert domain_unicode("xn--bcher-kva.example") == "bücher.example"
    assert domain_unicode("example.com") == "example.com"


@pytest.mark.parametrize(
    "value", ["", ".a", "a.", "a..b", "a b", "ä", "a+b", "a/b", "..", "x" * 65, "a@b"]
)
def test_invalid_local_parts_are_refused(value):
    with pytest.raises(ValidationError):
        normalize_local_part(value)


@pytest.mark.parametrize("value", ["a", "John.Doe", "first_last", "x-1", "9" * 64])
def test_valid_local_parts_are_lower_cased(value):
    assert normalize_local_part(value) == value.lower()


def test_addresses_normalise_both_parts():
    assert normalize_address(" Alice@Bücher.Example ") == "alice@xn--bcher-kva.example"
    for bad in ("alice", "@example.com", "alice@", "a@b@c"):
        with pytest.raises(ValidationError):
            normalize_address(bad)


@given(st.text(max_size=80))
def test_any_text_either_normalises_to_a_safe_local_part_or_is_refused(text):
    try:
        local = normalize_local_part(text)
    except ValidationError:
        return
    assert "/" not in local and ".." not in local and local == local.lower()
    assert 1 <= len(local) <= 64
