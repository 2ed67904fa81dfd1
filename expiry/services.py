"""The expiry run (ExtMan's ``expireusers.pl``): mailboxes and domains past their expiry date,
and notices before it (docs/jobs.md, "Expiry").

An expiry date is the last valid day; ``0000-00-00`` ("never") never expires. A mailbox without
a date of its own follows its domain: an expired domain is disabled itself (``active = 0``), and
the generated Postfix/Dovecot/authlib queries refuse every mailbox of an inactive domain, so its
mailboxes stop with it and come back with it when the domain is renewed and enabled again; their
own rows are not changed. A mailbox past its own date is disabled. Both go through the services
an admin's change goes through (``mailbox_update``, ``domain_update``), audited with the system
actor ``expiry``.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_noop

from audit.services import audit_record
from domains.models import Domain
from domains.services import domain_update
from expiry import notifications
from expiry.models import ExpiryNotice
from mailadmin.lib import dates
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_update

log = logging.getLogger("mailadmin.expiry")

#: The actor of the audit records the run writes.
SYSTEM_ACTOR = "expiry"
ACTIONS = ("disable", "report")


@dataclass
class Notice:
    """A notice due: ``days`` is the threshold, ``left`` the days until the expiry date."""

    object_type: str
    object_id: str
    domain: str
    expiredate: datetime.date
    days: int
    left: int
    thresholds: list[int] = field(default_factory=list)


@dataclass
class ExpiryReport:
    today: datetime.date
    action: str
    dry_run: bool
    #: ``(name, expiry date)`` of the active domains and mailboxes past their date.
    expired_domains: list[tuple[str, datetime.date]] = field(default_factory=list)
    expired_mailboxes: list[tuple[str, datetime.date]] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    mails: int = 0
    #: ``(object, reason)`` of what could not be disabled.
    failures: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "action": self.action,
            "dry_run": self.dry_run,
            "expired_domains": [name for name, _date in self.expired_domains],
            "expired_mailboxes": [name for name, _date in self.expired_mailboxes],
            "disabled": self.disabled,
            "notices": [f"{n.object_type}:{n.object_id}:{n.days}" for n in self.notices],
            "mails": self.mails,
            "failures": [f"{name}: {reason}" for name, reason in self.failures],
        }


def expired_domains(today: datetime.date) -> list[tuple[str, datetime.date]]:
    """Active domains whose expiry date has passed."""
    rows = Domain.objects.filter(active=True, expiredate__isnull=False, expiredate__lt=today)
    return [(name, date) for name, date in rows.order_by("pk").values_list("pk", "expiredate")]


def expired_mailboxes(today: datetime.date) -> list[tuple[str, datetime.date]]:
    """Active mailboxes whose own expiry date has passed."""
    rows = Mailbox.objects.filter(active=True, expiredate__isnull=False, expiredate__lt=today)
    return [(name, date) for name, date in rows.order_by("pk").values_list("pk", "expiredate")]


def _thresholds(left: int) -> list[int]:
    return [days for days in settings.MAILADMIN_EXPIRY_NOTICE_DAYS if left <= days]


def due_notices(today: datetime.date) -> list[Notice]:
    """The notices the run sends today: for each active mailbox and domain expiring within the
    largest threshold, the smallest threshold reached and not yet noticed for this date."""
    if not settings.MAILADMIN_EXPIRY_NOTICE_DAYS:
        return []
    until = today + datetime.timedelta(days=max(settings.MAILADMIN_EXPIRY_NOTICE_DAYS))
    candidates: list[tuple[str, str, str, datetime.date]] = [
        (ExpiryNotice.ObjectType.DOMAIN, name, name, date)
        for name, date in Domain.objects.filter(
            active=True, expiredate__isnull=False, expiredate__gte=today, expiredate__lte=until
        ).values_list("pk", "expiredate")
    ]
    candidates += [
        (ExpiryNotice.ObjectType.MAILBOX, address, domain, date)
        for address, domain, date in Mailbox.objects.filter(
            active=True,
            domain__active=True,
            expiredate__isnull=False,
            expiredate__gte=today,
            expiredate__lte=until,
        ).values_list("pk", "domain_id", "expiredate")
    ]
    sent: dict[tuple[str, str, datetime.date], set[int]] = defaultdict(set)
    for object_type, object_id, date, days in ExpiryNotice.objects.filter(
        expiredate__gte=today
    ).values_list("object_type", "object_id", "expiredate", "days"):
        sent[(object_type, object_id, date)].add(days)
    notices = []
    for object_type, object_id, domain, date in sorted(candidates):
        left = (date - today).days
        reached = _thresholds(left)
        new = set(reached) - sent[(object_type, object_id, date)]
        if not new:
            continue
        notices.append(
            Notice(object_type, object_id, domain, date, min(new), left, thresholds=reached)
        )
    return notices


def _record_notice(notice: Notice) -> bool:
    """Write the notice's rows (every threshold it reached); False when another run wrote
    them first (the unique constraint), so that only one run sends it."""
    try:
        with transaction.atomic():
            ExpiryNotice.objects.create(
                object_type=notice.object_type,
                object_id=notice.object_id,
                domain=notice.domain,
                expiredate=notice.expiredate,
                days=notice.days,
            )
            for days in notice.thresholds:
                ExpiryNotice.objects.get_or_create(
                    object_type=notice.object_type,
                    object_id=notice.object_id,
                    expiredate=notice.expiredate,
                    days=days,
                    defaults={"domain": notice.domain},
                )
    except IntegrityError:
        return False
    return True


def _disable(report: ExpiryReport, kind: str, name: str, work: Any) -> None:
    try:
        work()
    except Exception as exc:  # a hostile legacy row must not stop the run
        log.warning("expiry: could not disable %s %s: %s", kind, name, exc)
        report.failures.append((name, f"{type(exc).__name__}: {exc}"))
    else:
        report.disabled.append(name)


def run_expiry(
    *, action: str | None = None, dry_run: bool = False, today: datetime.date | None = None
) -> ExpiryReport:
    """One expiry run. ``action`` defaults to ``MAILADMIN_EXPIRY_ACTION``; ``dry_run`` finds
    and reports everything but changes, records and sends nothing."""
    action = action or settings.MAILADMIN_EXPIRY_ACTION
    if action not in ACTIONS:
        raise ValueError(f"unknown expiry action {action!r} (choose disable or report)")
    today = today or dates.today()
    report = ExpiryReport(today=today, action=action, dry_run=dry_run)
    report.expired_domains = expired_domains(today)
    report.expired_mailboxes = expired_mailboxes(today)
    report.notices = due_notices(today)
    if dry_run:
        return report
    if action == "disable":
        for name, _date in report.expired_domains:
            _disable(
                report,
                "domain",
                name,
                lambda name=name: domain_update(
                    domain=name, values={"active": False}, actor=SYSTEM_ACTOR
                ),
            )
        for address, _date in report.expired_mailboxes:
            _disable(
                report,
                "mailbox",
                address,
                lambda address=address: mailbox_update(
                    mailbox=Mailbox.objects.get(pk=address), actor=SYSTEM_ACTOR, active=False
                ),
            )
    report.notices = [notice for notice in report.notices if _record_notice(notice)]
    report.mails = notifications.send_all(report)
    for notice in report.notices:
        audit_record(
            actor=SYSTEM_ACTOR,
            action="expiry.notice",
            object_type=notice.object_type,
            object_id=notice.object_id,
            domain=notice.domain,
            message=gettext_noop("expires on %(date)s, in %(days)s days: notice sent"),
            message_args={"date": notice.expiredate.isoformat(), "days": notice.left},
        )
    if action == "report" and (report.expired_domains or report.expired_mailboxes):
        audit_record(
            actor=SYSTEM_ACTOR,
            action="expiry.report",
            message=gettext_noop(
                "past their expiry date and still active: %(domains)s domains,"
                " %(mailboxes)s mailboxes (reported, not disabled)"
            ),
            message_args={
                "domains": len(report.expired_domains),
                "mailboxes": len(report.expired_mailboxes),
            },
        )
    return report
