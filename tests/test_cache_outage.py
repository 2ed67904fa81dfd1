"""The public forms with the cache's Redis stopped or hung (SIGSTOP): they keep answering,
quickly, and keep limiting (mailadmin.lib.ratelimit falls back to the process's memory).

A real private Redis (tests.workers.PrivateRedis) plays the cache, configured exactly as
settings.py configures MAILADMIN_CACHE_URL.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.test import Client

from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib import ratelimit
from mailadmin.settings import cache_config
from mailboxes.credentials import hash_recovery_answer
from mailboxes.models import Mailbox
from tests.workers import PrivateRedis

NEW_PASSWORD = "Blue-Lantern-42"
#: Most one request may take with the cache down (the settings' socket timeout is 0.5 s).
REQUEST_BOUND = 1.5


@pytest.fixture
def cache_redis(tmp_path, settings, personas) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "cache-redis")
    server.start()
    settings.CACHES = {"default": cache_config(server.url)}
    Domain.objects.filter(pk="a.test").update(can_signup=True)
    Mailbox.objects.filter(pk="user@a.test").update(
        question="Pet?", answer=hash_recovery_answer("Fluffy")
    )
    yield server
    for timer in _resume_timers:
        timer.cancel()
    _resume_timers.clear()
    stop(server)


_resume_timers: list[threading.Timer] = []


def stop(server: PrivateRedis) -> None:
    """Kill the Redis (stopped or not) and wait for its end."""
    if server.process and server.process.poll() is None:
        server.process.kill()
        server.process.wait(10)


def hang(server: PrivateRedis, resume_after: float = 20.0) -> None:
    """SIGSTOP the Redis: it accepts connections (the kernel does) and never answers. It is
    resumed after ``resume_after`` seconds so that a client without timeouts ends at last."""
    os.kill(server.process.pid, signal.SIGSTOP)
    timer = threading.Timer(resume_after, os.kill, (server.process.pid, signal.SIGCONT))
    timer.daemon = True
    timer.start()
    _resume_timers.append(timer)


def timed(call) -> tuple[object, float]:
    start = time.monotonic()
    response = call()
    return response, time.monotonic() - start


def portal_login(password: str = PASSWORD, ip: str = "192.0.2.1"):
    client = Client(raise_request_exception=False)
    return client.post(
        "/account/login/", {"username": "user@a.test", "password": password}, REMOTE_ADDR=ip
    )


def signup_get():
    return Client(raise_request_exception=False).get("/signup/a.test/")


def signup_post(local_part: str = "alice"):
    return Client(raise_request_exception=False).post(
        "/signup/a.test/",
        {
            "local_part": local_part,
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
        REMOTE_ADDR="192.0.2.30",
    )


def forgot(answer: str = "fluffy"):
    return Client(raise_request_exception=False).post(
        "/account/forgot/",
        {
            "username": "user@a.test",
            "answer": answer,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
        REMOTE_ADDR="192.0.2.40",
    )


def exercise_every_form() -> list[tuple[str, int, float]]:
    """(what, status, seconds) of each public form's request."""
    results = []
    for what, call in [
        ("portal login, wrong password", lambda: portal_login("wrong-one")),
        ("portal login", portal_login),
        ("signup form", signup_get),
        ("signup submission", signup_post),
        ("forgotten password, wrong answer", lambda: forgot("rex")),
        ("forgotten password", forgot),
    ]:
        response, seconds = timed(call)
        results.append((what, response.status_code, seconds))
    return results


def assert_answered_quickly(results: list[tuple[str, int, float]]) -> None:
    for what, status, seconds in results:
        assert status in (200, 302), f"{what}: HTTP {status}"
        assert seconds < REQUEST_BOUND, f"{what}: {seconds:.2f} s"
    # One timeout for the first request at most, not one per counter or per request.
    assert sum(seconds for _what, _status, seconds in results) < 2 * REQUEST_BOUND


def test_the_counters_are_kept_in_the_redis_while_it_runs(cache_redis):
    assert portal_login("wrong-one").status_code == 200
    keys = redis.Redis(port=cache_redis.port).keys("mailadmin:*ratelimit:*")
    assert keys, "the failure was not counted in the cache's Redis"


def test_a_stopped_redis_neither_breaks_nor_slows_the_forms(cache_redis, caplog):
    stop(cache_redis)
    with caplog.at_level(logging.WARNING, logger="mailadmin.ratelimit"):
        results = exercise_every_form()
    assert_answered_quickly(results)
    statuses = [status for _what, status, _seconds in results]
    assert statuses == [200, 302, 200, 200, 200, 302]
    assert caplog.text.count("rate-limit cache unavailable") == 1


def test_a_hung_redis_neither_breaks_nor_slows_the_forms(cache_redis, caplog):
    hang(cache_redis)
    with caplog.at_level(logging.WARNING, logger="mailadmin.ratelimit"):
        results = exercise_every_form()
    assert_answered_quickly(results)
    assert caplog.text.count("rate-limit cache unavailable") == 1


def test_limits_still_hold_while_the_redis_is_down(cache_redis, settings):
    settings.MAILADMIN_SIGNUP_RATE_LIMIT = 2
    stop(cache_redis)
    assert [signup_post(f"user{n}").status_code for n in range(3)] == [200, 200, 429]


def test_the_redis_is_used_again_once_it_is_back(cache_redis, monkeypatch):
    monkeypatch.setattr(ratelimit, "RETRY_AFTER", 0.0)
    hang(cache_redis)
    assert portal_login("wrong-one").status_code == 200
    os.kill(cache_redis.process.pid, signal.SIGCONT)
    assert portal_login("wrong-one", ip="192.0.2.2").status_code == 200
    assert redis.Redis(port=cache_redis.port).keys("mailadmin:*ratelimit:*")
