"""Small activity panels for other pages: a mailbox's recent deliveries and logins (the
mailbox page), a mailbox user's own logins (the portal); the status badges and the recipients
cell of the message trace."""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.template.defaultfilters import truncatechars
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext

from activity.models import Recipient
from activity.selectors import recent_deliveries, recent_logins
from mailadmin.templatetags.mailadmin_tags import idn

register = template.Library()


@register.inclusion_tag("activity/_mailbox_activity.html")
def mailbox_activity(address: str) -> dict[str, Any]:
    return {"deliveries": recent_deliveries(address), "logins": recent_logins(address)}


@register.inclusion_tag("activity/_own_logins.html")
def own_logins(address: str) -> dict[str, Any]:
    return {"logins": recent_logins(address)}


STATUS_CLASSES = {
    "sent": "text-bg-success",
    "deferred": "text-bg-warning",
    "held": "text-bg-secondary",
}


@functools.cache
def status_labels(language: str | None) -> dict[str, str]:
    """The words for the statuses in ``language``, translated once: ``get_status_display()``
    hashes every lazy label of the choices on each call, seven translations per badge."""
    with translation.override(language):
        return {value: str(label) for value, label in Recipient.Status.choices}


@register.simple_tag
def status_badge(recipient: Any) -> str:
    """The badge of a recipient's status (a tag rather than an include: lists show hundreds)."""
    status = recipient.status
    return format_html(
        '<span class="badge {}" data-testid="status-{}">{}</span>',
        STATUS_CLASSES.get(status, "text-bg-danger"),
        status,
        status_labels(get_language()).get(status, status),
    )


@register.simple_tag
def trace_recipients(message: Any) -> SafeString:
    """The recipients cell of a trace row: each shown recipient's badge and address, and the
    remote answer when it was not delivered. One tag per message instead of a loop of tags and
    filters per recipient: a page of 50 messages shows hundreds of recipients."""
    recipients = message.shown_recipients
    if not recipients:
        return format_html('<span class="text-secondary">{}</span>', gettext("no recipient yet"))
    return format_html_join(
        "\n",
        '<div class="text-break">{} {}{}</div>',
        (
            (
                status_badge(recipient),
                idn(recipient.address),
                format_html(
                    ' <span class="text-secondary">{}</span>', truncatechars(recipient.reason, 120)
                )
                if recipient.status != "sent" and recipient.reason
                else "",
            )
            for recipient in recipients
        ),
    )
