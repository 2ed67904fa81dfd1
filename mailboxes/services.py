"""Every write path for mailboxes (SPEC §3.4).

Each service re-checks what the actor may do, validates the business rules, checks domain limits
under :func:`domains.selectors.lock_domain`, writes the audit record and records the Maildir
job in the same transaction. Rule violations raise ``ValidationError({field: message})`` before
anything is written (or inside the transaction, which then rolls back).
"""

from __future__ import annotations

import datetime
import hmac
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from aliases.index import aliases_targeting
from aliases.models import Alias
from aliases.services import alias_keep_targets
from audit.models import AuditEntry
from audit.services import audit_entry, audit_record, diff, snapshot
from domains.models import Domain
from domains.selectors import domain_usage, lock_domain
from domains.usage import usage_change
from mailadmin.lib import passwords
from mailadmin.lib.addresses import normalize_address, normalize_local_part
from mailadmin.lib.fields import local_now
from mailadmin.lib.flags import SERVICE_NAMES
from mailadmin.lib.passwords import hash_password
from mailadmin.lib.quota import quota_bytes, quota_for_new, quota_from_mb
from mailadmin.lib.storable import check_storable
from mailadmin.lib.text import has_control_characters
from mailadmin.selectors import address_in_use_message, address_owner, address_owners
from mailboxes.homes import home_problem, mailbox_home_problem, overlapping
from mailboxes.models import Mailbox
from mailboxes.paths import mailbox_paths, renamed_path
from mailstack.services import internal_only_forget, internal_only_rename, internal_only_set
from provisioning.models import Job
from provisioning.services import job_record

#: Width of the legacy ``quota``/``netdiskquota`` varchar columns.
QUOTA_COLUMN_LENGTH = 16
MAX_FORWARD_TARGETS = 50
GENERATED_PASSWORD_LENGTH = 16
BULK_ACTIONS = ("enable", "disable", "delete", "set_quota", "reset_password")
#: Most rows one import takes (SPEC §7.1 measures 10,000).
MAX_IMPORT_ROWS = 20_000
#: Maildirs per ``maildir.create_batch`` job of an import.
MAILDIR_BATCH_SIZE = 500
#: Rows per INSERT of an import.
INSERT_BATCH_SIZE = 1_000


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The "leave this column as it is" default of :func:`mailbox_update`.
KEEP: Any = _Sentinel("KEEP")
#: The "take it from the domain template" default of :func:`mailbox_create`.
FROM_TEMPLATE: Any = _Sentinel("FROM_TEMPLATE")


def hash_recovery_answer(answer: str) -> str:
    """The hashed form of a recovery answer: compared trimmed and case-insensitively."""
    return hash_password(answer.strip().lower(), "sha512crypt")


def stored_recovery_answer(answer: str) -> str:
    """The form of a recovery answer that the panel writes, per
    ``MAILADMIN_RECOVERY_ANSWER_FORMAT``: ``hashed`` (SHA512-crypt of the trimmed, lower-cased
    answer) or ``extmail`` (the trimmed answer in clear text, as ExtMan wrote it and as ExtMail
    webmail's own recovery compares it). Empty for an empty answer."""
    answer = answer.strip()
    if not answer:
        return ""
    if settings.MAILADMIN_RECOVERY_ANSWER_FORMAT == "extmail":
        return answer
    return hash_recovery_answer(answer)


def is_clear_recovery_answer(stored: str) -> bool:
    """Whether a stored answer is in clear text (ExtMan's and the ``extmail`` format)."""
    return (
        bool(stored.strip())
        and passwords.identify(stored) == "cleartext"
        and not stored.startswith("{")
    )


def recovery_answer_matches(stored: str, given: str) -> bool:
    """Whether ``given`` is the answer ``stored`` holds, in either form: trimmed and
    case-insensitive. Never writes anything."""
    given = given.strip().lower()
    if not given or not stored.strip():
        return False
    if is_clear_recovery_answer(stored):
        return hmac.compare_digest(stored.strip().lower().encode(), given.encode())
    return passwords.verify_password(given, stored)


def generate_password(length: int | None = None) -> str:
    """A strong random password (letters and digits without look-alikes, one of each kind)."""
    length = max(length or GENERATED_PASSWORD_LENGTH, settings.MAILADMIN_PASSWORD_MIN_LENGTH)
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "lIO0o1")
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


# --- checks ------------------------------------------------------------------------------------
def _is_superadmin(actor: Any) -> bool:
    return bool(getattr(actor, "is_superadmin", False))


def _check_domain_visible(actor: Any, domain: str) -> None:
    """A domain admin may only act inside their own domains (404-equivalent for the view).

    A string actor is the system itself (e.g. ``"signup"`` for an open-signup domain), which
    acts on the rules alone, with no manager's rights."""
    if isinstance(actor, str):
        return
    if not Domain.objects.visible_to(actor).filter(pk=domain).exists():
        raise PermissionDenied(f"{actor} may not manage mailboxes of {domain}")


def _check_mailbox_visible(actor: Any, mailbox: Mailbox) -> None:
    """:func:`_check_domain_visible` for an existing mailbox, by its row: its ``domain`` column
    and its address's own domain (``MailboxQuerySet.visible_to``)."""
    if isinstance(actor, str):
        return
    if not Mailbox.objects.visible_to(actor).filter(pk=mailbox.pk).exists():
        raise PermissionDenied(f"{actor} may not manage the mailbox {mailbox.pk}")


def _quota_string(
    field_name: str, megabytes: int, previous: str | None, *, new: bool = False
) -> str:
    """The stored quota string for ``megabytes``: for an existing mailbox, a size that does
    not change keeps its stored form; for a ``new`` one (``previous`` is the template's), it
    is always written in the configured form."""
    try:
        value = quota_for_new(megabytes, previous) if new else quota_from_mb(megabytes, previous)
    except ValueError as exc:
        raise ValidationError({field_name: _("A quota cannot be negative.")}) from exc
    if len(value) > QUOTA_COLUMN_LENGTH:
        raise ValidationError({field_name: _("This quota is too large to be stored.")})
    return value


def _check_password(password: str, field_name: str = "password1") -> str:
    if not password:
        raise ValidationError({field_name: _("Enter a password.")})
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({field_name: exc.messages}) from exc
    return hash_password(password)


def _check_expiry(domain: Domain, expiredate: datetime.date | None) -> None:
    # "Never" (0000-00-00) on a mailbox means "follow the domain", so it is always allowed.
    if expiredate is not None and domain.expiredate is not None and expiredate > domain.expiredate:
        raise ValidationError(
            {
                "expiredate": _(
                    "The mailbox cannot expire after its domain (%(date)s): choose that date or"
                    " an earlier one, or leave it empty to follow the domain."
                )
                % {"date": domain.expiredate.isoformat()}
            }
        )


def _check_ids(
    actor: Any, *, uidnumber: int, gidnumber: int, current: tuple[int, int] | None
) -> None:
    """Only a superadmin chooses uid/gid, and only within the configured ranges."""
    errors: dict[str, str] = {}
    defaults = (settings.MAILADMIN_DEFAULT_UID, settings.MAILADMIN_DEFAULT_GID)
    allowed = current or defaults
    ranges = (settings.MAILADMIN_UID_RANGE, settings.MAILADMIN_GID_RANGE)
    for name, value, unchanged, (low, high) in zip(
        ("uidnumber", "gidnumber"), (uidnumber, gidnumber), allowed, ranges, strict=True
    ):
        if value == unchanged:
            continue
        if not _is_superadmin(actor):
            errors[name] = _("Only a superadmin can choose the uid and gid.")
        elif not low <= value <= high:
            errors[name] = _("Choose a number between %(low)s and %(high)s.") % {
                "low": low,
                "high": high,
            }
    if errors:
        raise ValidationError(errors)


def _check_mailhost(actor: Any, mailhost: str, current: str | None) -> None:
    if mailhost == (current if current is not None else ""):
        return
    if not _is_superadmin(actor):
        raise ValidationError({"mailhost": _("Only a superadmin can choose the storage host.")})
    if mailhost not in ("", *settings.MAILADMIN_STORAGE_HOSTS):
        raise ValidationError({"mailhost": _("Choose one of the configured storage hosts.")})


def _check_services(
    actor: Any, domain: Domain, wanted: dict[str, bool], mailbox: Mailbox | None
) -> None:
    """A domain admin cannot grant a service the domain template disables."""
    if _is_superadmin(actor):
        return
    errors = {}
    for service, enabled in wanted.items():
        already = mailbox is not None and mailbox.service_enabled(service)
        if enabled and not already and not domain.service_enabled(service):
            errors[f"enable_{service}"] = _("This domain does not allow this service.")
    if errors:
        raise ValidationError(errors)


def _check_limits(
    domain: Domain,
    *,
    new_users: int = 0,
    quota_delta: int = 0,
    netdisk_delta: int = 0,
    new_quota: int | None = None,
) -> None:
    """Domain limits (0 = unlimited); call with the domain row locked."""
    max_quota = domain.max_quota_bytes
    max_netdisk = domain.max_netdisk_bytes
    errors: dict[str, str] = {}
    if max_quota and new_quota == 0:
        errors["quota"] = _(
            "This domain limits the total quota: give the mailbox a quota (0 would be unlimited)."
        )
    # Only what a limit applies to is counted (nothing at all in an unlimited domain).
    figures = tuple(
        figure
        for figure, applies in (
            ("users", new_users and domain.maxusers),
            ("quota", max_quota and quota_delta > 0),
            ("netdisk", max_netdisk and netdisk_delta > 0),
        )
        if applies
    )
    usage = domain_usage(domain.domain, figures) if figures else None
    if usage and new_users and domain.maxusers and usage.users + new_users > domain.maxusers:
        errors["local_part"] = _("The domain has reached its limit of %(max)s mailboxes.") % {
            "max": domain.maxusers
        }
    if usage and max_quota and quota_delta > 0 and usage.quota + quota_delta > max_quota:
        free = max(max_quota - usage.quota, 0) // settings.MAILADMIN_QUOTA_MULTIPLIER
        errors["quota"] = _(
            "This exceeds the domain's total quota of %(max)s MB (%(free)s MB still free)."
        ) % {"max": max_quota // settings.MAILADMIN_QUOTA_MULTIPLIER, "free": free}
    if usage and max_netdisk and netdisk_delta > 0 and usage.netdisk + netdisk_delta > max_netdisk:
        free = max(max_netdisk - usage.netdisk, 0) // settings.MAILADMIN_QUOTA_MULTIPLIER
        errors["netdiskquota"] = _(
            "This exceeds the domain's total netdisk quota of %(max)s MB (%(free)s MB still free)."
        ) % {"max": max_netdisk // settings.MAILADMIN_QUOTA_MULTIPLIER, "free": free}
    if errors:
        raise ValidationError(errors)


def normalize_forward_targets(targets: list[str] | tuple[str, ...] | str) -> list[str]:
    """Normalised, de-duplicated forward addresses (one per line when given as text)."""
    if isinstance(targets, str):
        targets = targets.splitlines()
    result: list[str] = []
    errors: list[str] = []
    for raw in targets:
        line = raw.strip()
        if not line:
            continue
        try:
            address = normalize_address(line)
        except ValidationError as exc:
            errors.append(f"{line[:100]}: {' '.join(exc.messages)}")
            continue
        if address not in result:
            result.append(address)
    if len(result) > MAX_FORWARD_TARGETS:
        errors.append(_("Enter at most %(n)s forward addresses.") % {"n": MAX_FORWARD_TARGETS})
    if errors:
        raise ValidationError({"forward_to": errors})
    return result


# --- forwarding --------------------------------------------------------------------------------
def forwarding_of(mailbox: Mailbox) -> tuple[list[str], bool]:
    """``(forward targets, keep a copy)`` of a mailbox, read from its forwarding alias."""
    alias = Alias.objects.filter(pk=mailbox.username).first()
    if alias is None:
        return [], False
    targets = alias.targets
    return [t for t in targets if t != mailbox.username], mailbox.username in targets


def _set_forwarding(
    mailbox: Mailbox, targets: list[str], keep_copy: bool
) -> tuple[str, str] | None:
    """Store the forwarding alias; ``(old goto, new goto)`` when it changed, else None."""
    targets = normalize_forward_targets(list(targets))
    if mailbox.username in targets:
        raise ValidationError(
            {"forward_to": _("Do not forward a mailbox to itself: tick “keep a copy” instead.")}
        )
    alias = Alias.objects.filter(pk=mailbox.username).first()
    old_goto = alias.goto if alias else ""
    if not targets:
        if alias is None or set(alias.targets) <= {mailbox.username}:
            return None  # no forwarding, or a legacy self-alias that shields from a catch-all
        alias.delete()
        return old_goto, ""
    wanted = [*targets, mailbox.username] if keep_copy else targets
    if alias is not None and set(alias.targets) == set(wanted):
        return None  # same targets: keep the stored order and form
    goto = ",".join(wanted)
    if alias is None:
        Alias.objects.create(
            address=mailbox.username,
            goto=goto,
            domain_id=mailbox.domain_id,
            active=mailbox.active,
        )
    else:
        alias.goto = goto
        alias.save(update_fields=["goto"])
    return old_goto, goto


def _replace_in_alias_targets(
    old: str, new: str | None, *, actor: Any, request: HttpRequest | None
) -> tuple[list[str], list[str]]:
    """Replace (or, with ``new=None``, remove) ``old`` in every alias's targets.

    Returns ``(changed aliases, deleted aliases)``; an alias left without targets is deleted.
    The mailbox's own forwarding alias is handled by the caller.
    """
    changed: list[str] = []
    deleted: list[str] = []
    candidates = (
        Alias.objects.filter(pk__in=aliases_targeting(old)).exclude(pk=old).order_by("address")
    )
    for alias in candidates.select_for_update():
        targets = alias.targets
        if old not in (t.lower() for t in targets):
            continue  # only a substring of another target
        updated: list[str] = []
        for target in targets:
            replacement = (new if target.lower() == old else target) or None
            if replacement and replacement not in updated:
                updated.append(replacement)
        address = alias.address
        gone = alias_keep_targets(
            alias,
            updated,
            actor=actor,
            request=request,
            message=_("target %(old)s replaced by %(new)s") % {"old": old, "new": new}
            if new
            else _("target %(old)s removed (mailbox deleted)") % {"old": old},
        )
        (deleted if gone else changed).append(address)
    return changed, deleted


def aliases_pointing_to(address: str) -> list[str]:
    """Aliases (other than the mailbox's own forwarding alias) that list ``address``."""
    candidates = Alias.objects.filter(pk__in=aliases_targeting(address)).exclude(pk=address)
    return sorted(
        alias.address for alias in candidates if address in (t.lower() for t in alias.targets)
    )


# --- create ------------------------------------------------------------------------------------
def new_mailbox_address(domain: str, local_part: str) -> tuple[str, str]:
    """``(local, address)`` of a new mailbox: the local part normalised, the length checked."""
    try:
        local = normalize_local_part(local_part)
    except ValidationError as exc:
        raise ValidationError({"local_part": exc.messages}) from exc
    address = f"{local}@{domain}"
    if len(address) > Mailbox._meta.get_field("username").max_length:
        raise ValidationError({"local_part": _("The address is too long.")})
    return local, address


def _template_quota(dom: Domain, field_name: str, megabytes: int | None) -> str:
    """The stored quota string of a new mailbox; ``None`` takes the domain template's."""
    if field_name == "quota":
        default_bytes, default_text = dom.default_quota_bytes, dom.default_quota
    else:
        default_bytes, default_text = dom.default_netdisk_bytes, dom.default_netdiskquota
    if megabytes is None:
        megabytes = default_bytes // settings.MAILADMIN_QUOTA_MULTIPLIER
    return _quota_string(field_name, megabytes, default_text, new=True)


def _template_services(dom: Domain) -> dict[str, bool]:
    return {s: dom.service_enabled(s) for s in SERVICE_NAMES}


def _new_mailbox(
    dom: Domain,
    local: str,
    *,
    password: str,
    name: str,
    quota: str,
    netdiskquota: str,
    createdate: datetime.datetime,
    expiredate: datetime.date | None,
    services: dict[str, bool],
    mailhost: str = "",
    uidnumber: int | None = None,
    gidnumber: int | None = None,
    active: bool = True,
    disablepwdchange: bool = False,
    question: str = "",
    answer: str = "",
) -> Mailbox:
    """An unsaved mailbox row in ExtMan's formats (``password`` hashed, ``answer`` in its
    stored form)."""
    homedir, maildir = mailbox_paths(dom, local)
    mailbox = Mailbox(
        username=f"{local}@{dom.domain}",
        uid=local,
        password=password,
        name=name.strip(),
        mailhost=mailhost,
        maildir=maildir,
        homedir=homedir,
        quota=quota,
        netdiskquota=netdiskquota,
        domain_id=dom.domain,
        uidnumber=settings.MAILADMIN_DEFAULT_UID if uidnumber is None else uidnumber,
        gidnumber=settings.MAILADMIN_DEFAULT_GID if gidnumber is None else gidnumber,
        createdate=createdate,
        expiredate=expiredate,
        active=active,
        disablepwdchange=1 if disablepwdchange else 0,
        question=question.strip(),
        answer=answer,
    )
    for service, enabled in services.items():
        setattr(mailbox, f"disable{service}", 0 if enabled else 1)
    return mailbox


def _maildir_payload(mailbox: Mailbox, hashdirpath: str | None = None) -> dict[str, Any]:
    """What a Maildir job needs: the paths, the quota and the owner of the mailbox's Maildir,
    and the domain's directory prefix (for the check that the home is the mailbox's own)."""
    if hashdirpath is None:
        hashdirpath = (
            Domain.objects.filter(pk=mailbox.domain_id)
            .values_list("hashdirpath", flat=True)
            .first()
        )
    return {
        "homedir": mailbox.homedir,
        "maildir": mailbox.maildir,
        "quota": mailbox.quota,
        "uid": mailbox.uidnumber,
        "gid": mailbox.gidnumber,
        "hashdirpath": hashdirpath or "",
    }


def _check_new_home(mailbox: Mailbox) -> None:
    """A new mailbox's home must not hold, or lie in, another mailbox's mail (legacy rows may
    live anywhere)."""
    shared = overlapping(mailbox.homedir, exclude=[mailbox.username])
    if shared:
        raise ValidationError(
            {
                "local_part": _(
                    "The directory %(path)s of this address holds mail of %(others)s: choose"
                    " another address."
                )
                % {"path": mailbox.homedir, "others": ", ".join(a for a, _p in shared[:5])}
            }
        )


@transaction.atomic
def mailbox_create(
    *,
    domain: str,
    local_part: str,
    password: str,
    actor: Any,
    request: HttpRequest | None = None,
    name: str = "",
    quota: int | None = None,
    netdiskquota: int | None = None,
    expiredate: Any = FROM_TEMPLATE,
    active: bool = True,
    services: dict[str, bool] | None = None,
    disablepwdchange: bool = False,
    question: str = "",
    answer: str = "",
    mailhost: str = "",
    uidnumber: int | None = None,
    gidnumber: int | None = None,
    forward_to: list[str] | tuple[str, ...] = (),
    forward_keep_copy: bool = False,
    password_hash: str = "",
    answer_hash: str = "",
    internal_only: bool = False,
) -> Mailbox:
    """Create a mailbox in ``domain`` and queue its Maildir.

    ``quota``/``netdiskquota`` (MB), ``expiredate`` and ``services`` left at their defaults
    come from the domain template. ``password_hash``/``answer_hash`` take values stored
    earlier (an approved signup request: the password hashed, the answer in the form
    :func:`stored_recovery_answer` gave it) in place of ``password``/``answer``.
    """
    _check_domain_visible(actor, domain)
    local, address = new_mailbox_address(domain, local_part)
    dom = lock_domain(domain)
    errors: dict[str, list[str]] = {}

    def collect(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            return None

    owner = address_owner(address)
    if owner:
        errors["local_part"] = [address_in_use_message(address, owner)]
    collect(check_storable, name=name, question=question)
    hashed = password_hash or collect(_check_password, password)
    quota_text = collect(_template_quota, dom, "quota", quota)
    netdisk_text = collect(_template_quota, dom, "netdiskquota", netdiskquota)
    if expiredate is FROM_TEMPLATE:
        expiredate = dom.default_mailbox_expiry()
    collect(_check_expiry, dom, expiredate)
    wanted = _template_services(dom)
    wanted.update(services or {})
    collect(_check_services, actor, dom, wanted, None)
    uidnumber = settings.MAILADMIN_DEFAULT_UID if uidnumber is None else uidnumber
    gidnumber = settings.MAILADMIN_DEFAULT_GID if gidnumber is None else gidnumber
    collect(_check_ids, actor, uidnumber=uidnumber, gidnumber=gidnumber, current=None)
    collect(_check_mailhost, actor, mailhost or "", None)
    targets = collect(normalize_forward_targets, list(forward_to)) or []
    if not errors:
        collect(
            _check_limits,
            dom,
            new_users=1,
            quota_delta=quota_bytes(quota_text),
            netdisk_delta=quota_bytes(netdisk_text),
            new_quota=quota_bytes(quota_text),
        )
    if errors:
        raise ValidationError(errors)

    mailbox = _new_mailbox(
        dom,
        local,
        password=hashed,
        name=name,
        mailhost=mailhost or "",
        quota=quota_text,
        netdiskquota=netdisk_text,
        uidnumber=uidnumber,
        gidnumber=gidnumber,
        createdate=local_now(),
        expiredate=expiredate,
        active=active,
        services=wanted,
        disablepwdchange=disablepwdchange,
        question=question,
        answer=answer_hash or stored_recovery_answer(answer),
    )
    _check_new_home(mailbox)
    mailbox.save(force_insert=True)
    usage_change(
        dom.domain,
        mailboxes=1,
        quota=quota_bytes(quota_text),
        netdisk=quota_bytes(netdisk_text),
    )
    changes = diff({}, snapshot(mailbox))
    forwarding = _set_forwarding(mailbox, targets, forward_keep_copy)
    if forwarding:
        changes["forward_to"] = list(forwarding)
    if internal_only_set(address=address, domain=dom.domain, value=internal_only, actor=actor):
        changes["internal_only"] = [not internal_only, bool(internal_only)]
    job_record(
        kind=Job.Kind.MAILDIR_CREATE,
        payload=_maildir_payload(mailbox, dom.hashdirpath),
        domain=dom.domain,
        object_id=address,
        mailhost=mailbox.mailhost,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="mailbox.create",
        request=request,
        object_type="mailbox",
        object_id=address,
        domain=dom.domain,
        changes=changes,
    )
    return mailbox


# --- update ------------------------------------------------------------------------------------
@transaction.atomic
def mailbox_update(
    *,
    mailbox: Mailbox,
    actor: Any,
    request: HttpRequest | None = None,
    name: Any = KEEP,
    password: Any = KEEP,
    quota: Any = KEEP,
    netdiskquota: Any = KEEP,
    expiredate: Any = KEEP,
    active: Any = KEEP,
    services: dict[str, bool] | None = None,
    disablepwdchange: Any = KEEP,
    question: Any = KEEP,
    answer: Any = KEEP,
    mailhost: Any = KEEP,
    uidnumber: Any = KEEP,
    gidnumber: Any = KEEP,
    forward_to: Any = KEEP,
    forward_keep_copy: Any = KEEP,
    internal_only: Any = KEEP,
) -> Mailbox:
    """Change a mailbox. ``KEEP`` (the default), an empty password and an empty answer leave
    a column as it is; only changed columns are written, so untouched legacy values keep their
    exact stored form."""
    _check_mailbox_visible(actor, mailbox)
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    dom = mailbox.domain
    before = snapshot(mailbox)
    errors: dict[str, list[str]] = {}

    def collect(check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
            return None

    collect(
        check_storable,
        name=None if name is KEEP else name,
        question=None if question is KEEP else question,
    )
    # A value equal to what the form showed keeps the stored form (spaces, legacy quotas).
    if name is not KEEP and name.strip() != mailbox.name.strip():
        mailbox.name = name.strip()
    if password not in (KEEP, None, ""):
        hashed = collect(_check_password, password)
        if hashed:
            mailbox.password = hashed
    old_quota, old_netdisk = mailbox.quota_bytes, mailbox.netdisk_bytes
    if quota is not KEEP and quota is not None and quota != quota_mb(mailbox.quota):
        text = collect(_quota_string, "quota", quota, mailbox.quota)
        if text is not None:
            mailbox.quota = text
    if (
        netdiskquota is not KEEP
        and netdiskquota is not None
        and netdiskquota != quota_mb(mailbox.netdiskquota)
    ):
        text = collect(_quota_string, "netdiskquota", netdiskquota, mailbox.netdiskquota)
        if text is not None:
            mailbox.netdiskquota = text
    if expiredate is not KEEP and expiredate != mailbox.expiredate:
        collect(_check_expiry, dom, expiredate)
        mailbox.expiredate = expiredate
    if active is not KEEP and bool(active) != bool(mailbox.active):
        mailbox.active = bool(active)
    if services:
        collect(_check_services, actor, dom, services, mailbox)
        for service, enabled in services.items():
            mailbox.set_service_enabled(service, bool(enabled))
    if disablepwdchange is not KEEP and bool(disablepwdchange) != bool(mailbox.disablepwdchange):
        mailbox.disablepwdchange = 1 if disablepwdchange else 0
    if question is not KEEP and question.strip() != mailbox.question.strip():
        mailbox.question = question.strip()
    if answer not in (KEEP, None) and answer.strip():
        mailbox.answer = stored_recovery_answer(answer)
    if mailhost is not KEEP and mailhost is not None:
        collect(_check_mailhost, actor, mailhost, mailbox.mailhost)
        mailbox.mailhost = mailhost
    new_uid = mailbox.uidnumber if uidnumber in (KEEP, None) else uidnumber
    new_gid = mailbox.gidnumber if gidnumber in (KEEP, None) else gidnumber
    collect(
        _check_ids,
        actor,
        uidnumber=new_uid,
        gidnumber=new_gid,
        current=(mailbox.uidnumber, mailbox.gidnumber),
    )
    mailbox.uidnumber, mailbox.gidnumber = new_uid, new_gid
    targets = None
    if forward_to is not KEEP:
        targets = collect(normalize_forward_targets, list(forward_to or []))
    quota_delta = mailbox.quota_bytes - old_quota
    netdisk_delta = mailbox.netdisk_bytes - old_netdisk
    quota_changed = mailbox.quota != before["quota"]
    if not errors and (quota_changed or mailbox.netdiskquota != before["netdiskquota"]):
        lock_domain(dom.domain)
        collect(
            _check_limits,
            dom,
            quota_delta=quota_delta,
            netdisk_delta=netdisk_delta,
            new_quota=mailbox.quota_bytes if quota_changed else None,
        )
    if errors:
        raise ValidationError(errors)

    after = snapshot(mailbox)
    changed = [name for name in after if after[name] != before[name]]
    if changed:
        mailbox.save(update_fields=changed)
        usage_change(dom.domain, quota=quota_delta, netdisk=netdisk_delta)
    changes = diff(before, after)
    if targets is not None:
        keep = forwarding_of(mailbox)[1] if forward_keep_copy is KEEP else bool(forward_keep_copy)
        forwarding = _set_forwarding(mailbox, targets, keep)
        if forwarding:
            changes["forward_to"] = list(forwarding)
    if internal_only is not KEEP and internal_only_set(
        address=mailbox.username, domain=dom.domain, value=bool(internal_only), actor=actor
    ):
        changes["internal_only"] = [not internal_only, bool(internal_only)]
    if "active" in changed:
        # A disabled mailbox stops forwarding too.
        Alias.objects.filter(pk=mailbox.username).update(active=mailbox.active)
    if quota_changed:
        job_record(
            kind=Job.Kind.MAILDIR_QUOTA,
            payload=_maildir_payload(mailbox, dom.hashdirpath),
            domain=dom.domain,
            object_id=mailbox.username,
            mailhost=mailbox.mailhost,
            created_by=actor,
        )
    if changes:
        audit_record(
            actor=actor,
            action="mailbox.update",
            request=request,
            object_type="mailbox",
            object_id=mailbox.username,
            domain=dom.domain,
            changes=changes,
        )
    return mailbox


# --- rename ------------------------------------------------------------------------------------
@transaction.atomic
def mailbox_rename(
    *, mailbox: Mailbox, local_part: str, actor: Any, request: HttpRequest | None = None
) -> Mailbox:
    """Give a mailbox a new local part in the same domain, with its aliases and Maildir."""
    _check_mailbox_visible(actor, mailbox)
    old = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    local, new_address = new_mailbox_address(old.domain_id, local_part)
    if new_address == old.username:
        raise ValidationError({"local_part": _("This is already the mailbox's address.")})
    lock_domain(old.domain_id)
    owner = address_owner(new_address)
    if owner:
        raise ValidationError({"local_part": address_in_use_message(new_address, owner)})
    before = snapshot(old)
    old_address, old_local = old.username, old.uid or old.local_part
    new = Mailbox.objects.get(pk=old_address)
    new.username, new.uid = new_address, local
    new.homedir = renamed_path(old.homedir, old_local, local)
    new.maildir = renamed_path(old.maildir, old_local, local)
    if new.homedir != old.homedir or new.maildir != old.maildir:
        # Its directory moves with it: only when it is its own, to a place no one else uses.
        problem = mailbox_home_problem(old) or home_problem(
            address=new_address,
            domain=new.domain_id,
            hashdirpath=Domain.objects.filter(pk=new.domain_id)
            .values_list("hashdirpath", flat=True)
            .first()
            or "",
            homedir=new.homedir,
            maildir=new.maildir,
            also_excluded=(old_address,),
        )
        if problem:
            raise ValidationError(
                {
                    "local_part": _(
                        "The mailbox's directory cannot be moved safely: %(problem)s Settle it"
                        " by hand first."
                    )
                    % {"problem": problem}
                }
            )
    new.save(force_insert=True)
    Mailbox.objects.filter(pk=old_address).delete()

    forwarding = Alias.objects.select_for_update().filter(pk=old_address).first()
    if forwarding is not None:
        targets = [new_address if t == old_address else t for t in forwarding.targets]
        Alias.objects.create(
            address=new_address,
            goto=",".join(targets),
            domain_id=forwarding.domain_id,
            createdate=forwarding.createdate,
            active=forwarding.active,
        )
        forwarding.delete()
    changed, _deleted = _replace_in_alias_targets(
        old_address, new_address, actor=actor, request=request
    )
    internal_only_rename(old=old_address, new=new_address, domain=new.domain_id, actor=actor)
    if new.homedir != old.homedir or new.maildir != old.maildir:
        hashdirpath = (
            Domain.objects.filter(pk=new.domain_id).values_list("hashdirpath", flat=True).first()
        )
        job_record(
            kind=Job.Kind.MAILDIR_MOVE,
            payload={
                "old_address": old_address,
                "old_homedir": old.homedir,
                "new_homedir": new.homedir,
                "old_maildir": old.maildir,
                "new_maildir": new.maildir,
                "hashdirpath": hashdirpath or "",
            },
            domain=new.domain_id,
            object_id=new_address,
            mailhost=new.mailhost,
            created_by=actor,
            addresses=[old_address, new_address],
        )
    audit_record(
        actor=actor,
        action="mailbox.rename",
        request=request,
        object_type="mailbox",
        object_id=new_address,
        domain=new.domain_id,
        changes=diff(before, snapshot(new)),
        message=_("renamed from %(old)s; aliases updated: %(aliases)s")
        % {"old": old_address, "aliases": ", ".join(changed) or "-"},
    )
    return new


# --- delete ------------------------------------------------------------------------------------
@dataclass
class DeleteResult:
    address: str
    changed_aliases: list[str] = field(default_factory=list)
    deleted_aliases: list[str] = field(default_factory=list)
    purged: bool = False
    #: Why the mailbox's data cannot be archived or deleted (its home is not its own), or "".
    home_problem: str = ""


@transaction.atomic
def mailbox_delete(
    *, mailbox: Mailbox, actor: Any, request: HttpRequest | None = None, purge: bool = False
) -> DeleteResult:
    """Delete a mailbox, take its address out of every alias, and queue the archiving (or,
    when ``purge`` and ``MAILADMIN_PURGE_ALLOWED``, the deletion) of its data."""
    _check_mailbox_visible(actor, mailbox)
    if purge and not settings.MAILADMIN_PURGE_ALLOWED:
        raise ValidationError({"purge": _("Deleting mailbox data is disabled on this server.")})
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    before = snapshot(mailbox)
    address = mailbox.username
    problem = mailbox_home_problem(mailbox) or ""
    Mailbox.objects.filter(pk=address).delete()
    Alias.objects.filter(pk=address).delete()
    usage_change(
        mailbox.domain_id,
        mailboxes=-1,
        quota=-mailbox.quota_bytes,
        netdisk=-mailbox.netdisk_bytes,
    )
    changed, deleted = _replace_in_alias_targets(address, None, actor=actor, request=request)
    internal_only_forget(address=address, actor=actor)
    kind = Job.Kind.MAILDIR_PURGE if purge else Job.Kind.MAILDIR_ARCHIVE
    # Recorded even when the home is not the mailbox's own: the job then fails with the
    # reason and touches nothing, and the failure stays on the jobs page for an admin.
    job_record(
        kind=kind,
        payload={
            "homedir": mailbox.homedir,
            "maildir": mailbox.maildir,
            "hashdirpath": (
                Domain.objects.filter(pk=mailbox.domain_id)
                .values_list("hashdirpath", flat=True)
                .first()
                or ""
            ),
        },
        domain=mailbox.domain_id,
        object_id=address,
        mailhost=mailbox.mailhost,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="mailbox.delete",
        request=request,
        object_type="mailbox",
        object_id=address,
        domain=mailbox.domain_id,
        changes=diff(before, {}),
        message=_("data %(fate)s; aliases changed: %(changed)s; aliases deleted: %(deleted)s")
        % {
            "fate": (
                _("left on disk: %(problem)s") % {"problem": problem}
                if problem
                else _("purged")
                if purge
                else _("archived")
            ),
            "changed": ", ".join(changed) or "-",
            "deleted": ", ".join(deleted) or "-",
        },
    )
    return DeleteResult(address, changed, deleted, purge, problem)


# --- bulk --------------------------------------------------------------------------------------
@dataclass
class BulkResult:
    action: str
    addresses: list[str]
    passwords: dict[str, str] = field(default_factory=dict)
    changed_aliases: list[str] = field(default_factory=list)
    deleted_aliases: list[str] = field(default_factory=list)


def _bulk_error(address: str, exc: ValidationError) -> ValidationError:
    return ValidationError(
        {
            key: [f"{address}: {message}" for message in messages]
            for key, messages in exc.message_dict.items()
        }
    )


@transaction.atomic
def mailbox_bulk(
    *,
    action: str,
    addresses: list[str],
    actor: Any,
    request: HttpRequest | None = None,
    quota: int | None = None,
    purge: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BulkResult:
    """Apply one action to several mailboxes, all or nothing.

    Raises ``Mailbox.DoesNotExist`` when any address is not a mailbox the actor may see.
    Generated passwords are returned once in the result and stored only as hashes.
    ``progress(done)`` is called after each mailbox (a background operation's progress bar).
    """
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Choose an action.")})
    wanted = sorted(set(addresses))
    if not wanted:
        raise ValidationError({"addresses": _("Select at least one mailbox.")})
    mailboxes = list(
        Mailbox.objects.visible_to(actor).select_related("domain").filter(pk__in=wanted)
    )
    if len(mailboxes) != len(wanted):
        raise Mailbox.DoesNotExist("some selected mailboxes do not exist or are not visible")
    if action == "set_quota" and (quota is None or quota < 0):
        raise ValidationError({"quota": _("Enter the new quota in MB.")})
    if action == "delete" and purge and not settings.MAILADMIN_PURGE_ALLOWED:
        raise ValidationError({"purge": _("Deleting mailbox data is disabled on this server.")})
    result = BulkResult(action=action, addresses=[m.username for m in mailboxes])
    for done, mailbox in enumerate(mailboxes, start=1):
        try:
            if action in ("enable", "disable"):
                mailbox_update(
                    mailbox=mailbox, actor=actor, request=request, active=action == "enable"
                )
            elif action == "set_quota":
                mailbox_update(mailbox=mailbox, actor=actor, request=request, quota=quota)
            elif action == "delete":
                deleted = mailbox_delete(mailbox=mailbox, actor=actor, request=request, purge=purge)
                result.changed_aliases += deleted.changed_aliases
                result.deleted_aliases += deleted.deleted_aliases
            else:
                password = generate_password()
                mailbox_update(mailbox=mailbox, actor=actor, request=request, password=password)
                result.passwords[mailbox.username] = password
        except ValidationError as exc:
            raise _bulk_error(mailbox.username, exc) from exc
        if progress is not None:
            progress(done)
    # An alias changed by one deletion may be deleted by a later one.
    result.changed_aliases = sorted(
        set(result.changed_aliases) - set(result.deleted_aliases) - set(result.addresses)
    )
    result.deleted_aliases = sorted(set(result.deleted_aliases))
    return result


# --- import ------------------------------------------------------------------------------------
class ImportRejected(ValidationError):
    """An import that wrote nothing: ``lines`` lists ``(line, message)``, line ``None`` for
    what concerns the whole file (such as the domain's limits)."""

    def __init__(self, lines: list[tuple[int | None, str]]) -> None:
        self.lines = sorted(lines, key=lambda item: -1 if item[0] is None else item[0])
        super().__init__(
            [
                message
                if line is None
                else _("Line %(line)s: %(message)s") % {"line": line, "message": message}
                for line, message in self.lines
            ]
        )


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


def _import_quota(value: Any) -> int | None:
    """A row's quota in MB: empty for the domain template's."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError({"quota": _("Enter the quota as a whole number of MB.")}) from None


@transaction.atomic
def mailbox_import(
    *,
    domain: str,
    rows: list[dict[str, Any]],
    actor: Any,
    request: HttpRequest | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Mailbox]:
    """Create many mailboxes of ``domain`` at once, all or nothing (SPEC §3.4, §7.1).

    Each row is a dict with ``local_part``, ``name``, ``password`` and an optional ``quota``
    (MB; empty for the domain template's) and, optionally, the ``line`` of the file it came
    from (its position in ``rows`` otherwise). The rules are those of :func:`mailbox_create`:
    every row is checked (also against the other rows and against the addresses already in
    use, looked up for the whole batch at once), then the domain's limits for the whole batch
    under the domain's row lock. Any problem raises :class:`ImportRejected` with every line's
    messages, and nothing is written.

    Otherwise the rows are inserted in bulk, the domain's usage figures change once, the audit
    log gets one ``mailbox.create`` entry per mailbox (so that each mailbox's history starts
    like that of a mailbox created by the form), and the Maildirs are queued as
    ``maildir.create_batch`` jobs of :data:`MAILDIR_BATCH_SIZE` mailboxes each. The number of
    queries does not grow with the number of rows, except for one INSERT per
    :data:`INSERT_BATCH_SIZE` rows and one job row per :data:`MAILDIR_BATCH_SIZE` mailboxes.

    ``progress(done)`` is called as the rows are checked (hashing their passwords is most of
    the time an import takes) and with the number of rows once everything is written.
    """
    _check_domain_visible(actor, domain)
    if not rows:
        raise ImportRejected([(None, _("The file holds no mailboxes."))])
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportRejected(
            [(None, _("Import at most %(max)s mailboxes at once.") % {"max": MAX_IMPORT_ROWS})]
        )
    dom = lock_domain(domain)
    problems: list[tuple[int | None, str]] = []

    def collect(line: int | None, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            problems.extend((line, message) for message in _messages(exc))
            return None

    # What every row takes from the domain template, checked once.
    expiredate = dom.default_mailbox_expiry()
    collect(None, _check_expiry, dom, expiredate)
    services = _template_services(dom)
    collect(None, _check_services, actor, dom, services, None)
    netdisk_text = collect(None, _template_quota, dom, "netdiskquota", None)

    first_line: dict[str, int] = {}
    candidates: list[tuple[int, str, str, dict[str, Any]]] = []
    for index, row in enumerate(rows, start=1):
        line = int(row.get("line") or index)
        new = collect(line, new_mailbox_address, dom.domain, str(row.get("local_part") or ""))
        if new is None:
            continue
        local, address = new
        if address in first_line:
            problems.append(
                (
                    line,
                    _("%(address)s is already on line %(first)s of the file.")
                    % {"address": address, "first": first_line[address]},
                )
            )
            continue
        first_line[address] = line
        candidates.append((line, local, address, row))

    owners = address_owners(first_line)
    name_length = Mailbox._meta.get_field("name").max_length
    accepted: list[tuple[str, str, str, str]] = []  # local, hash, name, quota string
    quota_total = 0
    for checked, (line, local, address, row) in enumerate(candidates):
        if progress is not None:
            progress(checked)
        before = len(problems)
        owner = owners.get(address)
        if owner:
            problems.append((line, address_in_use_message(address, owner)))
        name = str(row.get("name") or "").strip()
        collect(line, check_storable, name=name)
        if len(name) > name_length:
            problems.append(
                (line, _("The name is longer than %(max)s characters.") % {"max": name_length})
            )
        if has_control_characters(name):
            problems.append(
                (line, _("The name holds control characters (such as line breaks): remove them."))
            )
        hashed = collect(line, _check_password, str(row.get("password") or ""))
        quota_text = None
        megabytes = collect(line, _import_quota, row.get("quota"))
        if megabytes is not None or row.get("quota") in (None, ""):
            quota_text = collect(line, _template_quota, dom, "quota", megabytes)
        if quota_text is not None:
            # Only the rule on a quota of 0 in a domain with a total quota: no query.
            collect(line, _check_limits, dom, new_quota=quota_bytes(quota_text))
            quota_total += quota_bytes(quota_text)
        if len(problems) == before and hashed and quota_text is not None:
            accepted.append((local, hashed, name, quota_text))
    netdisk_each = quota_bytes(netdisk_text) if netdisk_text is not None else 0
    collect(
        None,
        _check_limits,
        dom,
        new_users=len(rows),
        quota_delta=quota_total,
        netdisk_delta=netdisk_each * len(rows),
    )
    if problems:
        raise ImportRejected(problems)

    now = local_now()
    mailboxes = [
        _new_mailbox(
            dom,
            local,
            password=hashed,
            name=name,
            quota=quota_text,
            netdiskquota=netdisk_text or "0",
            createdate=now,
            expiredate=expiredate,
            services=services,
        )
        for local, hashed, name, quota_text in accepted
    ]
    Mailbox.objects.bulk_create(mailboxes, batch_size=INSERT_BATCH_SIZE)
    usage_change(
        dom.domain,
        mailboxes=len(mailboxes),
        quota=quota_total,
        netdisk=netdisk_each * len(mailboxes),
    )
    message = _("imported from a file with %(count)s mailboxes") % {"count": len(mailboxes)}
    AuditEntry.objects.bulk_create(
        [
            audit_entry(
                actor=actor,
                action="mailbox.create",
                request=request,
                object_type="mailbox",
                object_id=mailbox.username,
                domain=dom.domain,
                changes=diff({}, snapshot(mailbox)),
                message=message,
            )
            for mailbox in mailboxes
        ],
        batch_size=INSERT_BATCH_SIZE,
    )
    for start in range(0, len(mailboxes), MAILDIR_BATCH_SIZE):
        batch = mailboxes[start : start + MAILDIR_BATCH_SIZE]
        first, last = batch[0].username, batch[-1].username
        job_record(
            kind=Job.Kind.MAILDIR_CREATE_BATCH,
            payload={
                "mailboxes": [
                    {"address": mailbox.username, **_maildir_payload(mailbox, dom.hashdirpath)}
                    for mailbox in batch
                ]
            },
            addresses=[mailbox.username for mailbox in batch],
            domain=dom.domain,
            object_id=first if first == last else f"{first} … {last}",
            mailhost="",
            created_by=actor,
        )
    if progress is not None:
        progress(len(rows))
    return mailboxes


def quota_mb(value: str | None) -> int:
    """A stored quota string in whole MB (for forms)."""
    return quota_bytes(value) // settings.MAILADMIN_QUOTA_MULTIPLIER
