"""Usage reports (ExtMan's ``reportusage``; docs/disk-usage.md): per domain, one CSV line per
mailbox with its quota and measured use. The same rows are downloaded from the domain page
(streamed, never loaded whole) and attached to the report mailed to the domain's admins, on a
schedule (``MAILADMIN_USAGE_REPORT``) or on request."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import DomainManager
from audit.services import audit_record
from diskusage.services import SYSTEM_ACTOR
from diskusage.warnings import domain_admins
from domains.models import Domain
from exports.formats import neutralise
from mailadmin.lib.quota import quota_bytes
from mailadmin.lib.siteurl import absolute_url
from mailboxes.models import Mailbox
from signup.notifications import deliverable

log = logging.getLogger("mailadmin.usage")

#: Mailboxes named in the body of the report mail (the CSV has them all).
TOP = 10


def header() -> list[str]:
    return [
        _("address"),
        _("name"),
        _("active"),
        _("quota (bytes)"),
        _("used (bytes)"),
        _("messages"),
        _("percent used"),
        _("measured at"),
        _("note"),
    ]


def mailbox_rows(mailboxes: QuerySet) -> QuerySet:
    """The columns of the report, read with the mailbox rows in one query per chunk."""
    return (
        mailboxes.order_by("username")
        .annotate(
            used=F("disk_usage__used_bytes"),
            message_count=F("disk_usage__messages"),
            measured=F("disk_usage__measured_at"),
            problem=F("disk_usage__problem"),
        )
        .values_list(
            "username", "name", "active", "quota", "used", "message_count", "measured", "problem"
        )
    )


def csv_lines(mailboxes: QuerySet) -> Iterator[list[str]]:
    yield header()
    for address, name, active, quota, used, messages, measured, problem in mailbox_rows(
        mailboxes
    ).iterator(chunk_size=2000):
        limit = quota_bytes(quota)
        percent = used * 100 // limit if used is not None and limit else None
        row = [
            address,
            name,
            "1" if active else "0",
            limit,
            used,
            messages,
            percent,
            timezone.localtime(measured).strftime("%Y-%m-%d %H:%M") if measured else "",
            problem or ("" if measured else _("not measured yet")),
        ]
        yield [neutralise(cell) for cell in row]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(mailboxes: QuerySet) -> Iterator[str]:
    """The report's CSV, line by line (for a streamed download)."""
    writer = csv.writer(_Echo())
    for line in csv_lines(mailboxes):
        yield writer.writerow(line)


def csv_text(mailboxes: QuerySet) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(csv_lines(mailboxes))
    return buffer.getvalue()


def filename(domain: str) -> str:
    return f"usage-{domain}-{timezone.localdate().isoformat()}.csv"


def summary(mailboxes: QuerySet) -> dict[str, Any]:
    """Totals of the domain's mailboxes (one query) and the fullest ones."""
    totals = mailboxes.aggregate(
        mailboxes=Count("pk"),
        measured=Count("disk_usage__used_bytes"),
        used=Sum("disk_usage__used_bytes"),
        messages=Sum("disk_usage__messages"),
        measured_at=Max("disk_usage__measured_at"),
        over_90=Count("pk", filter=Q(disk_usage__percent__gte=90)),
    )
    totals["used"] = totals["used"] or 0
    totals["messages"] = totals["messages"] or 0
    return totals


def fullest(mailboxes: QuerySet, count: int = TOP) -> list[Any]:
    return list(
        mailboxes.filter(disk_usage__used_bytes__isnull=False)
        .annotate(used=F("disk_usage__used_bytes"), percent=F("disk_usage__percent"))
        .order_by("-used", "username")
        .values("username", "used", "percent", "quota")[:count]
    )


def report_send(
    *,
    domain: Domain,
    actor: Any = SYSTEM_ACTOR,
    actor_kind: str | None = None,
    to: Iterable[str] | None = None,
) -> list[str]:
    """Mail the usage report of ``domain`` with its CSV attached to its admins (or to ``to``);
    returns the recipients it went to. Audited as ``domain.usage_report``."""
    recipients = list(to) if to is not None else domain_admins(domain.pk)
    if not recipients:
        return []
    mailboxes = Mailbox.objects.filter(domain_id=domain.pk).address_in([domain.pk])
    with translation.override(settings.LANGUAGE_CODE):
        context = {
            "domain": domain.pk,
            "totals": summary(mailboxes),
            "fullest": fullest(mailboxes),
            "url": absolute_url(reverse("domains:detail", kwargs={"domain": domain.pk})),
        }
        subject = _("Disk usage report of %(domain)s") % {"domain": domain.pk}
        body = render_to_string("diskusage/email/report.txt", context)
        attachment = csv_text(mailboxes)
        sent = []
        for recipient in recipients:
            message = EmailMessage(subject, body, None, [recipient])
            message.attach(filename(domain.pk), attachment, "text/csv")
            try:
                message.send()
            except Exception as exc:  # SMTP down or refusing: logged, the others still go
                log.warning("usage report of %s not sent to %s: %s", domain.pk, recipient, exc)
            else:
                sent.append(recipient)
        audit_record(
            actor=actor,
            actor_kind=actor_kind,
            action="domain.usage_report",
            object_type="domain",
            object_id=domain.pk,
            domain=domain.pk,
            message=_("disk usage report of %(domain)s mailed to %(to)s")
            % {"domain": domain.pk, "to": ", ".join(sent) or "-"},
        )
    return sent


def reports_send_all() -> int:
    """The scheduled run: one report per domain that has admins. Returns how many domains'
    reports went out."""
    names = (
        DomainManager.objects.filter(active=True)
        .values_list("domain_id", flat=True)
        .distinct()
        .order_by("domain_id")
    )
    count = 0
    for domain in Domain.objects.filter(pk__in=list(names)).order_by("domain"):
        if report_send(domain=domain):
            count += 1
    return count


def report_recipients(domain: Domain, actor: Any) -> list[str]:
    """Who a report asked for from the page goes to: the domain's admins, or (a domain
    without any) the manager who asked."""
    return domain_admins(domain.pk) or deliverable([getattr(actor, "username", "")])
