"""Small activity panels for other pages: a mailbox's recent deliveries and logins (the
mailbox page), a mailbox user's own logins (the portal)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from activity.selectors import recent_deliveries, recent_logins

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


@register.simple_tag
def status_badge(recipient: Any) -> str:
    """The badge of a recipient's status (a tag rather than an include: lists show hundreds)."""
    css = STATUS_CLASSES.get(recipient.status, "text-bg-danger")
    return format_html(
        '<span class="badge {}" data-testid="status-{}">{}</span>',
        css,
        recipient.status,
        recipient.get_status_display(),
    )
