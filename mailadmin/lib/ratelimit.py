"""Fixed-window counters in Django's cache, for the public forms' rate limits and throttling.

Keys are hashed, so any text (an address, a client address) can be counted. With the default
in-memory cache each process counts for itself; ``MAILADMIN_CACHE_URL`` shares the counters.

When the shared cache fails (Redis stopped, hung or unreachable), the counters do not fail the
request: this process counts in its own memory instead (still limiting, per process), logs one
warning for the outage, and tries the shared cache again after :data:`RETRY_AFTER` seconds. So a
hung Redis costs one socket timeout (settings' ``CACHES`` options) per process per
:data:`RETRY_AFTER`, not one per counter.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed

log = logging.getLogger("mailadmin.ratelimit")

#: Seconds during which a failed shared cache is left alone before it is tried again.
RETRY_AFTER = 30.0

T = TypeVar("T")

_fallback = LocMemCache("mailadmin-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
_state_lock = threading.Lock()
_retry_at = 0.0  # time.monotonic() before which the shared cache is not used
_outage = False  # a warning was logged and the shared cache has not answered since


def _key(scope: str, subject: str) -> str:
    digest = hashlib.sha256(subject.strip().lower().encode("utf-8")).hexdigest()
    return f"ratelimit:{scope}:{digest}"


def _shared_failed(exc: Exception) -> None:
    global _retry_at, _outage
    with _state_lock:
        _retry_at = time.monotonic() + RETRY_AFTER
        first = not _outage
        _outage = True
    if first:
        log.warning(
            "rate-limit cache unavailable (%s: %s): counting in this process's memory, "
            "trying the cache again every %d s",
            type(exc).__name__,
            exc,
            RETRY_AFTER,
        )


def _shared_answered() -> None:
    global _outage
    if _outage:
        with _state_lock:
            _outage = False
        log.info("rate-limit cache answers again: counting there")


def _run(operation: Callable[[BaseCache], T]) -> T:
    """``operation`` on the shared cache or, while that is failing, on this process's own."""
    if time.monotonic() >= _retry_at:
        try:
            result = operation(cache)
        except Exception as exc:  # any backend's connection or timeout error
            _shared_failed(exc)
        else:
            _shared_answered()
            return result
    return operation(_fallback)


def _forget_state(*, setting: str, **kwargs: Any) -> None:
    """A test that changes CACHES starts with a working shared cache and empty fallbacks."""
    global _retry_at, _outage
    if setting == "CACHES":
        with _state_lock:
            _retry_at, _outage = 0.0, False
        _fallback.clear()


setting_changed.connect(_forget_state, dispatch_uid="mailadmin-ratelimit")


def count(scope: str, subject: str) -> int:
    """How many hits ``subject`` has in the current window of ``scope``."""
    key = _key(scope, subject)
    return int(_run(lambda store: store.get(key, 0)))


def is_limited(scope: str, subject: str, limit: int) -> bool:
    """Whether ``subject`` has used up its ``limit`` in the current window."""
    return count(scope, subject) >= limit


def hit(scope: str, subject: str, window: int) -> int:
    """Count one hit; the window starts with the first hit and lasts ``window`` seconds."""
    key = _key(scope, subject)

    def add_one(store: BaseCache) -> int:
        if store.add(key, 1, timeout=window):
            return 1
        try:
            return store.incr(key)
        except ValueError:  # expired between add() and incr()
            store.set(key, 1, timeout=window)
            return 1

    return _run(add_one)


def reset(scope: str, subject: str) -> None:
    key = _key(scope, subject)
    _run(lambda store: store.delete(key))
