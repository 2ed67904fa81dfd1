"""``{% export_url "mailboxes" "csv" %}``: the download of what the list page shows."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict
from django.urls import reverse

register = template.Library()

#: The list page's parameters that choose rows (paging and sorting do not).
KEPT = ("domain", "q", "match")


@register.simple_tag(takes_context=True)
def export_url(context: dict[str, Any], table: str, fmt: str) -> str:
    query = QueryDict(mutable=True)
    request = context.get("request")
    for name in KEPT:
        value = request.GET.get(name, "") if request is not None else ""
        if value:
            query[name] = value
    query["format"] = fmt
    return f"{reverse(f'exports:{table}')}?{query.urlencode()}"
