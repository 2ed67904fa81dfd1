"""Links for mails: the panel's paths made absolute with MAILADMIN_SITE_URL."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    """``path`` (from ``reverse``) behind the panel's address; the bare path when the address
    is not configured (``check --deploy`` warns about that)."""
    return f"{settings.MAILADMIN_SITE_URL}{path}"
