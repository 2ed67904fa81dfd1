"""Signup forms: validation and normalisation only (SPEC §3.7, §8 field names)."""

from __future__ import annotations

from typing import Any

from crispy_forms.bootstrap import AppendedText
from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.addresses import normalize_address, normalize_local_part
from mailadmin.lib.captcha import PanelCaptchaField
from mailadmin.lib.forms import ClearedPasswordsMixin
from mailadmin.lib.storable import StorableTextMixin
from mailadmin.lib.text import refuse_control_characters, refuse_control_characters_multiline
from mailboxes.forms import recovery_answer_help
from signup.models import SignupPolicy, SignupRequest
from signup.services import BULK_ACTIONS, MAX_REASON_LENGTH

#: The hidden field that people never see and form-filling robots fill in.
HONEYPOT_FIELD = "website"


def _password(label: str, autocomplete: str = "new-password") -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


class SignupForm(ClearedPasswordsMixin, StorableTextMixin, forms.Form):
    password_field_names = ("password1", "password2")
    local_part = forms.CharField(
        label=_("Wanted address"),
        max_length=64,
        help_text=_("The part before the @: letters a-z, digits, dot, hyphen and underscore."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    name = forms.CharField(
        label=_("Display name"),
        max_length=255,
        required=False,
        validators=[refuse_control_characters],
    )
    password1 = _password(_("Password"))
    password2 = _password(_("Password (again)"))
    question = forms.CharField(
        label=_("Recovery question"),
        max_length=255,
        required=False,
        validators=[refuse_control_characters],
        help_text=_("Asked when you forget your password."),
    )
    answer = forms.CharField(
        label=_("Recovery answer"),
        max_length=255,
        required=False,
        validators=[refuse_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    contact_email = forms.EmailField(
        label=_("Contact address"),
        max_length=254,
        required=False,
        help_text=_("Optional: where we tell you the decision."),
    )
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    captcha = PanelCaptchaField()

    def __init__(self, *args: Any, domain: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.domain = domain
        self.fields["answer"].help_text = recovery_answer_help(admin=False)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's form has the token
        self.helper.layout = Layout(
            AppendedText("local_part", escape(f"@{domain}")),
            "name",
            Fieldset(_("Password"), "password1", "password2"),
            Fieldset(_("Password recovery"), "question", "answer"),
            "contact_email",
            Div(HONEYPOT_FIELD, css_class="visually-hidden", aria_hidden="true"),
            "captcha",
        )
        self.helper.add_input(Submit("submit", _("Ask for the mailbox")))

    def clean_local_part(self) -> str:
        return normalize_local_part(self.cleaned_data["local_part"])

    def clean_contact_email(self) -> str:
        value = self.cleaned_data["contact_email"]
        return normalize_address(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data

    @property
    def is_robot(self) -> bool:
        """The honeypot was filled in (checked before anything else)."""
        return bool(self.data.get(HONEYPOT_FIELD, "").strip())


class PolicyForm(StorableTextMixin, forms.Form):
    approval = forms.ChoiceField(label=_("Signup approval"), choices=SignupPolicy.Approval.choices)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's form has the token
        self.helper.add_input(Submit("save", _("Save policy"), css_class="btn-sm"))


class RejectForm(StorableTextMixin, forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=MAX_REASON_LENGTH,
        required=False,
        help_text=_("Sent to the applicant if they gave a contact address."),
        validators=[refuse_control_characters_multiline],
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's form has the token
        self.helper.add_input(Submit("reject", _("Reject"), css_class="btn-danger"))


class BulkForm(StorableTextMixin, forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("approve", _("Approve")), ("reject", _("Reject"))],
    )
    ids = forms.TypedMultipleChoiceField(label=_("Requests"), coerce=int, choices=())
    reason = forms.CharField(label=_("Reason"), max_length=MAX_REASON_LENGTH, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Any id is accepted here; the service answers for the ones the manager may not see.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(v, v) for v in raw]

    def clean_ids(self) -> list[int]:
        ids = self.cleaned_data["ids"]
        if any(i <= 0 for i in ids):
            raise forms.ValidationError(_("Select requests from the list."))
        return ids

    def clean_action(self) -> str:
        action = self.cleaned_data["action"]
        if action not in BULK_ACTIONS:
            raise forms.ValidationError(_("Choose an action."))
        return action


STATE_FILTER_CHOICES = [("", _("All states")), *SignupRequest.State.choices]
