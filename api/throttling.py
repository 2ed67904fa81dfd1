"""Request limits of the API, counted with the panel's rate-limit counters: in the shared
cache, or in this process's memory while that cache is down (``mailadmin.lib.ratelimit``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from mailadmin.lib import ratelimit
from mailadmin.lib.clientip import client_ip

WINDOW = 60


class ApiThrottle(BaseThrottle):
    """So many requests a minute per manager, or per client address without a login."""

    def allow_request(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is not None and user.is_authenticated:
            scope, subject, limit = "api", str(user.pk), settings.MAILADMIN_API_RATE
        else:
            scope = "api-anon"
            subject, limit = client_ip(request._request), settings.MAILADMIN_API_ANON_RATE
        return ratelimit.hit(scope, subject, WINDOW) <= limit

    def wait(self) -> float | None:
        return WINDOW
