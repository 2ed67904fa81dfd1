"""System checks of the panel's own settings (``manage.py check``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def captcha_test_mode_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy`` refuses a server whose captcha accepts the test answer."""
    if not settings.MAILADMIN_CAPTCHA_TEST_MODE:
        return []
    return [
        Error(
            "MAILADMIN_CAPTCHA_TEST_MODE is on: the captcha of the signup and "
            "forgotten-password forms accepts the answer PASSED from anyone.",
            hint="Set MAILADMIN_CAPTCHA_TEST_MODE=0; it is meant for automated tests only.",
            id="mailadmin.E001",
        )
    ]


@register(Tags.compatibility, deploy=True)
def site_url_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``check --deploy`` warns when the mails would carry bare paths instead of links."""
    site_url = settings.MAILADMIN_SITE_URL
    if settings.DEBUG:
        return []
    if not site_url:
        return [
            Warning(
                "MAILADMIN_SITE_URL is not set: the links in the panel's mails (signup, expiry,"
                " group mail) are bare paths that no mail reader can open.",
                hint="Set MAILADMIN_SITE_URL to the panel's address, e.g."
                " https://mail.example.com.",
                id="mailadmin.W002",
            )
        ]
    if not site_url.startswith(("https://", "http://")) or "/" in site_url.split("://", 1)[1]:
        return [
            Warning(
                f"MAILADMIN_SITE_URL={site_url!r} is not an address such as"
                " https://mail.example.com (a scheme and a host, no path).",
                hint="Set it to the scheme and host the panel is reached at.",
                id="mailadmin.W003",
            )
        ]
    return []


#: Settings that are no longer read, with what replaced them.
RETIRED_SETTINGS = {
    "MAILADMIN_JOB_STALE_AFTER": (
        "a running job keeps a lease instead: MAILADMIN_JOB_LEASE (seconds, default 30)"
    ),
}


@register()
def retired_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A setting from an older release in the environment is named, with its replacement."""
    import os

    return [
        Warning(
            f"{name} is set but no longer read.",
            hint=f"Remove it; {replacement}.",
            id="mailadmin.W001",
        )
        for name, replacement in RETIRED_SETTINGS.items()
        if name in os.environ or f"{name}_FILE" in os.environ
    ]
