"""The captcha of the public forms (django-simple-captcha), with the panel's test mode.

``MAILADMIN_CAPTCHA_TEST_MODE`` plays the part of the library's ``CAPTCHA_TEST_MODE``: when it
is on, the answer ``PASSED`` (any case) is accepted. It is read at each validation, so tests
can switch it; the library's own switch, read once at import, stays off.
"""

from __future__ import annotations

import secrets
from typing import Any

from captcha.fields import CaptchaField, CaptchaTextInput
from captcha.models import CaptchaStore
from django.conf import settings
from django.utils.translation import gettext_lazy as _

TEST_MODE_ANSWER = "passed"
#: Characters of a challenge: capitals and digits that no other one can pass for (no 0/O/D/Q,
#: 1/I/L, 2/Z, 5/S, 6/G, 8/B).
READABLE_CHARACTERS = "ACEFHJKMNPRTUVWXY347"


def readable_challenge() -> tuple[str, str]:
    """CAPTCHA_CHALLENGE_FUNCT: ``CAPTCHA_LENGTH`` characters of :data:`READABLE_CHARACTERS`;
    the image shows them as capitals, the answer is compared in lower case."""
    text = "".join(secrets.choice(READABLE_CHARACTERS) for _ in range(settings.CAPTCHA_LENGTH))
    return text, text.lower()


class PanelCaptchaInput(CaptchaTextInput):
    """The image, a "new image" link, the spoken version (when flite is installed) and a
    Bootstrap text input. The link asks ``/captcha/refresh/`` for a new challenge with
    static/js/mailadmin.js; without script it reloads the page, which also gives a new one."""

    template_name = "mailadmin/captcha_widget.html"  # the form renderer reads app templates only

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"class": "form-control", "autocomplete": "off", **(attrs or {})},
        )

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["refresh_url"] = self.refresh_url()
        return context


class PanelCaptchaField(CaptchaField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Characters in the image"))
        kwargs.setdefault("help_text", _("Type the characters you see; not case-sensitive."))
        kwargs.setdefault(
            "error_messages",
            {
                "invalid": _("The characters do not match. Type those of the new image."),
                "required": _("Type the characters of the image."),
                "incomplete": _("Type the characters of the image."),
            },
        )
        kwargs.setdefault("widget", PanelCaptchaInput())
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        if (
            settings.MAILADMIN_CAPTCHA_TEST_MODE
            and isinstance(value, list | tuple)
            and len(value) == 2
            and (value[1] or "").strip().lower() == TEST_MODE_ANSWER
        ):
            CaptchaStore.objects.filter(hashkey=value[0] or "").delete()
            return value
        return super().clean(value)
