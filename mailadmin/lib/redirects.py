"""Where a form posted from a list goes back to."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def local_next(request: HttpRequest, fallback: str) -> str:
    """The ``next`` field (of the POST, or of the query of a GET) when it is a path of this
    site, otherwise ``fallback``."""
    data = request.POST if request.method == "POST" else request.GET
    target = data.get("next", "")
    if (
        target.startswith("/")
        and target.isprintable()
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return fallback
