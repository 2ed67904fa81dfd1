"""Mailbox forms: validation and normalisation only (SPEC §3.4, §8 field names)."""

from __future__ import annotations

import csv
import io
from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Fieldset, Layout
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from domains.forms import set_domain_field
from domains.models import Domain
from mailadmin.lib.addresses import normalize_local_part
from mailadmin.lib.flags import SERVICE_NAMES, SERVICES
from mailadmin.lib.forms import ClearedPasswordsMixin, IsoDateInput
from mailadmin.lib.storable import StorableTextMixin
from mailadmin.lib.text import refuse_control_characters
from mailboxes.bulk import BULK_ACTIONS, MAX_IMPORT_ROWS
from mailboxes.forwarding import MAX_FORWARD_TARGETS, forwarding_of, normalize_forward_targets
from mailboxes.models import Mailbox
from mailboxes.services import KEEP, quota_mb
from mailstack.services import is_internal_only

MAX_QUOTA_MB = 99_999_999
INTERNAL_ONLY_HELP = _(
    "Accept mail only from senders of this server's own domains; mail from outside is"
    " refused by Postfix."
)


def recovery_answer_help(*, admin: bool, keep: bool = False) -> str:
    """The help text of a recovery answer field, true to MAILADMIN_RECOVERY_ANSWER_FORMAT."""
    clear = settings.MAILADMIN_RECOVERY_ANSWER_FORMAT == "extmail"
    if not admin:
        if clear:
            return str(
                _("Not case-sensitive. Stored as typed: the mail administrators can read it.")
            )
        return str(_("Stored hashed; not case-sensitive."))
    if clear:
        text = _("Stored in clear text (for ExtMail webmail) and never shown here.")
    else:
        text = _("Stored hashed and never shown.")
    if keep:
        return f"{text} {_('Leave empty to keep the current answer.')}"
    return str(text)


def _local_part_field() -> forms.CharField:
    return forms.CharField(
        label=_("Local part"),
        max_length=64,
        help_text=_("The part before the @: letters a-z, digits, dot, hyphen and underscore."),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        ),
    )


def _clean_local_part(value: str) -> str:
    return normalize_local_part(value)


class MailboxForm(ClearedPasswordsMixin, StorableTextMixin, forms.Form):
    """Add (``mailbox=None``) or edit a mailbox. Superadmin-only fields are left out for
    domain admins; the service re-checks every rule anyway."""

    password_field_names = ("password1", "password2")

    local_part = _local_part_field()
    domain = forms.ChoiceField(label=_("Domain"))
    name = forms.CharField(
        label=_("Display name"),
        max_length=255,
        required=False,
        validators=[refuse_control_characters],
    )
    password1 = forms.CharField(
        label=_("Password"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        max_length=128,
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    quota = forms.IntegerField(
        label=_("Quota (MB)"),
        min_value=0,
        max_value=MAX_QUOTA_MB,
        required=False,
        help_text=_("0 = unlimited."),
    )
    netdiskquota = forms.IntegerField(
        label=_("Netdisk quota (MB)"), min_value=0, max_value=MAX_QUOTA_MB, required=False
    )
    expiredate = forms.DateField(
        label=_("Expires"),
        required=False,
        input_formats=["%Y-%m-%d"],
        widget=IsoDateInput(),
        help_text=_("YYYY-MM-DD; empty = never (follows the domain's expiry)."),
    )
    active = forms.BooleanField(label=_("Active"), required=False)
    disablepwdchange = forms.BooleanField(
        label=_("Disable password change by the user"), required=False
    )
    question = forms.CharField(
        label=_("Recovery question"),
        max_length=1000,
        required=False,
        validators=[refuse_control_characters],
    )
    answer = forms.CharField(
        label=_("Recovery answer"),
        max_length=255,
        required=False,
        validators=[refuse_control_characters],
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    mailhost = forms.ChoiceField(label=_("Storage host"), required=False)
    uidnumber = forms.IntegerField(label=_("uid"), required=False)
    gidnumber = forms.IntegerField(label=_("gid"), required=False)
    forward_to = forms.CharField(
        label=_("Forward to"),
        required=False,
        max_length=MAX_FORWARD_TARGETS * 256,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("One address per line; empty = no forwarding."),
    )
    forward_keep_copy = forms.BooleanField(label=_("Keep a copy in this mailbox"), required=False)
    internal_only = forms.BooleanField(
        label=_("Internal only"), required=False, help_text=INTERNAL_ONLY_HELP
    )

    def __init__(
        self,
        data: Any = None,
        *,
        actor: Any,
        mailbox: Mailbox | None = None,
        domain: Domain | None = None,
        **kwargs: Any,
    ) -> None:
        self.actor = actor
        self.mailbox = mailbox
        self.is_superadmin = bool(getattr(actor, "is_superadmin", False))
        template = mailbox.domain if mailbox is not None else domain
        kwargs.setdefault("initial", self._initial(mailbox, template))
        super().__init__(data, **kwargs)
        self.fields["answer"].help_text = recovery_answer_help(admin=True)
        if mailbox is None:
            set_domain_field(self, actor)
            self.fields["password1"].required = True
            self.fields["password2"].required = True
        else:
            del self.fields["local_part"]
            del self.fields["domain"]
            self.fields["password1"].help_text = _("Leave empty to keep the current password.")
            self.fields["answer"].help_text = recovery_answer_help(admin=True, keep=True)
        if self.is_superadmin:
            hosts = ["", *settings.MAILADMIN_STORAGE_HOSTS]
            if mailbox is not None and mailbox.mailhost not in hosts:
                hosts.append(mailbox.mailhost)  # a legacy value stays choosable
            self.fields["mailhost"].choices = [(h, h or _("default host")) for h in hosts]
            low, high = settings.MAILADMIN_UID_RANGE
            self.fields["uidnumber"].help_text = _("Between %(low)s and %(high)s.") % {
                "low": low,
                "high": high,
            }
            low, high = settings.MAILADMIN_GID_RANGE
            self.fields["gidnumber"].help_text = _("Between %(low)s and %(high)s.") % {
                "low": low,
                "high": high,
            }
        else:
            for name in ("mailhost", "uidnumber", "gidnumber"):
                del self.fields[name]
            if template is not None:
                for service in SERVICE_NAMES:
                    field = self.fields[f"enable_{service}"]
                    if not template.service_enabled(service) and not (
                        mailbox is not None and mailbox.service_enabled(service)
                    ):
                        field.disabled = True
                        field.help_text = _("Disabled for this domain.")
        self.helper = self._helper()

    @staticmethod
    def _initial(mailbox: Mailbox | None, domain: Domain | None) -> dict[str, Any]:
        multiplier = settings.MAILADMIN_QUOTA_MULTIPLIER
        if mailbox is not None:
            targets, keep = forwarding_of(mailbox)
            initial = {
                "name": mailbox.name,
                "quota": quota_mb(mailbox.quota),
                "netdiskquota": quota_mb(mailbox.netdiskquota),
                "expiredate": mailbox.expiredate,
                "active": bool(mailbox.active),
                "disablepwdchange": bool(mailbox.disablepwdchange),
                "question": mailbox.question,
                "mailhost": mailbox.mailhost,
                "uidnumber": mailbox.uidnumber,
                "gidnumber": mailbox.gidnumber,
                "forward_to": "\n".join(targets),
                "forward_keep_copy": keep,
                "internal_only": is_internal_only(mailbox.username),
            }
            initial.update({f"enable_{s}": mailbox.service_enabled(s) for s in SERVICE_NAMES})
            return initial
        initial = {
            "active": True,
            "mailhost": "",
            "uidnumber": settings.MAILADMIN_DEFAULT_UID,
            "gidnumber": settings.MAILADMIN_DEFAULT_GID,
        }
        if domain is not None:
            initial.update(
                {
                    "domain": domain.domain,
                    "quota": domain.default_quota_bytes // multiplier,
                    "netdiskquota": domain.default_netdisk_bytes // multiplier,
                    "expiredate": domain.default_mailbox_expiry(),
                }
            )
            initial.update({f"enable_{s}": domain.service_enabled(s) for s in SERVICE_NAMES})
        return initial

    def _helper(self) -> FormHelper:
        helper = FormHelper()
        helper.form_tag = False
        helper.disable_csrf = True  # the page template has its own token
        account = [n for n in ("local_part", "domain") if n in self.fields]
        account += [
            "name",
            "password1",
            "password2",
            HTML('{% include "mailboxes/_generate_password.html" %}'),
        ]
        limits = ["quota", "netdiskquota", "expiredate", "active", "disablepwdchange"]
        services = [f"enable_{s}" for s in SERVICE_NAMES]
        recovery = ["question", "answer"]
        storage = [n for n in ("mailhost", "uidnumber", "gidnumber") if n in self.fields]
        sections = [
            Fieldset(_("Account"), *account),
            Fieldset(_("Quota and validity"), *limits),
            Fieldset(_("Services"), Div(*services, css_class="mb-3")),
            Fieldset(_("Forwarding"), "forward_to", "forward_keep_copy", "internal_only"),
            Fieldset(_("Password recovery"), *recovery),
        ]
        if storage:
            sections.append(Fieldset(_("Storage (superadmin)"), *storage))
        helper.layout = Layout(*sections)
        return helper

    def clean_local_part(self) -> str:
        return _clean_local_part(self.cleaned_data["local_part"])

    def clean_forward_to(self) -> list[str]:
        try:
            return normalize_forward_targets(self.cleaned_data.get("forward_to") or "")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["forward_to"]) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        one, two = data.get("password1"), data.get("password2")
        if (one or two) and one != two:
            self.add_error("password2", _("The two passwords differ."))
        return data

    def service_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``mailbox_create``/``mailbox_update``."""
        data = self.cleaned_data
        kwargs: dict[str, Any] = {
            "name": data["name"],
            "quota": data["quota"],
            "netdiskquota": data["netdiskquota"],
            "expiredate": data["expiredate"],
            "active": data["active"],
            "services": {s: data[f"enable_{s}"] for s in SERVICE_NAMES},
            "disablepwdchange": data["disablepwdchange"],
            "question": data["question"],
            "answer": data["answer"],
            "forward_to": data["forward_to"],
            "forward_keep_copy": data["forward_keep_copy"],
            "internal_only": data["internal_only"],
        }
        for name in ("mailhost", "uidnumber", "gidnumber"):
            if name in self.fields:
                kwargs[name] = data[name]
        if self.mailbox is None:
            kwargs.update(
                domain=data["domain"], local_part=data["local_part"], password=data["password1"]
            )
        else:
            kwargs["password"] = data["password1"] or KEEP
            for name in ("quota", "netdiskquota", "uidnumber", "gidnumber"):
                if kwargs.get(name) is None:
                    kwargs[name] = KEEP
        return kwargs


for _service, _label in SERVICES:
    MailboxForm.base_fields[f"enable_{_service}"] = forms.BooleanField(label=_label, required=False)


class ChooseDomainForm(StorableTextMixin, forms.Form):
    """The first step of "add mailbox" when the domain is not given."""

    domain = forms.ChoiceField(label=_("Domain"))

    def __init__(self, *args: Any, actor: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_domain_field(self, actor)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page template has its own token


class RenameForm(StorableTextMixin, forms.Form):
    local_part = _local_part_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["local_part"].label = _("New local part")
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page template has its own token

    def clean_local_part(self) -> str:
        return _clean_local_part(self.cleaned_data["local_part"])


class DeleteForm(StorableTextMixin, forms.Form):
    """Confirmation of a deletion; "purge data" only where the settings allow it."""

    purge = forms.BooleanField(
        label=_("Purge data: delete the mailbox's files instead of archiving them"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not settings.MAILADMIN_PURGE_ALLOWED:
            del self.fields["purge"]
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True  # the page template has its own token

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.data.get("purge") and "purge" not in self.fields:
            raise ValidationError(_("Deleting mailbox data is disabled on this server."))
        return data

    @property
    def purge_requested(self) -> bool:
        return bool(self.cleaned_data.get("purge"))


class BulkForm(StorableTextMixin, forms.Form):
    """The bulk-action form of the list page (plain POST, no script)."""

    ACTION_LABELS = {
        "enable": _("Enable"),
        "disable": _("Disable"),
        "delete": _("Delete"),
        "set_quota": _("Set quota (MB)"),
        "reset_password": _("Reset password"),
    }

    action = forms.ChoiceField(label=_("Action"))
    addresses = forms.MultipleChoiceField(label=_("Mailboxes"))
    quota = forms.IntegerField(
        label=_("Quota (MB)"), min_value=0, max_value=MAX_QUOTA_MB, required=False
    )
    purge = forms.BooleanField(label=_("Purge data"), required=False)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)
    domain = forms.CharField(required=False, max_length=255, widget=forms.HiddenInput)

    MAX_ADDRESSES = 500

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = self.action_choices()
        # Any address is accepted here; the view looks each one up through visible_to.
        values = self.data.getlist("addresses") if hasattr(self.data, "getlist") else []
        self.fields["addresses"].choices = [(v, v) for v in values[: self.MAX_ADDRESSES]]

    @classmethod
    def action_choices(cls) -> list[tuple[str, str]]:
        """The actions and their labels (the list page shows them without building a form)."""
        return [(action, cls.ACTION_LABELS[action]) for action in BULK_ACTIONS]

    def clean_addresses(self) -> list[str]:
        addresses = [a.strip().lower() for a in self.cleaned_data["addresses"]]
        if len(addresses) > self.MAX_ADDRESSES:
            raise ValidationError(_("Select at most %(n)s mailboxes.") % {"n": self.MAX_ADDRESSES})
        return addresses

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("action") == "set_quota" and data.get("quota") is None:
            self.add_error("quota", _("Enter the new quota in MB."))
        if data.get("purge") and not settings.MAILADMIN_PURGE_ALLOWED:
            self.add_error("purge", _("Deleting mailbox data is disabled on this server."))
        return data

    @property
    def needs_confirmation(self) -> bool:
        return self.cleaned_data["action"] in ("delete", "reset_password") and not (
            self.cleaned_data.get("confirm")
        )


IMPORT_COLUMNS = ("local_part", "name", "password", "quota", "password_hash")
#: Largest file an import takes (20,000 lines of a few dozen bytes fit in it).
MAX_IMPORT_BYTES = 2 * 1024 * 1024


class ImportForm(StorableTextMixin, forms.Form):
    """A CSV file of new mailboxes: ``local_part,name,password,quota,password_hash`` per line
    (UTF-8, an optional header line of these names, an empty quota for the domain's default;
    either a password or, to keep someone's password when moving a site, an existing hash)."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, one mailbox per line: local_part,name,password,quota,password_hash (quota"
            " in MB; leave it empty for the domain's default). To keep the passwords of"
            " mailboxes moved from another server, leave the password empty and put their"
            " existing hash ($1$…, {CRYPT}$6$…, {SHA}…, {SSHA}…, {MD5}…) in the fifth column. A"
            " first line with these column names is skipped. At most 20,000 lines and 2 MB."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_file(self) -> list[dict[str, Any]]:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(_("The file is larger than 2 MB: split it into several."))
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationError(_("The file is not UTF-8 text.")) from exc
        rows: list[dict[str, Any]] = []
        errors: list[str] = []
        try:
            lines = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise ValidationError(_("The file is not valid CSV.")) from exc
        for number, cells in enumerate(lines, start=1):
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                continue
            if number == 1 and cells[0].lower() == IMPORT_COLUMNS[0]:
                continue  # the header line
            if not 3 <= len(cells) <= len(IMPORT_COLUMNS):
                errors.append(
                    _(
                        "Line %(line)s: expected local_part,name,password and optionally quota"
                        " and password_hash."
                    )
                    % {"line": number}
                )
                continue
            row: dict[str, Any] = dict(zip(IMPORT_COLUMNS, cells, strict=False))
            row["line"] = number
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise ValidationError(
                    _("The file has more than %(max)s mailboxes: split it into several.")
                    % {"max": MAX_IMPORT_ROWS}
                )
        if errors:
            raise ValidationError(errors)
        if not rows:
            raise ValidationError(_("The file holds no mailboxes."))
        return rows
