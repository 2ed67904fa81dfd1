"""The service action form: one of the allow-listed actions, nothing else."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from mailadmin.lib.storable import StorableTextMixin
from mailstack.actions import ACTIONS

REBUILD_TABLES = "postfix_tables"


class ServiceActionForm(StorableTextMixin, forms.Form):
    action = forms.ChoiceField(
        label=_("Action"),
        choices=[
            (REBUILD_TABLES, _("Rebuild the Postfix tables")),
            *[(name, label) for name, (label, _builder) in ACTIONS.items()],
        ],
    )
