"""The API's throttle with the cache's Redis stopped or hung (as tests/test_cache_outage.py does
for the public forms): requests keep being answered, quickly, and still limited."""

from __future__ import annotations

import time

import pytest
import redis
from django.test import Client
from test_cache_outage import REQUEST_BOUND, cache_redis, hang, stop  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db


def timed_get(client: Client, path: str) -> tuple[int, float]:
    start = time.monotonic()
    response = client.get(path)
    return response.status_code, time.monotonic() - start


def test_api_requests_are_counted_in_the_redis(cache_redis, api_client):  # noqa: F811
    assert api_client("admin_a").get("/api/v1/domains/").status_code == 200
    assert redis.Redis(port=cache_redis.port).keys("mailadmin:*ratelimit:*")


@pytest.mark.parametrize("outage", [stop, hang])
def test_the_api_answers_quickly_and_still_limits_without_the_cache(
    cache_redis,  # noqa: F811
    api_client,
    settings,
    outage,
):
    settings.MAILADMIN_API_RATE = 3
    client = api_client("admin_a")
    outage(cache_redis)
    results = [timed_get(client, "/api/v1/domains/") for _ in range(5)]
    assert [status for status, _seconds in results] == [200, 200, 200, 429, 429]
    assert all(seconds < REQUEST_BOUND for _status, seconds in results)
    # One socket timeout at most, not one per request.
    assert sum(seconds for _status, seconds in results) < 2 * REQUEST_BOUND
