"""The message trace's search form (validation and normalisation only)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from activity.selectors import TraceQuery
from mailadmin.lib.storable import StorableTextMixin

QUEUE_ID = re.compile(r"^[0-9A-Za-z]{5,20}$")


class TraceForm(StorableTextMixin, forms.Form):
    address = forms.CharField(
        label=_("Sender or recipient"),
        required=False,
        max_length=255,
        help_text=_("An address (anna@example.com) or a domain (example.com)."),
    )
    queue_id = forms.CharField(label=_("Queue id"), required=False, max_length=20)
    message_id = forms.CharField(label=_("Message-ID"), required=False, max_length=255)
    since = forms.DateTimeField(
        label=pgettext_lazy("start of a time window", "From"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    until = forms.DateTimeField(
        label=_("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    def clean_address(self) -> str:
        value = self.cleaned_data["address"].strip().lower()
        if value.startswith("<") and value.endswith(">"):
            value = value[1:-1]
        if " " in value or value.lstrip("@").count("@") > 1:
            raise forms.ValidationError(_("Enter one address or one domain."))
        return value

    def clean_queue_id(self) -> str:
        value = self.cleaned_data["queue_id"].strip()
        if value and not QUEUE_ID.match(value):
            raise forms.ValidationError(_("A queue id is 5 to 20 letters and digits."))
        return value

    def clean_message_id(self) -> str:
        value = self.cleaned_data["message_id"].strip()
        if value.startswith("<") and value.endswith(">"):
            value = value[1:-1]
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since >= until:
            self.add_error("until", _("The end of the window must be after its start."))
        return data

    def query(self) -> TraceQuery:
        data = self.cleaned_data
        return TraceQuery(
            address=data.get("address", ""),
            queue_id=data.get("queue_id", ""),
            message_id=data.get("message_id", ""),
            since=data.get("since"),
            until=data.get("until"),
        )
