"""The disk usage cards of the domain page and the mailbox page."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from diskusage.reports import summary
from mailboxes.models import Mailbox, MailboxDiskUsage

register = template.Library()


@register.inclusion_tag("diskusage/_domain_card.html", takes_context=True)
def domain_disk_usage_card(context: dict[str, Any], domain: Any) -> dict[str, Any]:
    """The domain's measured disk use: the sum over the mailboxes the manager may see (one
    query)."""
    mailboxes = Mailbox.objects.visible_to(context.get("user")).filter(domain_id=domain.pk)
    return {
        "domain": domain,
        "totals": summary(mailboxes),
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
