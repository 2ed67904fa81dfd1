"""The disk usage cards of the domain page and the mailbox page."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from domains.models import DomainDiskUsage, DomainUsage
from domains.usage import DISK_NONE
from mailboxes.models import Mailbox, MailboxDiskUsage

register = template.Library()


@register.inclusion_tag("diskusage/_domain_card.html", takes_context=True)
def domain_disk_usage_card(context: dict[str, Any], domain: Any) -> dict[str, Any]:
    """The domain's measured disk use from its row of sums (one primary key lookup, whatever
    the number of mailboxes; kept by the measuring runs and the recompute) and its mailbox
    count from its usage row (read with the domain on its page). No row: never measured."""
    totals = DomainDiskUsage.objects.filter(pk=domain.pk).values(*DISK_NONE).first()
    mailboxes = getattr(domain, "used_users", None)
    if mailboxes is None:  # a domain read without its usage figures
        mailboxes = (
            DomainUsage.objects.filter(pk=domain.pk).values_list("mailboxes", flat=True).first()
        )
    return {
        "domain": domain,
        "totals": {**(totals or DISK_NONE), "mailboxes": mailboxes or 0},
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "report_schedule": settings.MAILADMIN_USAGE_REPORT,
    }


@register.inclusion_tag("diskusage/_mailbox_card.html", takes_context=True)
def mailbox_disk_usage_card(context: dict[str, Any], mailbox: Mailbox) -> dict[str, Any]:
    return {
        "mailbox": mailbox,
        "usage": MailboxDiskUsage.objects.filter(pk=mailbox.pk).first(),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
