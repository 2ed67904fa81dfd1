"""Portal forms: validation and normalisation only (SPEC §3.7, §8)."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.captcha import PanelCaptchaField
from mailadmin.lib.forms import ClearedPasswordsMixin
from mailadmin.lib.storable import StorableTextMixin
from mailadmin.lib.text import refuse_control_characters
from mailboxes.forms import recovery_answer_help


def _password(label: str, autocomplete: str = "new-password") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def _address() -> forms.CharField:
    return forms.CharField(
        label=_("Email address"),
        max_length=255,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )


class _HelperMixin:
    submit_label: Any = _("Save")

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True  # the template's form has the token
        helper.add_input(Submit("submit", self.submit_label))
        return helper


class _NewPasswordMixin:
    def _check_new_passwords(self, data: dict[str, Any]) -> None:
        if data.get("new_password1") and data.get("new_password1") != data.get("new_password2"):
            self.add_error("new_password2", _("The two passwords differ."))  # type: ignore[attr-defined]


#: Shown above the login form when the address asks for a captcha (login_needs_captcha).
CAPTCHA_NOTE = _(
    "This address has had many failed logins. Enter your password again and type the"
    " characters in the image to log in."
)


class PortalLoginForm(_HelperMixin, StorableTextMixin, forms.Form):
    """``username`` and ``password``; ``captcha`` too for an address with many failures."""

    submit_label = _("Log in")
    username = _address()
    password = _password(_("Password"), "current-password")

    def __init__(self, *args: Any, with_captcha: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.captcha_note = CAPTCHA_NOTE if with_captcha else None
        if with_captcha:
            self.fields["captcha"] = PanelCaptchaField()
        self.helper = self._helper()

    @property
    def only_the_captcha_is_wrong(self) -> bool:
        return set(self.errors) == {"captcha"}


class PortalPasswordForm(_HelperMixin, _NewPasswordMixin, StorableTextMixin, forms.Form):
    submit_label = _("Change password")
    old_password = _password(_("Current password"), "current-password")
    new_password1 = _password(_("New password"))
    new_password2 = _password(_("New password (again)"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = self._helper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._check_new_passwords(data)
        return data


class PortalRecoveryForm(_HelperMixin, StorableTextMixin, forms.Form):
    submit_label = _("Save recovery question")
    question = forms.CharField(
        label=_("Recovery question"), max_length=255, validators=[refuse_control_characters]
    )
    answer = forms.CharField(
        label=_("Recovery answer"),
        max_length=255,
        validators=[refuse_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    password = _password(_("Current password"), "current-password")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["answer"].help_text = recovery_answer_help(admin=False)
        self.helper = self._helper()


class ForgotPasswordForm(
    ClearedPasswordsMixin, _HelperMixin, _NewPasswordMixin, StorableTextMixin, forms.Form
):
    password_field_names = ("new_password1", "new_password2")
    submit_label = _("Set new password")
    username = _address()
    answer = forms.CharField(
        label=_("Answer to your recovery question"),
        max_length=255,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    new_password1 = _password(_("New password"))
    new_password2 = _password(_("New password (again)"))
    captcha = PanelCaptchaField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = self._helper()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._check_new_passwords(data)
        return data
