"""Forms for managers (SPEC §3.6, §8) and the own-password page: validation only."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Manager
from domains.models import Domain
from mailadmin.lib.addresses import domain_unicode, normalize_address
from mailadmin.lib.forms import IsoDateInput
from mailadmin.lib.storable import StorableTextMixin
from mailadmin.lib.text import refuse_control_characters

DATE_INPUT_FORMATS = ["%Y-%m-%d"]


def _helper(label: str) -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True  # the template's form has the token
    helper.add_input(Submit("save", label))
    return helper


class NewPasswordMixin:
    """``password1``/``password2``: the same twice, and Django's password validators."""

    password_required = True
    password_user: Any = None

    def _password_fields(self) -> dict[str, forms.Field]:
        return {
            "password1": forms.CharField(
                label=_("Password"),
                required=self.password_required,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
                help_text=None
                if self.password_required
                else _("Leave empty to keep the current password."),
            ),
            "password2": forms.CharField(
                label=_("Password (again)"),
                required=self.password_required,
                strip=False,
                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
            ),
        }

    def clean_password2(self) -> str:
        password1 = self.cleaned_data.get("password1", "")  # type: ignore[attr-defined]
        password2 = self.cleaned_data.get("password2", "")  # type: ignore[attr-defined]
        if password1 != password2:
            raise ValidationError(_("The two passwords differ."), code="password_mismatch")
        if password2:
            validate_password(password2, self.password_user)
        return password2


class ManagerForm(NewPasswordMixin, StorableTextMixin, forms.Form):
    """Add or edit a manager. ``instance`` given = edit (the username does not change)."""

    username = forms.CharField(
        label=_("Username"),
        max_length=255,
        help_text=_("An email address, used to log in."),
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    name = forms.CharField(
        label=_("Name"), max_length=255, required=False, validators=[refuse_control_characters]
    )
    type = forms.ChoiceField(
        label=_("Role"),
        choices=Manager.Role.choices,
        initial=Manager.Role.DOMAIN_ADMIN,
        help_text=_("A superadmin manages everything; a domain admin only their domains."),
    )
    expiredate = forms.DateField(
        label=_("Expires"),
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        widget=IsoDateInput(),
        help_text=_("YYYY-MM-DD; empty for never. After this day the manager cannot log in."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    disablepwdchange = forms.BooleanField(
        label=_("Disable password change"),
        required=False,
        help_text=_("The manager cannot change their own password (a superadmin still can)."),
    )
    domains = forms.MultipleChoiceField(
        label=_("Domains"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 12}),
        help_text=_("The domains a domain admin manages. Hold Ctrl (⌘ on a Mac) to pick several."),
    )

    def __init__(self, *args: Any, instance: Manager | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.password_required = instance is None
        self.password_user = instance
        self.fields.update(self._password_fields())
        names = Domain.objects.order_by("domain").values_list("domain", flat=True)
        self.fields["domains"].choices = [(name, domain_unicode(name)) for name in names]
        if instance is not None:
            self.fields["username"].disabled = True
            self.fields["username"].required = False
            self.fields["username"].help_text = _("A username cannot change.")
        self.order_fields(
            [
                "username",
                "name",
                "type",
                "password1",
                "password2",
                "expiredate",
                "active",
                "disablepwdchange",
                "domains",
            ]
        )
        self.helper = _helper(_("Save") if instance else _("Add manager"))

    def clean_username(self) -> str:
        if self.instance is not None:
            return self.instance.pk
        username = normalize_address(self.cleaned_data["username"])
        if Manager.objects.filter(pk=username).exists():
            raise ValidationError(_("A manager with this username already exists."))
        return username


class OwnPasswordForm(NewPasswordMixin, StorableTextMixin, forms.Form):
    """A manager changes their own password: the current one first."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args: Any, user: Manager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_user = user
        self.fields.update(self._password_fields())
        self.fields["password1"].label = _("New password")
        self.fields["password2"].label = _("New password (again)")
        self.helper = _helper(_("Change password"))

    def clean_old_password(self) -> str:
        value = self.cleaned_data["old_password"]
        if not self.password_user.check_password(value):
            raise ValidationError(_("This is not your current password."), code="wrong_password")
        return value
