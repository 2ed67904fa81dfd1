from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.captcha import PanelCaptchaField
from mailadmin.lib.storable import StorableTextMixin

#: Shown above the login form when the account asks for a captcha (accounts.throttle).
CAPTCHA_NOTE = _(
    "This account has had many failed logins. Enter your password again and type the"
    " characters in the image to log in."
)


class LoginForm(StorableTextMixin, AuthenticationForm):
    """Manager login (fields ``username`` and ``password``, and ``captcha`` when the account
    has had too many failed logins: see accounts.throttle)."""

    error_messages = {
        "invalid_login": _("Wrong username or password, or the account is disabled or expired."),
        "inactive": _("Wrong username or password, or the account is disabled or expired."),
    }

    def __init__(
        self, request: HttpRequest | None = None, *args: Any, with_captcha: bool = False, **kwargs
    ) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Username")
        self.fields["username"].widget.attrs.update(
            {"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        )
        self.fields["username"].max_length = 255
        self.fields["password"].widget.attrs["autocomplete"] = "current-password"
        self.captcha_note = CAPTCHA_NOTE if with_captcha else None
        if with_captcha:
            self.fields["captcha"] = PanelCaptchaField()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's form has the token
        self.helper.add_input(Submit("login", _("Log in"), css_class="w-100"))

    @property
    def captcha_refused(self) -> bool:
        """The account asked for a captcha and it was not answered right."""
        return "captcha" in self.fields and "captcha" in self.errors

    def clean(self) -> dict[str, Any]:
        if (
            "captcha" in self.fields
            and "captcha" not in self.cleaned_data
            and not self._client_locked_out()
        ):
            return self.cleaned_data  # no password is tried without the captcha
        # A locked-out client is told so first: django-axes refuses it before any password.
        return super().clean()

    def _client_locked_out(self) -> bool:
        if self.request is None:
            return False
        credentials = {"username": self.cleaned_data.get("username", "")}
        return not AxesProxyHandler.is_allowed(self.request, credentials)
