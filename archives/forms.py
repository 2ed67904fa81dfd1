"""The restore form: the new mailbox's address and password (the service checks the rest)."""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from django import forms
from django.utils.translation import gettext_lazy as _

from domains.models import Domain
from mailadmin.lib.addresses import domain_unicode, normalize_local_part
from mailadmin.lib.storable import StorableTextMixin


class RestoreForm(StorableTextMixin, forms.Form):
    local_part = forms.CharField(
        label=_("Local part"),
        max_length=64,
        help_text=_("The address must be free: the archive is restored into a new mailbox."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        ),
    )
    domain = forms.ChoiceField(label=_("Domain"))
    password1 = forms.CharField(
        label=_("Password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = Domain.objects.visible_to(actor).values_list("domain", flat=True)
        self.fields["domain"].choices = [(n, domain_unicode(n)) for n in names]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page template has its own token

    def clean_local_part(self) -> str:
        return normalize_local_part(self.cleaned_data["local_part"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data
