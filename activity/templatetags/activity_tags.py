"""Small activity panels for other pages: a mailbox's recent deliveries and logins (the
mailbox page), a mailbox user's own logins (the portal)."""

from __future__ import annotations

from typing import Any

from django import template

from activity.selectors import recent_deliveries, recent_logins

register = template.Library()


@register.inclusion_tag("activity/_mailbox_activity.html")
def mailbox_activity(address: str) -> dict[str, Any]:
    return {"deliveries": recent_deliveries(address), "logins": recent_logins(address)}


@register.inclusion_tag("activity/_own_logins.html")
def own_logins(address: str) -> dict[str, Any]:
    return {"logins": recent_logins(address)}
