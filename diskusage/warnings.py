"""Quota warnings (docs/disk-usage.md): a mail to a mailbox whose measured use crossed one of
``MAILADMIN_QUOTA_WARN_PERCENT`` (and, with ``MAILADMIN_QUOTA_WARN_ADMINS``, to its domain's
admins), once per crossing: the usage row keeps the highest threshold told
(``warned_percent``), claimed with a conditional update before the mail goes out, and lowered
again when the use goes back under it, so that the next crossing warns again. Written in the
site's language; audited as ``mailbox.quota_warning``."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import DomainManager, Manager
from audit.services import audit_record
from diskusage.services import SYSTEM_ACTOR
from mailboxes.models import MailboxDiskUsage
from signup.notifications import deliverable, send_each

log = logging.getLogger("mailadmin.usage")


def warning_level(percent: int | None, thresholds: list[int]) -> int:
    """The highest threshold ``percent`` has reached (0: none)."""
    if percent is None:
        return 0
    return max((t for t in thresholds if t <= percent), default=0)


def domain_admins(domain: str) -> list[str]:
    """The deliverable addresses of the domain's active admins (no superadmin fallback)."""
    names = DomainManager.objects.filter(domain_id=domain, active=True).values("manager_id")
    managers = Manager.objects.filter(pk__in=names).exclude(type="admin")
    return deliverable(sorted({m.username for m in managers if m.is_active}))


def quota_warnings_send() -> int:
    """Warn every mailbox that crossed a threshold since it was last told; re-arm those whose
    use went back under. Returns how many mailboxes were warned."""
    thresholds = settings.MAILADMIN_QUOTA_WARN_PERCENT
    # The join leaves out the rows of mailboxes deleted since they were measured.
    rows = MailboxDiskUsage.objects.filter(used_bytes__isnull=False).select_related("mailbox")
    if thresholds:
        rows = rows.filter(Q(percent__gte=min(thresholds)) | Q(warned_percent__gt=0))
    else:
        rows = rows.filter(warned_percent__gt=0)
    warned = 0
    with translation.override(settings.LANGUAGE_CODE):
        for row in rows.order_by("mailbox_id").iterator(chunk_size=1000):
            level = warning_level(row.percent, thresholds)
            if level == row.warned_percent:
                continue
            claimed = MailboxDiskUsage.objects.filter(
                pk=row.pk, warned_percent=row.warned_percent
            ).update(warned_percent=level)
            if not claimed or level < row.warned_percent:
                continue  # told by a run meanwhile, or re-armed
            if not row.mailbox.active:
                continue  # a disabled mailbox is not told (the level is kept all the same)
            _warn(row, level)
            warned += 1
    return warned


def _warn(row: MailboxDiskUsage, level: int) -> None:
    address = row.mailbox_id
    context = {
        "address": address,
        "percent": row.percent,
        "threshold": level,
        "used": row.used_bytes,
        "quota": row.quota_bytes,
        "messages": row.messages,
    }
    subject = _("Your mailbox %(address)s is %(percent)s%% full") % {
        "address": address,
        "percent": row.percent,
    }
    to = deliverable([address])
    send_each(subject, "diskusage/email/quota_warning.txt", context, to)
    admins: list[str] = []
    if settings.MAILADMIN_QUOTA_WARN_ADMINS:
        admins = domain_admins(row.domain)
        send_each(
            _("Mailbox %(address)s is %(percent)s%% full") % context,
            "diskusage/email/quota_warning_admin.txt",
            context,
            admins,
        )
    audit_record(
        actor=SYSTEM_ACTOR,
        action="mailbox.quota_warning",
        object_type="mailbox",
        object_id=address,
        domain=row.domain,
        message=_(
            "%(address)s uses %(percent)s%% of its quota (threshold %(threshold)s%%); told %(to)s"
        )
        % {**context, "to": ", ".join([*to, *admins]) or "-"},
    )
