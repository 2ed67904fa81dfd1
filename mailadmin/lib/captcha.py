"""The captcha of the public forms (django-simple-captcha), with the panel's test mode.

``MAILADMIN_CAPTCHA_TEST_MODE`` plays the part of the library's ``CAPTCHA_TEST_MODE``: when it
is on, the answer ``PASSED`` (any case) is accepted. It is read at each validation, so tests
can switch it; the library's own switch, read once at import, stays off.
"""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField, CaptchaTextInput
from captcha.models import CaptchaStore
from django.conf import settings
from django.utils.translation import gettext_lazy as _

TEST_MODE_ANSWER = "passed"


class PanelCaptchaInput(CaptchaTextInput):
    """The image above a Bootstrap text input (no script: a new image comes with a reload)."""

    template_name = "mailadmin/captcha_widget.html"  # the form renderer reads app templates only

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"class": "form-control", "autocomplete": "off", **(attrs or {})},
        )


class PanelCaptchaField(CaptchaField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", _("Characters in the image"))
        kwargs.setdefault("help_text", _("Type the characters you see; not case-sensitive."))
        kwargs.setdefault("error_messages", {"invalid": _("The characters do not match.")})
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
