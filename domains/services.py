"""Write paths for domains: create, update, delete and rename (SPEC §3.3).

Every function is atomic, re-checks that the actor is a superadmin, writes its audit record
in the same transaction and records the disk work as job rows that commit with the change.
Limits are checked after ``lock_domain()``: the row lock makes a concurrent mailbox or alias
creation (which locks the same row before its own limit check) wait for this transaction, so
a maximum can never end up below the domain's usage.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Case, Model, Value, When
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import DomainManager
from aliases import index as alias_index
from aliases.models import Alias
from aliases.services import alias_keep_targets
from audit.services import audit_record, diff, snapshot
from domains import pagemarks
from domains.models import Domain
from domains.selectors import domain_usage, lock_domain
from domains.usage import disk_usage_refresh, usage_create, usage_delete, usage_rename
from mailadmin.lib import dates
from mailadmin.lib.addresses import normalize_domain
from mailadmin.lib.fields import local_now
from mailadmin.lib.flags import SERVICE_NAMES
from mailadmin.lib.quota import parse_quota, quota_bytes, quota_from_mb
from mailboxes import indexes as mailbox_indexes
from mailboxes.homes import domain_directory, foreign_paths, home_problem, shares_with
from mailboxes.models import Mailbox, MailboxDiskUsage
from mailstack import services as mailstack
from provisioning.models import Job
from provisioning.services import job_record
from signup.services import signup_domain_deleted, signup_domain_renamed

# The values a form (or an API) may set, by form field name; quotas are in MB.
SETTING_FIELDS = (
    "description",
    "maxusers",
    "maxalias",
    "maxquota",
    "maxnetdiskquota",
    "transport",
    "can_signup",
    "active",
    "expiredate",
    "default_quota",
    "default_netdiskquota",
    "default_expire",
    *(f"enable_{service}" for service in SERVICE_NAMES),
)
QUOTA_FIELDS = ("maxquota", "maxnetdiskquota", "default_quota", "default_netdiskquota")
COUNT_FIELDS = ("maxusers", "maxalias")
MAX_INT = 2_147_483_647  # the legacy int columns
QUOTA_COLUMN_LENGTH = 16  # maxquota / maxnetdiskquota are varchar(16)
UPDATE_BATCH = 500

# A Postfix transport ``name:nexthop`` (either side may be empty, not both): a master.cf
# service name, then a host, [host], host:port, [IPv6] or unix socket path. No spaces, commas
# or control characters, which would break the generated maps.
TRANSPORT_RE = re.compile(r"^[A-Za-z0-9._-]*:[A-Za-z0-9._\-\[\]:/@]*$")


def default_description(name: str) -> str:
    """ExtMan's description of a new domain."""
    return f"virtualDomain for {name}"


def _require_superadmin(actor: Any) -> None:
    """Only a superadmin changes domains; a string actor is the system itself (the daily
    expiry run), which acts on the rules alone."""
    if isinstance(actor, str) and actor:
        return
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("only a superadmin may change domains")


def validate_transport(value: str) -> str:
    """The stored form of a transport (stripped); raises ValidationError."""
    text = (value or "").strip()
    if not text:
        return ""
    if len(text) > 255 or not TRANSPORT_RE.match(text) or text == ":":
        raise ValidationError(
            _(
                "Enter a Postfix transport such as smtp:[mail.example.com]:25 or"
                " lmtp:unix:private/dovecot-lmtp, without spaces or commas."
            ),
            code="invalid",
        )
    return text


def validate_lifetime(value: str | None) -> str:
    """A lifetime in its stored form (``1y``), or "" for none; raises ValidationError."""
    try:
        lifetime = dates.parse_lifetime(value)
    except ValueError as exc:
        raise ValidationError(
            _("Enter a lifetime such as 30d, 6w, 12m or 1y, or leave it empty."), code="invalid"
        ) from exc
    if lifetime is None:
        return ""
    number, unit = lifetime
    return f"{number}{unit}"


def isp_hashdirpath() -> str:
    """A random upper-case hex directory prefix of shape ``MAILADMIN_ISP_HASH`` (``2x2`` ->
    ``A0/B0``), as ExtMan's ISP mode gives a new domain."""
    length, depth = (int(part) for part in settings.MAILADMIN_ISP_HASH.lower().split("x"))
    return "/".join(
        "".join(secrets.choice("0123456789ABCDEF") for _i in range(length)) for _j in range(depth)
    )


def _quota_value(megabytes: int, previous: str | None) -> str:
    """The stored quota string for ``megabytes``; an unchanged MB value keeps the legacy
    string exactly (even one that is not a whole number of MB)."""
    try:
        if previous is not None and parse_quota(previous).megabytes() == megabytes:
            return previous
    except ValueError:
        if megabytes == 0:
            return previous  # unreadable legacy text reads as 0: left as it is
    return quota_from_mb(megabytes, previous)


def _apply_values(domain: Domain, values: Mapping[str, Any]) -> None:
    """Validate ``values`` (form field names, quotas in MB) and set them on ``domain``.

    Unchanged values keep their stored form, so NULLs and legacy quota strings survive an
    edit that does not touch them. Raises ValidationError with every field error at once.
    """
    unknown = set(values) - set(SETTING_FIELDS)
    if unknown:
        raise ValueError(f"unknown domain fields: {sorted(unknown)}")
    errors: dict[str, Any] = {}
    for field, value in values.items():
        try:
            _apply_value(domain, field, value)
        except ValidationError as exc:
            errors[field] = exc
    for maximum, template in (
        ("maxquota", "default_quota"),
        ("maxnetdiskquota", "default_netdiskquota"),
    ):
        if maximum not in values and template not in values:
            continue
        limit, default = (
            quota_bytes(getattr(domain, maximum)),
            quota_bytes(getattr(domain, template)),
        )
        if limit and default > limit and template not in errors:
            errors[template] = ValidationError(
                _("The default quota cannot be larger than the domain's maximum."), code="limit"
            )
    if errors:
        raise ValidationError(errors)


def _apply_value(domain: Domain, field: str, value: Any) -> None:
    if field in COUNT_FIELDS:
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_INT:
            raise ValidationError(_("Enter a whole number from 0 (unlimited) upwards."))
        setattr(domain, field, value)
    elif field in QUOTA_FIELDS:
        previous = getattr(domain, field)
        if value is None or value == "":
            if field.startswith("max"):
                raise ValidationError(_("Enter a size in MB, 0 for unlimited."))
            setattr(domain, field, None)  # no template quota (NULL, as ExtMan leaves it)
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValidationError(_("Enter a size in MB, 0 for unlimited."))
        stored = _quota_value(value, previous)
        if len(stored) > QUOTA_COLUMN_LENGTH:
            raise ValidationError(_("This size is too large."))
        setattr(domain, field, stored)
    elif field == "description":
        text = (value or "").strip()
        if len(text) > 255 or any(ord(c) < 32 for c in text):
            raise ValidationError(_("Use at most 255 characters on one line."))
        domain.description = text
    elif field == "transport":
        text = validate_transport(value)
        if text != (domain.transport or ""):
            domain.transport = text or None
    elif field == "default_expire":
        text = validate_lifetime(value)
        if text != (domain.default_expire or ""):
            domain.default_expire = text or None
    elif field == "expiredate":
        if value is not None and not hasattr(value, "isoformat"):
            raise ValidationError(_("Enter a date as YYYY-MM-DD, or leave it empty for never."))
        domain.expiredate = value
    elif field in ("can_signup", "active"):
        setattr(domain, field, bool(value))
    else:  # enable_<service>: the property keeps an unchanged NULL as NULL
        setattr(domain, field, bool(value))


@transaction.atomic
def domain_create(
    *, name: str, values: Mapping[str, Any], actor: Any, request: HttpRequest | None = None
) -> Domain:
    """Create a domain. ``values`` are form field names (quotas in MB); an empty description
    becomes ExtMan's ``virtualDomain for <domain>``. In ISP mode the domain gets a random
    hashed directory prefix."""
    _require_superadmin(actor)
    try:
        name = normalize_domain(name)
    except ValidationError as exc:
        raise ValidationError({"domain": exc}) from exc
    if Domain.objects.filter(pk=name).exists():
        raise ValidationError({"domain": _("The domain %(name)s already exists.") % {"name": name}})
    domain = Domain(
        domain=name,
        hashdirpath=isp_hashdirpath() if settings.MAILADMIN_ISP_MODE else "",
        createdate=local_now(),
    )
    _apply_values(domain, values)
    if not domain.description:
        domain.description = default_description(name)
    try:
        with transaction.atomic():
            domain.save(force_insert=True)
    except IntegrityError as exc:  # created by a concurrent request in the meantime
        raise ValidationError(
            {"domain": _("The domain %(name)s already exists.") % {"name": name}}
        ) from exc
    usage_create(name)
    mailstack.domain_tables_changed(actor=actor)
    audit_record(
        actor=actor,
        action="domain.create",
        request=request,
        object_type="domain",
        object_id=name,
        domain=name,
        changes=diff({}, snapshot(domain)),
    )
    return domain


@transaction.atomic
def domain_update(
    *,
    domain: Domain | str,
    values: Mapping[str, Any],
    apply_template: bool = False,
    actor: Any,
    request: HttpRequest | None = None,
) -> Domain:
    """Change a domain's settings. A maximum that changes may not go below the domain's
    current usage (0 = unlimited). ``apply_template`` copies the service template to every
    mailbox of the domain (one UPDATE, audited); otherwise mailboxes are left alone."""
    _require_superadmin(actor)
    name = domain.pk if isinstance(domain, Domain) else domain
    locked = lock_domain(name)
    before = snapshot(locked)
    _apply_values(locked, values)
    _check_limits_against_usage(locked, before)
    after = snapshot(locked)
    changes = diff(before, after)
    if changes:
        locked.save(force_update=True)
        mailstack.domain_tables_changed(changes=changes, actor=actor)
        audit_record(
            actor=actor,
            action="domain.update",
            request=request,
            object_type="domain",
            object_id=name,
            domain=name,
            changes=changes,
        )
    if apply_template:
        flags = {f"disable{s}": 0 if locked.service_enabled(s) else 1 for s in SERVICE_NAMES}
        count = Mailbox.objects.filter(domain_id=name).update(**flags)
        audit_record(
            actor=actor,
            action="domain.apply_template",
            request=request,
            object_type="domain",
            object_id=name,
            domain=name,
            changes={f"enable_{s}": [None, locked.service_enabled(s)] for s in SERVICE_NAMES},
            message=gettext_noop("service template applied to %(count)s mailboxes"),
            message_args={"count": count},
        )
    return locked


def _check_limits_against_usage(domain: Domain, before: Mapping[str, Any]) -> None:
    """A changed, limited maximum must hold the domain's current usage."""
    changed = [
        f
        for f in ("maxusers", "maxalias", "maxquota", "maxnetdiskquota")
        if before[f] != getattr(domain, f)
    ]
    if not changed:
        return
    usage = domain_usage(domain.pk)
    checks = {
        "maxusers": (
            domain.maxusers,
            usage.users,
            _("This is below the current usage: the domain has %(used)s mailboxes."),
        ),
        "maxalias": (
            domain.maxalias,
            usage.aliases,
            _("This is below the current usage: the domain has %(used)s aliases."),
        ),
        "maxquota": (
            domain.max_quota_bytes,
            usage.quota,
            _("This is below the current usage: its mailboxes have %(used)s MB of quota."),
        ),
        "maxnetdiskquota": (
            domain.max_netdisk_bytes,
            usage.netdisk,
            _("This is below the current usage: its mailboxes have %(used)s MB of netdisk quota."),
        ),
    }
    errors = {}
    for field in changed:
        limit, used, message = checks[field]
        if limit and limit < used:
            if field in ("maxquota", "maxnetdiskquota"):
                used = -(-used // settings.MAILADMIN_QUOTA_MULTIPLIER)  # MB, rounded up
            errors[field] = ValidationError(message % {"used": used}, code="usage")
    if errors:
        raise ValidationError(errors)


@dataclasses.dataclass
class DeleteResult:
    """Aliases of other domains whose targets at the deleted domain were removed."""

    changed_aliases: list[str] = dataclasses.field(default_factory=list)
    deleted_aliases: list[str] = dataclasses.field(default_factory=list)


MAX_NAMED_PROBLEMS = 10


def unsafe_homes(
    name: str, hashdirpath: str, rows: Iterable[tuple[str, str, str, str]]
) -> list[str]:
    """``address: problem`` for each mailbox of the domain ``name`` (rows of ``(address,
    mailhost, homedir, maildir)``) whose home a domain job may not archive or move: outside the
    domain's directory, the directory itself, or shared with another domain's mailbox. The
    other domains are looked up once per domain directory."""
    problems: list[str] = []
    foreign: dict[str, list] = {}
    for address, _mailhost, homedir, maildir in rows:
        problem = home_problem(
            address=address,
            domain=name,
            hashdirpath=hashdirpath,
            homedir=homedir,
            maildir=maildir,
            others=False,
        )
        if problem is None:
            directory = domain_directory(homedir, name, hashdirpath) or ""
            if directory not in foreign:
                foreign[directory] = foreign_paths(directory, name)
            shared = shares_with(homedir, foreign[directory])
            if shared:
                problem = _("the home directory %(path)s holds mail of %(others)s.") % {
                    "path": homedir,
                    "others": ", ".join(shared[:5]),
                }
        if problem:
            problems.append(f"{address}: {problem}")
    return problems


def _names_match(typed: str, name: str) -> bool:
    typed = (typed or "").strip()
    if typed == name:
        return True
    try:
        return normalize_domain(typed) == name
    except ValidationError:
        return False


def _by_mailhost(rows: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``(mailhost, path)`` rows grouped by storage host (always at least the default host)."""
    groups: dict[str, list[str]] = {}
    for mailhost, path in rows:
        groups.setdefault(mailhost or "", []).append(path)
    return groups or {"": []}


@transaction.atomic
def domain_delete(
    *,
    domain: Domain | str,
    delete_all: bool = False,
    confirm_domain: str = "",
    actor: Any,
    request: HttpRequest | None = None,
) -> DeleteResult:
    """Delete a domain. Refused while it has mailboxes or aliases, unless ``delete_all`` is
    set and ``confirm_domain`` repeats the domain name: then its mailboxes, aliases and
    ``domain_manager`` rows go too, and a job archives the domain's mail data (one job per
    storage host of its mailboxes: one on a single-host install). Targets at the domain are
    taken out of the aliases of other domains; the result names the aliases changed."""
    _require_superadmin(actor)
    name = domain.pk if isinstance(domain, Domain) else domain
    locked = lock_domain(name)
    mailboxes = Mailbox.objects.filter(domain_id=name)
    aliases = Alias.objects.filter(domain_id=name)
    rows = list(mailboxes.order_by("pk").values_list("username", "mailhost", "homedir", "maildir"))
    homes = [(mailhost, homedir) for _address, mailhost, homedir, _maildir in rows]
    alias_count = aliases.count()
    if homes or alias_count:
        if not delete_all:
            raise ValidationError(
                {
                    "delete_all": _(
                        "The domain still has %(mailboxes)s mailboxes and %(aliases)s aliases."
                        " Delete them first, or choose to delete them with the domain."
                    )
                    % {"mailboxes": len(homes), "aliases": alias_count}
                }
            )
        if not _names_match(confirm_domain, name):
            raise ValidationError({"confirm_domain": _("Type the domain name exactly to confirm.")})
    problems = unsafe_homes(name, locked.hashdirpath or "", rows)
    if problems:
        raise ValidationError(
            {
                "delete_all": [
                    _(
                        "The data of these mailboxes cannot be archived, because their"
                        " directories are not their own. Delete them one by one first (their"
                        " data stays on disk), or correct their paths:"
                    ),
                    *problems[:MAX_NAMED_PROBLEMS],
                    *(
                        [_("… and %(count)s more.") % {"count": len(problems) - MAX_NAMED_PROBLEMS}]
                        if len(problems) > MAX_NAMED_PROBLEMS
                        else []
                    ),
                ]
            }
        )
    before = snapshot(locked)
    mailboxes.delete()
    MailboxDiskUsage.objects.filter(domain=name).delete()
    # In one statement, without loading every row to signal it (the index follows below).
    aliases._raw_delete(aliases.db)
    alias_index.forget_domain(name)
    mailbox_indexes.forget_domain(name)
    pagemarks.forget_domains([name])
    managers = DomainManager.objects.filter(domain_id=name)
    manager_count = managers.count()
    managers.delete()
    signup_domain_deleted(name)
    Domain.objects.filter(pk=name).delete()
    usage_delete(name)
    changed, deleted = _remove_domain_targets(name, actor=actor, request=request)
    mailstack.internal_only_forget_domain(domain=name, actor=actor)
    by_host: dict[str, list[dict[str, str]]] = {"": []} if not rows else {}
    for address, mailhost, homedir, maildir in rows:
        by_host.setdefault(mailhost or "", []).append(
            {"address": address, "homedir": homedir, "maildir": maildir}
        )
    for mailhost, entries in by_host.items():
        job_record(
            kind=Job.Kind.DOMAIN_ARCHIVE,
            payload={"domain": name, "hashdirpath": locked.hashdirpath, "mailboxes": entries},
            domain=name,
            object_id=name,
            mailhost=mailhost,
            created_by=actor,
        )
    audit_record(
        actor=actor,
        action="domain.delete",
        request=request,
        object_type="domain",
        object_id=name,
        domain=name,
        changes=diff(before, {}),
        message=gettext_noop(
            "deleted with %(mailboxes)s mailboxes, %(aliases)s aliases and %(managers)s admin"
            " assignments; targets removed from aliases of other domains: %(changed)s; aliases"
            " left without targets and deleted: %(deleted)s"
        ),
        message_args={
            "mailboxes": len(homes),
            "aliases": alias_count,
            "managers": manager_count,
            "changed": ", ".join(changed) or "-",
            "deleted": ", ".join(deleted) or "-",
        },
    )
    return DeleteResult(changed_aliases=changed, deleted_aliases=deleted)


def _targets_in(goto: str, name: str) -> list[str]:
    """The targets of ``goto`` at the domain ``name`` (``x@name`` and ``@name``)."""
    return [t for t in Alias(goto=goto).targets if t.rpartition("@")[2].lower() == name]


def _remove_domain_targets(
    name: str, *, actor: Any, request: HttpRequest | None
) -> tuple[list[str], list[str]]:
    """Take every target at the deleted domain ``name`` out of the aliases of other domains
    (SPEC §3.3, as a mailbox deletion does for its address); an alias left without targets is
    deleted. Each change is audited. Returns ``(changed aliases, deleted aliases)``."""
    changed: list[str] = []
    deleted: list[str] = []
    candidates = Alias.objects.filter(pk__in=alias_index.aliases_targeting_domain(name)).order_by(
        "address"
    )
    for alias in candidates.select_for_update():
        removed = _targets_in(alias.goto, name)
        if not removed:
            continue  # only a longer domain name that contains this one
        address = alias.address
        gone = alias_keep_targets(
            alias,
            [t for t in alias.targets if t not in removed],
            actor=actor,
            request=request,
            message=gettext_noop("targets at %(domain)s removed (domain deleted)"),
            message_args={"domain": name},
        )
        (deleted if gone else changed).append(address)
    return changed, deleted


def _replace_domain_segment(path: str, old: str, new: str) -> str:
    """``path`` with its first segment equal to ``old`` replaced (the domain's directory
    comes before the user's, whose own name may equal the domain's); else unchanged."""
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment == old:
            segments[index] = new
            return "/".join(segments)
    return path


def _domain_directories(name: str, hashdirpath: str, homedirs: Iterable[str]) -> list[str]:
    """Every directory of the domain ``name`` on disk: ``<hashdirpath>/<name>`` (or ``<name>``)
    and, for legacy ISP-layout homes whose hash prefix the domain row no longer names, the
    directory of the domain inside each distinct prefix."""
    prefix = (hashdirpath or "").strip("/")
    directories = {f"{prefix}/{name}" if prefix else name}
    for homedir in homedirs:
        directory = domain_directory(homedir, name, hashdirpath)
        if directory:
            directories.add(directory)
    return sorted(directories)


_TARGET_SPLIT_RE = re.compile(r"([,\s]+)")


def _rename_targets(goto: str, old: str, new: str) -> str:
    """``goto`` with every target ``x@old`` or ``@old`` moved to ``new``; separators and all
    other targets are kept exactly as stored."""
    parts = _TARGET_SPLIT_RE.split(goto)
    for index, part in enumerate(parts):
        local, at, target_domain = part.rpartition("@")
        if at and target_domain.lower() == old:
            parts[index] = f"{local}{at}{new}"
    return "".join(parts)


def _update_rows(model: type[Model], rows: Mapping[str, Mapping[str, Any]]) -> None:
    """Set per-row values (``{pk: {field: value}}``, primary key included) in batches of
    CASE updates: a few queries for a domain of 20,000 mailboxes."""
    pk_name = model._meta.pk.name
    keys = list(rows)
    for start in range(0, len(keys), UPDATE_BATCH):
        batch = keys[start : start + UPDATE_BATCH]
        # MySQL assigns left to right and later CASEs would see the new key: key last.
        fields = sorted({f for key in batch for f in rows[key]}, key=lambda f: f == pk_name)
        updates = {
            field: Case(
                *(
                    When(**{pk_name: key}, then=Value(rows[key][field]))
                    for key in batch
                    if field in rows[key]
                ),
                default=field,
                output_field=model._meta.get_field(field),
            )
            for field in fields
        }
        model.objects.filter(pk__in=batch).update(**updates)


def _move_measurements(old: str, new: str, usernames: list[str]) -> None:
    """The renamed mailboxes keep their measured disk use; rows of mailboxes gone since the
    last measurement go."""
    renamed = {username: f"{username.rpartition('@')[0]}@{new}" for username in usernames}
    addresses = list(renamed.values())
    # Rows left under the new addresses (a mailbox of the same name measured long ago).
    for start in range(0, len(addresses), UPDATE_BATCH):
        MailboxDiskUsage.objects.filter(pk__in=addresses[start : start + UPDATE_BATCH]).delete()
    _update_rows(
        MailboxDiskUsage,
        {before: {"mailbox": after, "domain": new} for before, after in renamed.items()},
    )
    MailboxDiskUsage.objects.filter(domain=old).delete()


@transaction.atomic
def domain_rename(
    *, domain: Domain | str, new_name: str, actor: Any, request: HttpRequest | None = None
) -> Domain:
    """Rename a domain in one transaction: its mailboxes (address, domain, the domain's
    segment of homedir/maildir), its aliases (address, domain), every alias target at the old
    domain in any alias, its admin assignments, and the domain row itself (the primary key:
    a new row with the same values, then the old one deleted). A job then moves the domain's
    directory on disk; mail for the new name flows at once."""
    _require_superadmin(actor)
    old = domain.pk if isinstance(domain, Domain) else domain
    locked = lock_domain(old)
    try:
        new = normalize_domain(new_name)
    except ValidationError as exc:
        raise ValidationError({"domain": exc}) from exc
    if new == old:
        raise ValidationError({"domain": _("This is already the domain's name.")})
    taken = (
        Domain.objects.filter(pk=new).exists()
        or Mailbox.objects.filter(username__iendswith=f"@{new}").exists()
        or Alias.objects.filter(address__iendswith=f"@{new}").exists()
    )
    if taken:
        raise ValidationError({"domain": _("The domain %(name)s already exists.") % {"name": new}})
    homedirs = Mailbox.objects.filter(domain_id=old).values_list("homedir", flat=True)
    for directory in _domain_directories(old, locked.hashdirpath or "", homedirs):
        foreign = sorted({address for address, _path in foreign_paths(directory, old)})
        if foreign:
            raise ValidationError(
                {
                    "domain": _(
                        "The directory %(path)s holds mail of mailboxes of other domains"
                        " (%(others)s), so it cannot be moved: move their data out first."
                    )
                    % {"path": directory, "others": ", ".join(foreign[:5])}
                }
            )
    before = snapshot(locked)

    moved = Domain(**{f.attname: getattr(locked, f.attname) for f in Domain._meta.concrete_fields})
    moved.domain = new
    if moved.description == default_description(old):
        moved.description = default_description(new)
    try:
        with transaction.atomic():
            moved.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationError(
            {"domain": _("The domain %(name)s already exists.") % {"name": new}}
        ) from exc

    mailboxes = list(
        Mailbox.objects.filter(domain_id=old).values_list(
            "username", "homedir", "maildir", "mailhost"
        )
    )
    _update_rows(
        Mailbox,
        {
            username: {
                "username": f"{username.rpartition('@')[0]}@{new}",
                "homedir": _replace_domain_segment(homedir, old, new),
                "maildir": _replace_domain_segment(maildir, old, new),
            }
            for username, homedir, maildir, _mailhost in mailboxes
        },
    )
    Mailbox.objects.filter(domain_id=old).update(domain_id=new)
    measured = MailboxDiskUsage.objects.filter(domain=old).exists()
    if measured:
        _move_measurements(old, new, [username for username, *_rest in mailboxes])

    aliases = list(Alias.objects.filter(domain_id=old).values_list("address", flat=True))
    moved_aliases = {address: f"{address.rpartition('@')[0]}@{new}" for address in aliases}
    # Aliases anywhere (other domains' too) with a target in the old domain, by the index,
    # under the addresses they will have.
    pointing = [moved_aliases.get(a, a) for a in alias_index.aliases_targeting_domain(old)]
    _update_rows(Alias, {address: {"address": moved} for address, moved in moved_aliases.items()})
    Alias.objects.filter(domain_id=old).update(domain_id=new)

    targets = {
        address: {"goto": renamed}
        for address, goto in Alias.objects.filter(pk__in=pointing).values_list("address", "goto")
        if (renamed := _rename_targets(goto, old, new)) != goto
    }
    _update_rows(Alias, targets)
    # The rows changed in bulk (no model signals): the reverse index follows.
    alias_index.forget_domain(old)
    alias_index.index_domain(new)
    alias_index.index_aliases(targets)
    mailbox_indexes.rename_domain(old, new)
    pagemarks.forget_domains([old, new])

    manager_count = DomainManager.objects.filter(domain_id=old).update(domain_id=new)
    signup_domain_renamed(old, new)
    Domain.objects.filter(pk=old).delete()
    usage_rename(old, new)
    if measured:
        # Summed again: a legacy mailbox with an address elsewhere is now the domain's own.
        disk_usage_refresh([new])
    mailstack.internal_only_rename_domain(old=old, new=new, actor=actor)

    for mailhost, homedirs in _by_mailhost((m[3], m[1]) for m in mailboxes).items():
        job_record(
            kind=Job.Kind.DOMAIN_MOVE,
            payload={
                "old": old,
                "new": new,
                "hashdirpath": locked.hashdirpath,
                "moves": [
                    [directory, _replace_domain_segment(directory, old, new)]
                    for directory in _domain_directories(old, locked.hashdirpath or "", homedirs)
                ],
            },
            domain=new,
            object_id=new,
            mailhost=mailhost,
            created_by=actor,
            domains=[old],
        )
    audit_record(
        actor=actor,
        action="domain.rename",
        request=request,
        object_type="domain",
        object_id=new,
        domain=new,
        changes=diff(before, snapshot(moved)),
        message=gettext_noop(
            "renamed %(old)s to %(new)s: %(mailboxes)s mailboxes, %(aliases)s aliases,"
            " %(targets)s alias target lists, %(managers)s admin assignments"
        ),
        message_args={
            "old": old,
            "new": new,
            "mailboxes": len(mailboxes),
            "aliases": len(aliases),
            "targets": len(targets),
            "managers": manager_count,
        },
    )
    return moved
