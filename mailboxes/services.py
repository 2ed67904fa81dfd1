"""Every write path for mailboxes (SPEC §3.4).

Each service re-checks what the actor may do, validates the business rules, checks domain limits
under :func:`domains.selectors.lock_domain`, writes the audit record and records the Maildir
job in the same transaction. Rule violations raise ``ValidationError({field: message})`` before
anything is written (or inside the transaction, which then rolls back).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliases.models import Alias
from audit.services import audit_record, diff, snapshot
from domains.models import Domain
from domains.selectors import lock_domain
from domains.usage import disk_usage_forget, disk_usage_move, usage_change
from mailadmin.lib.addresses import normalize_local_part
from mailadmin.lib.fields import local_now
from mailadmin.lib.flags import SERVICE_NAMES
from mailadmin.lib.quota import quota_bytes
from mailadmin.lib.storable import check_storable
from mailadmin.selectors import address_in_use_message, address_owner
from mailboxes import indexes
from mailboxes.credentials import stored_recovery_answer
from mailboxes.forwarding import (
    forwarding_of,
    normalize_forward_targets,
    replace_in_alias_targets,
    set_forwarding,
)
from mailboxes.homes import home_problem, mailbox_home_problem, overlapping
from mailboxes.models import Mailbox
from mailboxes.paths import mailbox_paths, renamed_path
from mailboxes.rules import (
    check_domain_visible,
    check_expiry,
    check_ids,
    check_limits,
    check_mailbox_visible,
    check_mailhost,
    check_password,
    check_services,
    quota_string,
)
from mailstack.services import internal_only_forget, internal_only_rename, internal_only_set
from provisioning.models import Job
from provisioning.services import job_record


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The "leave this column as it is" default of :func:`mailbox_update`.
KEEP: Any = _Sentinel("KEEP")
#: The "take it from the domain template" default of :func:`mailbox_create`.
FROM_TEMPLATE: Any = _Sentinel("FROM_TEMPLATE")


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


def template_quota(dom: Domain, field_name: str, megabytes: int | None) -> str:
    """The stored quota string of a new mailbox; ``None`` takes the domain template's."""
    if field_name == "quota":
        default_bytes, default_text = dom.default_quota_bytes, dom.default_quota
    else:
        default_bytes, default_text = dom.default_netdisk_bytes, dom.default_netdiskquota
    if megabytes is None:
        megabytes = default_bytes // settings.MAILADMIN_QUOTA_MULTIPLIER
    return quota_string(field_name, megabytes, default_text, new=True)


def template_services(dom: Domain) -> dict[str, bool]:
    return {s: dom.service_enabled(s) for s in SERVICE_NAMES}


def new_mailbox_row(
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


def maildir_payload(mailbox: Mailbox, hashdirpath: str | None = None) -> dict[str, Any]:
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
    check_domain_visible(actor, domain)
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
    hashed = password_hash or collect(check_password, password)
    quota_text = collect(template_quota, dom, "quota", quota)
    netdisk_text = collect(template_quota, dom, "netdiskquota", netdiskquota)
    if expiredate is FROM_TEMPLATE:
        expiredate = dom.default_mailbox_expiry()
    collect(check_expiry, dom, expiredate)
    wanted = template_services(dom)
    wanted.update(services or {})
    collect(check_services, actor, dom, wanted, None)
    uidnumber = settings.MAILADMIN_DEFAULT_UID if uidnumber is None else uidnumber
    gidnumber = settings.MAILADMIN_DEFAULT_GID if gidnumber is None else gidnumber
    collect(check_ids, actor, uidnumber=uidnumber, gidnumber=gidnumber, current=None)
    collect(check_mailhost, actor, mailhost or "", None)
    targets = collect(normalize_forward_targets, list(forward_to)) or []
    if not errors:
        collect(
            check_limits,
            dom,
            new_users=1,
            quota_delta=quota_bytes(quota_text),
            netdisk_delta=quota_bytes(netdisk_text),
            new_quota=quota_bytes(quota_text),
        )
    if errors:
        raise ValidationError(errors)

    mailbox = new_mailbox_row(
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
    forwarding = set_forwarding(mailbox, targets, forward_keep_copy)
    if forwarding:
        changes["forward_to"] = list(forwarding)
    if internal_only_set(address=address, domain=dom.domain, value=internal_only, actor=actor):
        changes["internal_only"] = [not internal_only, bool(internal_only)]
    job_record(
        kind=Job.Kind.MAILDIR_CREATE,
        payload=maildir_payload(mailbox, dom.hashdirpath),
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
    check_mailbox_visible(actor, mailbox)
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
        hashed = collect(check_password, password)
        if hashed:
            mailbox.password = hashed
    old_quota, old_netdisk = mailbox.quota_bytes, mailbox.netdisk_bytes
    if quota is not KEEP and quota is not None and quota != quota_mb(mailbox.quota):
        text = collect(quota_string, "quota", quota, mailbox.quota)
        if text is not None:
            mailbox.quota = text
    if (
        netdiskquota is not KEEP
        and netdiskquota is not None
        and netdiskquota != quota_mb(mailbox.netdiskquota)
    ):
        text = collect(quota_string, "netdiskquota", netdiskquota, mailbox.netdiskquota)
        if text is not None:
            mailbox.netdiskquota = text
    if expiredate is not KEEP and expiredate != mailbox.expiredate:
        collect(check_expiry, dom, expiredate)
        mailbox.expiredate = expiredate
    if active is not KEEP and bool(active) != bool(mailbox.active):
        mailbox.active = bool(active)
    if services:
        collect(check_services, actor, dom, services, mailbox)
        for service, enabled in services.items():
            mailbox.set_service_enabled(service, bool(enabled))
    if disablepwdchange is not KEEP and bool(disablepwdchange) != bool(mailbox.disablepwdchange):
        mailbox.disablepwdchange = 1 if disablepwdchange else 0
    if question is not KEEP and question.strip() != mailbox.question.strip():
        mailbox.question = question.strip()
    if answer not in (KEEP, None) and answer.strip():
        mailbox.answer = stored_recovery_answer(answer)
    if mailhost is not KEEP and mailhost is not None:
        collect(check_mailhost, actor, mailhost, mailbox.mailhost)
        mailbox.mailhost = mailhost
    new_uid = mailbox.uidnumber if uidnumber in (KEEP, None) else uidnumber
    new_gid = mailbox.gidnumber if gidnumber in (KEEP, None) else gidnumber
    collect(
        check_ids,
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
            check_limits,
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
        forwarding = set_forwarding(mailbox, targets, keep)
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
            payload=maildir_payload(mailbox, dom.hashdirpath),
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
    check_mailbox_visible(actor, mailbox)
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
    indexes.forget_addresses([old_address])
    disk_usage_move(old_address, new_address)

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
    changed, _deleted = replace_in_alias_targets(
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
        message=gettext_noop("renamed from %(old)s; aliases updated: %(aliases)s"),
        message_args={"old": old_address, "aliases": ", ".join(changed) or "-"},
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
    check_mailbox_visible(actor, mailbox)
    if purge and not settings.MAILADMIN_PURGE_ALLOWED:
        raise ValidationError({"purge": _("Deleting mailbox data is disabled on this server.")})
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    before = snapshot(mailbox)
    address = mailbox.username
    problem = mailbox_home_problem(mailbox) or ""
    Mailbox.objects.filter(pk=address).delete()
    indexes.forget_addresses([address])
    Alias.objects.filter(pk=address).delete()
    disk_usage_forget(address)
    usage_change(
        mailbox.domain_id,
        mailboxes=-1,
        quota=-mailbox.quota_bytes,
        netdisk=-mailbox.netdisk_bytes,
    )
    changed, deleted = replace_in_alias_targets(address, None, actor=actor, request=request)
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
        message=(
            gettext_noop(
                "data left on disk: %(problem)s; aliases changed: %(changed)s;"
                " aliases deleted: %(deleted)s"
            )
            if problem
            else gettext_noop(
                "data purged; aliases changed: %(changed)s; aliases deleted: %(deleted)s"
            )
            if purge
            else gettext_noop(
                "data archived; aliases changed: %(changed)s; aliases deleted: %(deleted)s"
            )
        ),
        message_args={
            "problem": problem or "",
            "changed": ", ".join(changed) or "-",
            "deleted": ", ".join(deleted) or "-",
        },
    )
    return DeleteResult(address, changed, deleted, purge, problem)


def quota_mb(value: str | None) -> int:
    """A stored quota string in whole MB (for forms)."""
    return quota_bytes(value) // settings.MAILADMIN_QUOTA_MULTIPLIER
