"""The form of a new API token (validation only; api.services makes the token)."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _

from api.models import ApiToken
from mailadmin.lib.storable import StorableTextMixin

LIFETIME_CHOICES = [
    (7, _("7 days")),
    (30, _("30 days")),
    (90, _("90 days")),
    (365, _("1 year")),
]


class TokenForm(StorableTextMixin, forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What uses it, e.g. the provisioning script of the HR system."),
    )
    scope = forms.ChoiceField(
        label=_("Scope"), choices=ApiToken.Scope.choices, initial=ApiToken.Scope.READ
    )
    lifetime = forms.TypedChoiceField(
        label=_("Expires after"), choices=LIFETIME_CHOICES, coerce=int, initial=90
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> carries the token
        self.helper.add_input(Submit("create", _("Create token")))
