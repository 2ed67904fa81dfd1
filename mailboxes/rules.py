"""The business rules every mailbox write checks: who may act, passwords, quotas, dates, ids,
services and the domain's limits. Each check raises ``ValidationError({field: message})``
(or ``PermissionDenied``) and writes nothing.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _

from domains.models import Domain
from domains.selectors import domain_usage
from mailadmin.lib.passwords import hash_password
from mailadmin.lib.quota import quota_for_new, quota_from_mb
from mailboxes.models import Mailbox

QUOTA_COLUMN_LENGTH = 16


def is_superadmin(actor: Any) -> bool:
    return bool(getattr(actor, "is_superadmin", False))


def check_domain_visible(actor: Any, domain: str) -> None:
    """A domain admin may only act inside their own domains (404-equivalent for the view).

    A string actor is the system itself (e.g. ``"signup"`` for an open-signup domain), which
    acts on the rules alone, with no manager's rights."""
    if isinstance(actor, str):
        return
    if not Domain.objects.visible_to(actor).filter(pk=domain).exists():
        raise PermissionDenied(f"{actor} may not manage mailboxes of {domain}")


def check_mailbox_visible(actor: Any, mailbox: Mailbox) -> None:
    """:func:`check_domain_visible` for an existing mailbox, by its row: its ``domain`` column
    and its address's own domain (``MailboxQuerySet.visible_to``)."""
    if isinstance(actor, str):
        return
    if not Mailbox.objects.visible_to(actor).filter(pk=mailbox.pk).exists():
        raise PermissionDenied(f"{actor} may not manage the mailbox {mailbox.pk}")


def quota_string(
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


def check_password(password: str, field_name: str = "password1") -> str:
    if not password:
        raise ValidationError({field_name: _("Enter a password.")})
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({field_name: exc.messages}) from exc
    return hash_password(password)


def check_expiry(domain: Domain, expiredate: datetime.date | None) -> None:
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


def check_ids(
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
        if not is_superadmin(actor):
            errors[name] = _("Only a superadmin can choose the uid and gid.")
        elif not low <= value <= high:
            errors[name] = _("Choose a number between %(low)s and %(high)s.") % {
                "low": low,
                "high": high,
            }
    if errors:
        raise ValidationError(errors)


def check_mailhost(actor: Any, mailhost: str, current: str | None) -> None:
    if mailhost == (current if current is not None else ""):
        return
    if not is_superadmin(actor):
        raise ValidationError({"mailhost": _("Only a superadmin can choose the storage host.")})
    if mailhost not in ("", *settings.MAILADMIN_STORAGE_HOSTS):
        raise ValidationError({"mailhost": _("Choose one of the configured storage hosts.")})


def check_services(
    actor: Any, domain: Domain, wanted: dict[str, bool], mailbox: Mailbox | None
) -> None:
    """A domain admin cannot grant a service the domain template disables."""
    if is_superadmin(actor):
        return
    errors = {}
    for service, enabled in wanted.items():
        already = mailbox is not None and mailbox.service_enabled(service)
        if enabled and not already and not domain.service_enabled(service):
            errors[f"enable_{service}"] = _("This domain does not allow this service.")
    if errors:
        raise ValidationError(errors)


def check_limits(
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
