"""Expiry dates and the ``<n>d|w|m|y`` lifetimes of the domain template."""

from __future__ import annotations

import calendar
import datetime
import re

from django.utils import timezone

_LIFETIME_RE = re.compile(r"^\s*(?P<n>\d{1,4})\s*(?P<unit>[dwmyDWMY])\s*$")


def today() -> datetime.date:
    return timezone.localdate()


def is_expired(expiredate: datetime.date | None, on: datetime.date | None = None) -> bool:
    """An expiry date is the last valid day; ``None`` (0000-00-00) never expires."""
    return expiredate is not None and expiredate < (on or today())


def parse_lifetime(value: str | None) -> tuple[int, str] | None:
    """``"1y"`` -> ``(1, "y")``; empty -> None; raises ValueError for anything else."""
    if value is None or value.strip() == "":
        return None
    match = _LIFETIME_RE.match(value)
    if not match:
        raise ValueError(f"not a lifetime: {value!r} (expected <n>d, <n>w, <n>m or <n>y)")
    return int(match.group("n")), match.group("unit").lower()


def add_lifetime(start: datetime.date, value: str | None) -> datetime.date | None:
    """The date ``value`` after ``start`` (month arithmetic clamps to the month's last day)."""
    lifetime = parse_lifetime(value)
    if lifetime is None:
        return None
    n, unit = lifetime
    if unit == "d":
        return start + datetime.timedelta(days=n)
    if unit == "w":
        return start + datetime.timedelta(weeks=n)
    months = n * (12 if unit == "y" else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    if year > 9999:
        return datetime.date(9999, 12, 31)
    day = min(start.day, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day)
