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
