"""The client address of a request, honouring a configured number of trusted proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the last trusted proxy saw when proxies are configured.

    Only ``MAILADMIN_PROXY_COUNT`` hops of X-Forwarded-For are trusted, counted from the
    right, so a client cannot choose its own address by sending the header itself.
    """
    address = request.META.get("REMOTE_ADDR", "")
    hops = settings.MAILADMIN_PROXY_COUNT
    if hops:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "0.0.0.0"  # noqa: S104 - stands for "unknown", never bound to
