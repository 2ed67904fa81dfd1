"""The audit log in words (SPEC §3.9): what each action code and field name means, values as
people read them (quotas in MB, flags as words), and a one-line summary of each entry.

The codes and field names stay in the database as they are (they are what a search or an
export matches); only the page translates them, in the reader's language.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mailadmin.lib.flags import SERVICES
from mailadmin.lib.quota import quota_bytes

ACTIONS: dict[str, Any] = {
    "2fa.codes": gettext_lazy("two-factor recovery codes renewed"),
    "2fa.enrolled": gettext_lazy("two-factor authenticator set up"),
    "2fa.failed": gettext_lazy("wrong two-factor code"),
    "2fa.key_added": gettext_lazy("security key added"),
    "2fa.key_removed": gettext_lazy("security key removed"),
    "2fa.recovery_used": gettext_lazy("two-factor recovery code used"),
    "2fa.removed": gettext_lazy("two-factor sign-in turned off"),
    "2fa.reset": gettext_lazy("two-factor sign-in reset by a superadmin"),
    "alias.create": gettext_lazy("alias created"),
    "alias.update": gettext_lazy("alias changed"),
    "alias.delete": gettext_lazy("alias deleted"),
    "api_token.create": gettext_lazy("API token made"),
    "api_token.revoke": gettext_lazy("API token revoked"),
    "archive.purge": gettext_lazy("archive deleted"),
    "archive.restore": gettext_lazy("archive restored"),
    "archive.scan": gettext_lazy("archives measured"),
    "domain.apply_template": gettext_lazy("domain template applied to its mailboxes"),
    "domain.create": gettext_lazy("domain created"),
    "domain.update": gettext_lazy("domain changed"),
    "domain.usage_report": gettext_lazy("disk usage report mailed"),
    "domain.usage_report_request": gettext_lazy("disk usage report asked for"),
    "domain.delete": gettext_lazy("domain deleted"),
    "domain.rename": gettext_lazy("domain renamed"),
    "expiry.notice": gettext_lazy("expiry notice sent"),
    "expiry.report": gettext_lazy("expiry report sent"),
    "expiry.run": gettext_lazy("expiry run"),
    "groupmail.start": gettext_lazy("group mail started"),
    "groupmail.end": gettext_lazy("group mail finished"),
    "job.cancel": gettext_lazy("job given up"),
    "login": gettext_lazy("logged in"),
    "login.failed": gettext_lazy("failed login"),
    "login.locked": gettext_lazy("login locked after failures"),
    "mailbox.create": gettext_lazy("mailbox created"),
    "mailbox.import": gettext_lazy("mailboxes imported"),
    "mailbox.quota_warning": gettext_lazy("quota warning sent"),
    "mailbox.update": gettext_lazy("mailbox changed"),
    "mailbox.delete": gettext_lazy("mailbox deleted"),
    "mailbox.rename": gettext_lazy("mailbox renamed"),
    "mailstack.download": gettext_lazy("mail system file downloaded"),
    "mailstack.service_action": gettext_lazy("mail service action"),
    "mailstack.queue_action": gettext_lazy("mail queue action"),
    "manager.create": gettext_lazy("manager created"),
    "manager.update": gettext_lazy("manager changed"),
    "manager.delete": gettext_lazy("manager deleted"),
    "manager.password": gettext_lazy("manager password changed"),
    "operation.stop": gettext_lazy("background operation stopped"),
    "operation.resume": gettext_lazy("background operation resumed"),
    "portal.login": gettext_lazy("logged in to the portal"),
    "portal.login.failed": gettext_lazy("failed portal login"),
    "portal.login.locked": gettext_lazy("portal login locked after failures"),
    "portal.password": gettext_lazy("own password changed in the portal"),
    "portal.recovery": gettext_lazy("recovery question changed in the portal"),
    "portal.recovery.failed": gettext_lazy("failed password recovery"),
    "portal.recovery.reset": gettext_lazy("password reset by recovery question"),
    "signup.request": gettext_lazy("signup requested"),
    "signup.approve": gettext_lazy("signup approved"),
    "signup.reject": gettext_lazy("signup rejected"),
    "signup.expire": gettext_lazy("signup expired"),
    "signup.policy": gettext_lazy("signup policy changed"),
    "usage.measure": gettext_lazy("disk usage measured"),
}

ACTOR_KINDS: dict[str, Any] = {
    "manager": gettext_lazy("a manager"),
    "mailbox": gettext_lazy("the mailbox user"),
    "anonymous": gettext_lazy("someone not logged in"),
    "system": gettext_lazy("the panel itself"),
    "cli": gettext_lazy("a manager on the command line"),
    "api": gettext_lazy("a manager through the API"),
}

FIELDS: dict[str, Any] = {
    "username": gettext_lazy("Address"),
    "address": gettext_lazy("Address"),
    "uid": gettext_lazy("Local part"),
    "password": gettext_lazy("Password"),
    "clearpwd": gettext_lazy("Clear-text password"),
    "name": gettext_lazy("Name"),
    "mailhost": gettext_lazy("Storage host"),
    "maildir": gettext_lazy("Maildir"),
    "homedir": gettext_lazy("Home directory"),
    "quota": gettext_lazy("Quota"),
    "netdiskquota": gettext_lazy("Netdisk quota"),
    "domain_id": gettext_lazy("Domain"),
    "domain": gettext_lazy("Domain"),
    "uidnumber": gettext_lazy("uid"),
    "gidnumber": gettext_lazy("gid"),
    "createdate": gettext_lazy("Created"),
    "expiredate": gettext_lazy("Expires"),
    "active": gettext_lazy("Active"),
    "disablepwdchange": gettext_lazy("Password change by the user"),
    "question": gettext_lazy("Recovery question"),
    "answer": gettext_lazy("Recovery answer"),
    "goto": gettext_lazy("Targets"),
    "description": gettext_lazy("Description"),
    "hashdirpath": gettext_lazy("Hashed directories"),
    "maxalias": gettext_lazy("Max aliases"),
    "maxusers": gettext_lazy("Max mailboxes"),
    "maxquota": gettext_lazy("Max total quota"),
    "maxnetdiskquota": gettext_lazy("Max total netdisk quota"),
    "transport": gettext_lazy("Transport"),
    "can_signup": gettext_lazy("Public signup allowed"),
    "default_quota": gettext_lazy("Default quota"),
    "default_netdiskquota": gettext_lazy("Default netdisk quota"),
    "default_expire": gettext_lazy("Default lifetime"),
    "type": gettext_lazy("Role"),
    "domains": gettext_lazy("Domains"),
    "forward_to": gettext_lazy("Forward to"),
    "forward_keep_copy": gettext_lazy("Keep a copy"),
    "internal_only": gettext_lazy("Internal only"),
    "state": gettext_lazy("State"),
    "sent": gettext_lazy("Sent"),
    "restored_to": gettext_lazy("Restored into"),
    "revoked": gettext_lazy("Revoked"),
    "signup_approval": gettext_lazy("Signup approval"),
    "mailboxes": gettext_lazy("Mailboxes"),
}
for _service, _label in SERVICES:
    FIELDS[f"disable{_service}"] = _label
    FIELDS[f"enable_{_service}"] = _label

QUOTA_FIELDS = frozenset(
    {
        "quota",
        "netdiskquota",
        "maxquota",
        "maxnetdiskquota",
        "default_quota",
        "default_netdiskquota",
    }
)
YES_NO_FIELDS = frozenset(
    {"active", "can_signup", "forward_keep_copy", "internal_only", "revoked"}
    | {f"enable_{name}" for name, _label in SERVICES}
)
# 1 means "disabled" in these legacy columns.
DISABLE_FIELDS = frozenset({f"disable{name}" for name, _label in SERVICES})
CHANGED = "(changed)"


def action_label(code: str) -> str:
    """An action code in words; an unknown code as it is."""
    label = ACTIONS.get(code)
    return str(label) if label is not None else code


def actor_kind_label(kind: str) -> str:
    label = ACTOR_KINDS.get(kind)
    return str(label) if label is not None else kind


def field_label(name: str) -> str:
    label = FIELDS.get(name)
    return str(label) if label is not None else name


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "none")
    return bool(value)


def value_text(field: str, value: Any) -> str:
    """A recorded value as people read it: quotas in MB, flags as words, lists joined."""
    if field in DISABLE_FIELDS:  # NULL, like 0, means enabled in these columns
        return _("disabled") if _is_true(value) else _("enabled")
    if value is None or value == "":
        return "—"
    if value == CHANGED:
        return _("changed")
    if field in QUOTA_FIELDS:
        try:
            size = quota_bytes(str(value))
        except (TypeError, ValueError):
            return str(value)
        if not size:
            return _("unlimited")
        return _("%(mb)s MB") % {"mb": size // settings.MAILADMIN_QUOTA_MULTIPLIER}
    if field == "disablepwdchange":
        return _("not allowed") if _is_true(value) else _("allowed")
    if field in YES_NO_FIELDS:
        return _("yes") if _is_true(value) else _("no")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if field == "goto":
        return ", ".join(part for part in str(value).split(",") if part)
    return str(value)


def change_rows(changes: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(label, before, after)`` for each recorded change, in the order of the labels."""
    rows = []
    for field, pair in changes.items():
        before, after = ([*pair, None, None])[:2] if isinstance(pair, list) else (None, pair)
        rows.append((field_label(field), value_text(field, before), value_text(field, after)))
    return sorted(rows)


def note_text(message: str, args: dict[str, Any] | None) -> str:
    """The entry's note in the reader's language: a note recorded as a message id with its
    arguments is translated now; an older note (written in the writer's language) is shown as
    it was written."""
    args = dict(args or {})
    origin = args.pop("_origin", "")  # audit.services.ORIGIN_ARG
    text = _note(message, args)
    return f"[{origin}] {text}".strip() if origin else text


def _note(message: str, args: dict[str, Any]) -> str:
    if not message:
        return ""
    text = _(message)
    if args:
        # A word among the arguments (such as a group mail's outcome) is a message id too;
        # anything else (an address, a number) is no message id and stays as it is.
        words = {
            key: _(value) if isinstance(value, str) and value.strip() else value
            for key, value in args.items()
        }
        try:
            return text % words
        except (KeyError, TypeError, ValueError):
            return message
    return text


def summary(entry: Any) -> str:
    """One line: what happened, and to how much, without the details."""
    changes = entry.changes or {}
    if entry.action.endswith(".update") and changes:
        if len(changes) == 1:
            ((label, before, after),) = change_rows(changes)
            return f"{label}: {before} → {after}"
        labels = [label for label, _before, _after in change_rows(changes)]
        shown = ", ".join(labels[:3])
        more = len(labels) - 3
        if more > 0:
            return ngettext(
                "%(fields)s and %(n)s more field changed",
                "%(fields)s and %(n)s more fields changed",
                more,
            ) % {"fields": shown, "n": more}
        return _("%(fields)s changed") % {"fields": shown}
    return ""
