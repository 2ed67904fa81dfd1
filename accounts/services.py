"""Write paths for managers (SPEC §1, §3.6): create, update, delete, set a password.

The ``manager`` row is written column by column (only what changed), its password column only
ever gets ``hash_password`` output (through ``Manager.set_password``), and the domain
assignment of a manager is its set of ``domain_manager`` rows, replaced as a whole.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.models import DomainManager, Manager, RecoveryCode, SecondFactor
from audit.services import audit_record, diff, snapshot
from domains.models import Domain
from mailadmin.lib import dates
from mailadmin.lib.addresses import normalize_address
from mailadmin.lib.fields import local_now

#: Columns of the manager row the panel edits (``password`` is masked in the audit log).
EDITABLE_FIELDS = ("name", "type", "expiredate", "active", "disablepwdchange", "password")
ROLES = {Manager.Role.SUPERADMIN.value, Manager.Role.DOMAIN_ADMIN.value}


def _require_superadmin(actor: Manager) -> None:
    if not (actor.is_authenticated and actor.is_superadmin):
        raise PermissionDenied


def _would_be_active_superadmin(role: str, active: bool, expiredate: datetime.date | None) -> bool:
    return role == Manager.Role.SUPERADMIN and active and not dates.is_expired(expiredate)


def _check_other_superadmin_remains(manager: Manager, message: str) -> None:
    """Refuse (with ``message``) when ``manager`` is the last active superadmin.

    The superadmin rows are locked so that two concurrent requests cannot each remove
    "another" superadmin and leave none.
    """
    others = Manager.objects.superadmins().exclude(pk=manager.pk).select_for_update()
    if not any(other.is_active for other in others):
        raise ValidationError(message)


def _links(manager: Manager) -> list[tuple[str, bool]]:
    """The manager's ``domain_manager`` rows as (domain, active), legacy duplicates included."""
    return list(
        DomainManager.objects.filter(manager_id=manager.pk).values_list("domain_id", "active")
    )


def _active_names(links: list[tuple[str, bool]]) -> list[str]:
    return sorted({domain for domain, active in links if active})


def assigned_domains(manager: Manager) -> list[str]:
    """The domains an active assignment gives ``manager`` (sorted, without duplicates)."""
    return _active_names(_links(manager))


def _clean_domains(domains: Iterable[str]) -> list[str]:
    wanted = sorted(set(domains))
    existing = set(Domain.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    unknown = [name for name in wanted if name not in existing]
    if unknown:
        raise ValidationError(
            {"domains": _("These domains do not exist: %s.") % ", ".join(unknown)}
        )
    return wanted


def _replace_domains(manager: Manager, domains: list[str]) -> None:
    """The manager's assignment becomes exactly ``domains`` (legacy duplicates go too)."""
    DomainManager.objects.filter(manager_id=manager.pk).delete()
    now = local_now()
    DomainManager.objects.bulk_create(
        DomainManager(manager_id=manager.pk, domain_id=name, createdate=now, active=True)
        for name in domains
    )


def _clean_role(role: str) -> str:
    if role not in ROLES:
        raise ValidationError({"type": _("Choose superadmin or domain admin.")})
    return role


@transaction.atomic
def manager_create(
    *,
    actor: Manager,
    username: str,
    password: str,
    name: str = "",
    type: str = Manager.Role.DOMAIN_ADMIN,  # the legacy column's name
    expiredate: datetime.date | None = None,
    active: bool = True,
    disablepwdchange: bool = False,
    domains: Iterable[str] = (),
    request: HttpRequest | None = None,
) -> Manager:
    """Create a manager (superadmins only) with its domain assignment."""
    _require_superadmin(actor)
    try:
        username = normalize_address(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from exc
    role = _clean_role(type)
    if not password:
        raise ValidationError({"password1": _("Enter a password.")})
    if Manager.objects.filter(pk=username).exists():
        raise ValidationError({"username": _("A manager with this username already exists.")})
    names = _clean_domains(domains)
    manager = Manager(
        username=username,
        name=name,
        type=role,
        expiredate=expiredate,
        active=active,
        disablepwdchange=1 if disablepwdchange else 0,
        createdate=local_now(),
    )
    manager.set_password(password)
    manager.save(force_insert=True)
    _replace_domains(manager, names)
    audit_record(
        actor=actor,
        action="manager.create",
        request=request,
        object_type="manager",
        object_id=manager.pk,
        changes=diff({}, {**snapshot(manager, EDITABLE_FIELDS), "domains": names}),
    )
    return manager


@transaction.atomic
def manager_update(
    *,
    actor: Manager,
    manager: Manager,
    name: str,
    type: str,  # the legacy column's name
    expiredate: datetime.date | None,
    active: bool,
    disablepwdchange: bool,
    domains: Iterable[str],
    password: str | None = None,
    request: HttpRequest | None = None,
) -> Manager:
    """Change a manager (superadmins only); an empty ``password`` keeps the current one.

    A legacy domain-admin type other than ``postmaster`` is kept unless the role changes.
    """
    _require_superadmin(actor)
    role = _clean_role(type)
    manager = Manager.objects.select_for_update().get(pk=manager.pk)
    names = _clean_domains(domains)
    if (
        manager.is_active
        and manager.is_superadmin
        and not _would_be_active_superadmin(role, active, expiredate)
    ):
        _check_other_superadmin_remains(
            manager,
            _(
                "%s is the last active superadmin: keep them an active, unexpired superadmin"
                " or make someone else superadmin first."
            )
            % manager.pk,
        )
    links = _links(manager)
    before = {**snapshot(manager, EDITABLE_FIELDS), "domains": _active_names(links)}
    manager.name = name
    if (role == Manager.Role.SUPERADMIN) != manager.is_superadmin:
        manager.type = role
    manager.expiredate = expiredate
    manager.active = active
    if bool(manager.disablepwdchange) != disablepwdchange:
        manager.disablepwdchange = 1 if disablepwdchange else 0
    if password:
        manager.set_password(password)
    after_row = snapshot(manager, EDITABLE_FIELDS)
    changed = [field for field in EDITABLE_FIELDS if before[field] != after_row[field]]
    if changed:
        manager.save(update_fields=changed)
    # Rewritten also when only legacy duplicates or inactive rows differ from the choice.
    if sorted(domain for domain, _active in links) != names or not all(a for _d, a in links):
        _replace_domains(manager, names)
    changes = diff(before, {**after_row, "domains": names})
    if changes:
        audit_record(
            actor=actor,
            action="manager.update",
            request=request,
            object_type="manager",
            object_id=manager.pk,
            changes=changes,
        )
    return manager


@transaction.atomic
def manager_delete(*, actor: Manager, manager: Manager, request: HttpRequest | None = None) -> None:
    """Delete a manager and its domain assignment (superadmins only, never oneself)."""
    _require_superadmin(actor)
    if manager.pk == actor.pk:
        raise ValidationError(_("You cannot delete your own account."))
    manager = Manager.objects.select_for_update().get(pk=manager.pk)
    if manager.is_superadmin and manager.is_active:
        _check_other_superadmin_remains(
            manager, _("%s is the last active superadmin and cannot be deleted.") % manager.pk
        )
    before: dict[str, Any] = {
        **snapshot(manager, ("name", "type", "expiredate", "active")),
        "domains": assigned_domains(manager),
    }
    DomainManager.objects.filter(manager_id=manager.pk).delete()
    SecondFactor.objects.filter(manager=manager.pk).delete()
    RecoveryCode.objects.filter(manager=manager.pk).delete()
    Manager.objects.filter(pk=manager.pk).delete()
    audit_record(
        actor=actor,
        action="manager.delete",
        request=request,
        object_type="manager",
        object_id=manager.pk,
        changes=diff(before, {}),
    )


@transaction.atomic
def manager_set_password(
    *,
    actor: Manager,
    manager: Manager,
    password: str,
    request: HttpRequest | None = None,
) -> Manager:
    """Set a manager's password: a superadmin for anyone, a manager for themselves unless
    ``disablepwdchange`` is set. Callers check the old password of a self-service change."""
    if not password:
        raise ValidationError({"password1": _("Enter a password.")})
    is_self = actor.pk == manager.pk
    if not is_self and not actor.is_superadmin:
        raise PermissionDenied
    manager = Manager.objects.select_for_update().get(pk=manager.pk)
    if is_self and manager.password_change_disabled:
        raise ValidationError(_("Changing the password of this account is disabled."))
    manager.set_password(password)
    manager.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="manager.password",
        request=request,
        object_type="manager",
        object_id=manager.pk,
        changes=diff({"password": ""}, {"password": manager.password}),
    )
    return manager
