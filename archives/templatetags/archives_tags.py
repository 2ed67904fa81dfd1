"""The archives card of the domain page."""

from __future__ import annotations

from typing import Any

from django import template

from provisioning.models import Archive

register = template.Library()

#: Archives shown on the domain page; the list page has them all.
SHOWN = 10


@register.inclusion_tag("archives/_domain_card.html", takes_context=True)
def domain_archives_card(context: dict[str, Any], domain: Any) -> dict[str, Any]:
    rows = Archive.objects.visible_to(context.get("user")).listed().filter(domain=domain.pk)
    return {
        "domain": domain,
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "archives": list(rows.order_by("-archived_at", "-id")[:SHOWN]),
        "total": rows.count(),
    }
