"""Domain forms: validation and normalisation only (SPEC §3.3, field names of §8).

Quotas are in MB; dates are ``YYYY-MM-DD``, empty for "never". The services re-check
everything and apply the values.
"""

from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Div, Fieldset, Layout, Submit
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from domains.models import Domain
from domains.services import SETTING_FIELDS, validate_lifetime, validate_transport
from mailadmin.lib.addresses import domain_unicode, normalize_domain
from mailadmin.lib.flags import SERVICES
from mailadmin.lib.forms import IsoDateInput
from mailadmin.lib.quota import parse_quota
from mailadmin.lib.storable import StorableTextMixin

MAX_COUNT = 2_147_483_647
MAX_QUOTA_MB = 100_000_000  # about 95 TB; the quota columns hold 16 characters


def _quota_mb(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return parse_quota(value).megabytes()
    except ValueError:
        return 0


def _columns(*names: str, size: str = "col-sm-6 col-lg-3") -> Div:
    return Div(*(Div(name, css_class=f"col-12 {size}") for name in names), css_class="row")


class DomainSettingsForm(StorableTextMixin, forms.Form):
    """The settings of a domain (every field of §8 except the name)."""

    description = forms.CharField(
        label=_("Description"),
        max_length=255,
        required=False,
        help_text=_("Empty: “virtualDomain for” and the name, as ExtMan writes it."),
    )
    maxusers = forms.IntegerField(
        label=_("Max mailboxes"),
        min_value=0,
        max_value=MAX_COUNT,
        initial=0,
        help_text=_("0 = unlimited"),
    )
    maxalias = forms.IntegerField(
        label=_("Max aliases"),
        min_value=0,
        max_value=MAX_COUNT,
        initial=0,
        help_text=_("0 = unlimited"),
    )
    maxquota = forms.IntegerField(
        label=_("Max total quota (MB)"),
        min_value=0,
        max_value=MAX_QUOTA_MB,
        initial=0,
        help_text=_("Sum of the mailbox quotas; 0 = unlimited"),
    )
    maxnetdiskquota = forms.IntegerField(
        label=_("Max total netdisk quota (MB)"),
        min_value=0,
        max_value=MAX_QUOTA_MB,
        initial=0,
        help_text=_("0 = unlimited"),
    )
    transport = forms.CharField(
        label=_("Transport"),
        max_length=255,
        required=False,
        help_text=_("Postfix transport such as smtp:[mx.example.com]:25; empty = default."),
    )
    can_signup = forms.BooleanField(label=_("Public signup allowed"), required=False)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    expiredate = forms.DateField(
        label=_("Expiry date"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=IsoDateInput(),
        help_text=_("YYYY-MM-DD; empty = never"),
    )
    default_quota = forms.IntegerField(
        label=_("Default quota (MB)"),
        min_value=0,
        max_value=MAX_QUOTA_MB,
        required=False,
        help_text=_("Quota of a new mailbox; empty or 0 = unlimited"),
    )
    default_netdiskquota = forms.IntegerField(
        label=_("Default netdisk quota (MB)"),
        min_value=0,
        max_value=MAX_QUOTA_MB,
        required=False,
    )
    default_expire = forms.CharField(
        label=_("Default lifetime"),
        max_length=12,
        required=False,
        help_text=_("30d, 6w, 12m or 1y; a new mailbox expires then. Empty = never."),
    )
    enable_webmail = forms.BooleanField(label=_("Webmail"), required=False, initial=True)
    enable_smtp = forms.BooleanField(label=_("SMTP receive"), required=False, initial=True)
    enable_smtpd = forms.BooleanField(label=_("SMTP auth (sending)"), required=False, initial=True)
    enable_pop3 = forms.BooleanField(label=_("POP3"), required=False, initial=True)
    enable_imap = forms.BooleanField(label=_("IMAP"), required=False, initial=True)
    enable_netdisk = forms.BooleanField(label=_("Netdisk"), required=False, initial=True)

    submit_label = _("Save")

    def __init__(self, *args: Any, instance: Domain | None = None, **kwargs: Any) -> None:
        if instance is not None:
            kwargs.setdefault("initial", self.initial_from(instance))
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> carries the token
        self.helper.layout = Layout(*self.layout_head(), *self.layout_settings())
        self.helper.add_input(Submit("save", self.submit_label))

    @staticmethod
    def initial_from(domain: Domain) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "description": domain.description,
            "maxusers": domain.maxusers,
            "maxalias": domain.maxalias,
            "maxquota": _quota_mb(domain.maxquota) or 0,
            "maxnetdiskquota": _quota_mb(domain.maxnetdiskquota) or 0,
            "transport": domain.transport or "",
            "can_signup": bool(domain.can_signup),
            "active": bool(domain.active),
            "expiredate": domain.expiredate,
            "default_quota": _quota_mb(domain.default_quota),
            "default_netdiskquota": _quota_mb(domain.default_netdiskquota),
            "default_expire": domain.default_expire or "",
        }
        for service, _label in SERVICES:
            initial[f"enable_{service}"] = domain.service_enabled(service)
        return initial

    def layout_head(self) -> list[Any]:
        return []

    def layout_settings(self) -> list[Any]:
        return [
            Fieldset(
                _("Domain"),
                "description",
                _columns("transport", "expiredate", size="col-md-6"),
                Div(
                    Div("active", css_class="col-auto"),
                    Div("can_signup", css_class="col-auto"),
                    css_class="row",
                ),
            ),
            Fieldset(_("Limits"), _columns("maxusers", "maxalias", "maxquota", "maxnetdiskquota")),
            Fieldset(
                _("Template for new mailboxes"),
                _columns(
                    "default_quota", "default_netdiskquota", "default_expire", size="col-md-4"
                ),
            ),
            Fieldset(
                _("Services of new mailboxes"),
                Div(
                    *(
                        Div(f"enable_{s}", css_class="col-6 col-md-4 col-lg-2")
                        for s, _l in SERVICES
                    ),
                    css_class="row",
                ),
            ),
        ]

    def clean_description(self) -> str:
        value = self.cleaned_data["description"].strip()
        if any(ord(c) < 32 for c in value):
            raise ValidationError(_("Use one line of text."))
        return value

    def clean_transport(self) -> str:
        return validate_transport(self.cleaned_data["transport"])

    def clean_default_expire(self) -> str:
        return validate_lifetime(self.cleaned_data["default_expire"])

    def values(self) -> dict[str, Any]:
        """The cleaned settings, keyed as the services take them."""
        return {name: self.cleaned_data[name] for name in SETTING_FIELDS}


class DomainAddForm(DomainSettingsForm):
    domain = forms.CharField(
        label=_("Domain name"),
        max_length=255,
        help_text=_("Such as example.com; an internationalised name is stored in its ASCII form."),
    )

    field_order = ["domain"]
    submit_label = _("Add domain")

    def layout_head(self) -> list[Any]:
        return ["domain"]

    def clean_domain(self) -> str:
        name = normalize_domain(self.cleaned_data["domain"])
        if Domain.objects.filter(pk=name).exists():
            raise ValidationError(_("The domain %(name)s already exists."), params={"name": name})
        return name


class DomainEditForm(DomainSettingsForm):
    apply_template = forms.BooleanField(
        label=_("Apply the service template to all mailboxes of this domain"),
        required=False,
        help_text=_("Otherwise the services of existing mailboxes stay as they are."),
    )

    def layout_settings(self) -> list[Any]:
        return [*super().layout_settings(), "apply_template"]


class DomainDeleteForm(StorableTextMixin, forms.Form):
    delete_all = forms.BooleanField(
        label=_("Delete with all mailboxes and aliases"),
        required=False,
        help_text=_("Their mail data is archived by a job, not deleted."),
    )
    confirm_domain = forms.CharField(
        label=_("Type the domain name to confirm"), max_length=255, required=False
    )

    def __init__(self, *args: Any, has_content: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not has_content:
            del self.fields["delete_all"]
            del self.fields["confirm_domain"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> carries the token


class DomainRenameForm(StorableTextMixin, forms.Form):
    domain = forms.CharField(label=_("New domain name"), max_length=255)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page's <form> carries the token

    def clean_domain(self) -> str:
        name = normalize_domain(self.cleaned_data["domain"])
        if Domain.objects.filter(pk=name).exists():
            raise ValidationError(_("The domain %(name)s already exists."), params={"name": name})
        return name


#: A form lists the domains a manager may use when there are at most this many; with more (a
#: superadmin of thousands of domains) it asks for the name in a text box: a list of 10,000
#: options costs a third of a second to draw and is no help to find one.
DOMAIN_LIST_LIMIT = 200


class VisibleDomainField(forms.CharField):
    """The name of one of the manager's domains, typed (its Unicode spelling for an IDN is
    accepted); a domain the manager may not use is refused as one that does not exist."""

    def __init__(self, *, actor: Any, **kwargs: Any) -> None:
        self.actor = actor
        kwargs.setdefault("max_length", 255)
        kwargs.setdefault(
            "widget",
            forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        if not text:
            return text
        try:
            name = normalize_domain(text)
        except ValidationError:
            name = ""
        if not name or not Domain.objects.visible_to(self.actor).filter(pk=name).exists():
            raise ValidationError(
                _("%(domain)s is not one of your domains.") % {"domain": text}, code="invalid"
            )
        return name


def set_domain_field(form: forms.Form, actor: Any, name: str = "domain") -> None:
    """Give ``form``'s domain field the domains ``actor`` may use: a list of them (the field
    keeps its class, label and help) when there are at most :data:`DOMAIN_LIST_LIMIT`, else a
    :class:`VisibleDomainField` (one query, at most that many rows read)."""
    names = list(
        Domain.objects.visible_to(actor)
        .order_by("domain")
        .values_list("domain", flat=True)[: DOMAIN_LIST_LIMIT + 1]
    )
    field = form.fields[name]
    if len(names) <= DOMAIN_LIST_LIMIT:
        field.choices = [(n, domain_unicode(n)) for n in names]
        return
    form.fields[name] = VisibleDomainField(
        actor=actor,
        label=field.label,
        help_text=field.help_text,
        required=field.required,
        initial=field.initial,
    )
