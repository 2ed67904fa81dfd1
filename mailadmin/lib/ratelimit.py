"""Fixed-window counters in Django's cache, for the public forms' rate limits and throttling.

Keys are hashed, so any text (an address, a client address) can be counted. With the default
in-memory cache each process counts for itself; ``MAILADMIN_CACHE_URL`` shares the counters.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def _key(scope: str, subject: str) -> str:
    digest = hashlib.sha256(subject.strip().lower().encode("utf-8")).hexdigest()
    return f"ratelimit:{scope}:{digest}"


def count(scope: str, subject: str) -> int:
    """How many hits ``subject`` has in the current window of ``scope``."""
    return int(cache.get(_key(scope, subject), 0))


def is_limited(scope: str, subject: str, limit: int) -> bool:
    """Whether ``subject`` has used up its ``limit`` in the current window."""
    return count(scope, subject) >= limit


def hit(scope: str, subject: str, window: int) -> int:
    """Count one hit; the window starts with the first hit and lasts ``window`` seconds."""
    key = _key(scope, subject)
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.set(key, 1, timeout=window)
        return 1


def reset(scope: str, subject: str) -> None:
    cache.delete(_key(scope, subject))
