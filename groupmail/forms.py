"""The group mail form: validation and normalisation only (the service checks again)."""

from __future__ import annotations

import mimetypes
import os
from typing import Any

from crispy_forms.helper import FormHelper
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import Manager
from domains.models import Domain
from groupmail.services import BODY_MAX, SUBJECT_MAX, Attachment, attachment_too_large
from mailadmin.lib.addresses import domain_unicode
from mailadmin.lib.storable import StorableTextMixin, storable
from mailadmin.lib.text import (
    has_control_characters,
    refuse_control_characters,
    refuse_control_characters_multiline,
)


class GroupMailForm(StorableTextMixin, forms.Form):
    domains = forms.MultipleChoiceField(
        label=_("Domains"),
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_(
            "Every active mailbox of these domains gets the message. Hold Ctrl (⌘ on a Mac)"
            " to pick several."
        ),
    )
    skip_expired = forms.BooleanField(
        label=_("Leave out expired mailboxes"),
        required=False,
        initial=True,
        help_text=_("Mailboxes (or domains) whose expiry date has passed get nothing."),
    )
    subject = forms.CharField(
        label=_("Subject"), max_length=SUBJECT_MAX, validators=[refuse_control_characters]
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=BODY_MAX,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 12}),
        validators=[refuse_control_characters_multiline],
        help_text=_("Plain text. Each recipient gets a message of their own."),
    )
    attachment = forms.FileField(label=_("Attachment"), required=False)

    def __init__(self, *args: Any, manager: Manager, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = (
            Domain.objects.visible_to(manager)
            .filter(active=True)
            .order_by("domain")
            .values_list("domain", flat=True)
        )
        self.fields["domains"].choices = [(name, domain_unicode(name)) for name in names]
        limit = settings.MAILADMIN_GROUPMAIL_ATTACHMENT_MAX
        if limit:
            self.fields["attachment"].help_text = _("Optional, at most %(size)s KB.") % {
                "size": limit // 1024
            }
        else:
            del self.fields["attachment"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_body(self) -> str:
        body = self.cleaned_data["body"].replace("\r\n", "\n").replace("\r", "\n")
        if not body.strip():
            raise ValidationError(_("Enter the text of the message."), code="required")
        return body

    def clean_attachment(self) -> Attachment | None:
        upload = self.cleaned_data.get("attachment")
        if not upload:
            return None
        if upload.size > settings.MAILADMIN_GROUPMAIL_ATTACHMENT_MAX:
            raise ValidationError(attachment_too_large(), code="too_large")
        name = os.path.basename((upload.name or "").replace("\\", "/")).strip()
        name = "".join("_" if has_control_characters(ch) else ch for ch in storable(name))
        name = name[-200:] or "attachment"
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Attachment(name=name, content_type=content_type, data=upload.read())
