from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailadmin.lib.quota import Quota, format_quota, parse_quota, quota_bytes, quota_from_mb


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("104857600S", Quota(104857600)),
        ("104857600s", Quota(104857600)),
        ("104857600", Quota(104857600)),
        ("104857600S,2000C", Quota(104857600, 2000)),
        ("104857600,2000c", Quota(104857600, 2000)),
        ("0S", Quota(0)),
        ("0", Quota(0)),
        ("", Quota(0)),
        (None, Quota(0)),
    ],
)
def test_every_stored_form_is_read(stored, expected):
    assert parse_quota(stored) == expected


@pytest.mark.parametrize("stored", ["10MB", "-5", "S", "12,C", "1e9", "100SS"])
def test_garbage_is_refused(stored):
    with pytest.raises(ValueError):
        parse_quota(stored)


def test_unreadable_legacy_quota_counts_as_zero_bytes():
    assert quota_bytes("lots") == 0
    assert quota_bytes("52428800S") == 52428800


def test_courier_form_has_the_size_suffix(settings):
    settings.MAILADMIN_QUOTA_TYPE = "courier"
    assert format_quota(Quota(104857600)) == "104857600S"
    assert format_quota(Quota(104857600, 1000)) == "104857600S,1000C"


def test_vda_form_is_bare_bytes(settings):
    settings.MAILADMIN_QUOTA_TYPE = "vda"
    assert format_quota(Quota(104857600)) == "104857600"


def test_megabytes_use_the_configured_multiplier(settings):
    settings.MAILADMIN_QUOTA_MULTIPLIER = 1_000_000
    assert parse_quota("5000000S").megabytes() == 5
    assert quota_from_mb(3) == "3000000S"


def test_changing_the_size_keeps_the_count_part():
    assert quota_from_mb(200, previous="104857600S,2000C") == "209715200S,2000C"


def test_an_unchanged_size_keeps_the_legacy_form_byte_for_byte(settings):
    settings.MAILADMIN_QUOTA_TYPE = "courier"
    assert quota_from_mb(100, previous="104857600") == "104857600"
    assert quota_from_mb(0, previous="0") == "0"


def test_a_negative_quota_is_refused():
    with pytest.raises(ValueError):
        quota_from_mb(-1)


@given(size=st.integers(min_value=0, max_value=10**15), count=st.none() | st.integers(0, 10**6))
def test_formatting_then_parsing_round_trips(size, count):
    for quota_type in ("courier", "vda"):
        assert parse_quota(format_quota(Quota(size, count), quota_type)) == Quota(size, count)
