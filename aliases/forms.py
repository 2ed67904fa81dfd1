"""Alias forms: validation and normalisation only (the rules live in aliases.services)."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from aliases.services import CATCHALL_LOCAL_PART, normalize_targets
from domains.forms import set_domain_field
from mailadmin.lib.addresses import normalize_domain, normalize_local_part
from mailadmin.lib.storable import StorableTextMixin, validate_storable

#: The ``goto`` column is a TEXT column (64 KiB).
MAX_GOTO_LENGTH = 60000

GOTO_HELP = _(
    "One target per line: an address such as name@example.com, or @example.org to forward"
    " every address of this domain to the same name at example.org."
)
INTERNAL_ONLY_HELP = _(
    "Accept mail only from senders of this server's own domains; mail from outside is"
    " refused by Postfix."
)
CATCHALL_HELP = _(
    "Enter @ to make the domain's catch-all, which receives mail for addresses that do not"
    " exist. Existing mailboxes still get their own mail: the panel's Postfix alias map"
    " answers them before the catch-all."
)


class GotoField(forms.CharField):
    """Targets, one per line (commas also separate): a clean list of stored targets."""

    widget = forms.Textarea(attrs={"rows": 5, "autocapitalize": "none", "spellcheck": "false"})

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return []
        if len(text) > MAX_GOTO_LENGTH:
            raise ValidationError(_("Too many targets for one alias."), code="max_length")
        validate_storable(text)  # before the targets are read (their checks look them up)
        return normalize_targets(text.splitlines())

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")


class DomainChoiceField(forms.ChoiceField):
    """One of the user's domains; the Unicode spelling of an IDN is accepted too."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        try:
            return normalize_domain(text) if text else text
        except ValidationError:
            return text  # not a domain name: the choice check refuses it


class AliasEditForm(StorableTextMixin, forms.Form):
    """Targets and active flag of an existing alias (the address itself does not change)."""

    goto = GotoField(label=_("Targets"), help_text=GOTO_HELP)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    internal_only = forms.BooleanField(
        label=_("Internal only"), required=False, help_text=INTERNAL_ONLY_HELP
    )

    submit_label = _("Save")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the template's form has the token
        self.helper.add_input(Submit("save", self.submit_label))


class AliasForm(AliasEditForm):
    """A new alias: ``local_part`` (``@`` for the catch-all) at one of the user's domains."""

    local_part = forms.CharField(
        label=_("Local part"),
        max_length=64,
        help_text=CATCHALL_HELP,
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    domain = DomainChoiceField(label=_("Domain"))

    field_order = ["local_part", "domain", "goto", "active", "internal_only"]
    submit_label = _("Add alias")

    def __init__(self, *args: Any, manager: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_domain_field(self, manager)

    def clean_local_part(self) -> str:
        value = self.cleaned_data["local_part"].strip()
        if value == CATCHALL_LOCAL_PART:
            return value
        return normalize_local_part(value)

    @property
    def is_catchall(self) -> bool:
        return self.cleaned_data.get("local_part") == CATCHALL_LOCAL_PART
