from __future__ import annotations

import datetime

import pytest

from mailadmin.lib.dates import add_lifetime, is_expired, parse_lifetime


def test_an_expiry_date_is_the_last_valid_day():
    day = datetime.date(2026, 5, 1)
    assert not is_expired(day, on=day)
    assert is_expired(day, on=day + datetime.timedelta(days=1))


def test_never_does_not_expire():
    assert not is_expired(None, on=datetime.date(9999, 12, 31))


@pytest.mark.parametrize(
    ("lifetime", "expected"),
    [
        ("10d", datetime.date(2026, 2, 10)),
        ("2w", datetime.date(2026, 2, 14)),
        ("1m", datetime.date(2026, 2, 28)),
        ("13M", datetime.date(2027, 2, 28)),
        ("1y", datetime.date(2027, 1, 31)),
        ("", None),
        (None, None),
    ],
)
def test_lifetimes_are_added_with_month_end_clamping(lifetime, expected):
    assert add_lifetime(datetime.date(2026, 1, 31), lifetime) == expected


@pytest.mark.parametrize("value", ["1", "y", "1x", "-1d", "1.5y", "99999d"])
def test_bad_lifetimes_are_refused(value):
    with pytest.raises(ValueError):
        parse_lifetime(value)


def test_a_huge_lifetime_stops_at_the_last_representable_day():
    assert add_lifetime(datetime.date(2026, 1, 1), "9999y") == datetime.date(9999, 12, 31)
