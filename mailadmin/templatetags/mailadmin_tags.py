"""Template helpers shared by every page."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from mailadmin.lib.addresses import domain_unicode
from mailadmin.lib.listing import Listing
from mailadmin.lib.urlkeys import domain_param as _domain_param
from mailadmin.lib.urlkeys import encode_key, normalize_domain_key

register = template.Library()


@register.filter
def mb(value: Any) -> str:
    """Bytes as whole MB of the configured multiplier."""
    try:
        return str(int(value) // settings.MAILADMIN_QUOTA_MULTIPLIER)
    except (TypeError, ValueError):
        return "?"


@register.filter
def limit(value: Any) -> str:
    """A maximum, 0 shown as "unlimited"."""
    return _("unlimited") if not value else str(value)


@register.filter
def idn(name: str) -> str:
    """A domain (or an address's domain) in Unicode, when it is an IDN."""
    if not name or "xn--" not in name:
        return name
    local, at, domain = name.rpartition("@")
    return f"{local}{at}{domain_unicode(domain)}" if at else domain_unicode(name)


@register.filter
def key_label(key: str) -> str:
    """A stored key as a link text: :func:`idn`, and a word for an empty legacy key."""
    return idn(key) if key else _("(empty)")


@register.filter
def wrap_address(address: str) -> SafeString:
    """An address (or a domain) in Unicode, escaped, that may break after ``@`` and dots
    (``<wbr>``), so a long address wraps on a phone instead of widening the page."""
    text = escape(idn(address or ""))
    return mark_safe(text.replace("@", "@<wbr>").replace(".", ".<wbr>"))  # noqa: S308 (escaped)


@register.filter
def domain_param(name: str) -> str:
    """A stored domain name for ``?domain=`` in a link (even an empty or odd legacy name)."""
    return _domain_param(name)


@register.filter
def domain_key(name: str) -> str:
    """A stored domain name as the value of a ``domain`` form field (a select option)."""
    return encode_key(name, normalize_domain_key)


@register.simple_tag(takes_context=True)
def sort_header(context: dict, listing: Listing, key: str, label: str) -> str:
    """A column heading that sorts by ``key``, toggling the direction on the current one."""
    request = context["request"]
    params = request.GET.copy()
    current = listing.sort.lstrip("-")
    descending = listing.sort.startswith("-")
    params["sort"] = f"-{key}" if current == key and not descending else key
    for name in ("page", "after", "before", "last"):
        params.pop(name, None)
    arrow = ""
    if current == key:
        arrow = " ▼" if descending else " ▲"
    return format_html(
        '<a href="?{}" class="link-body-emphasis text-decoration-none">{}{}</a>',
        params.urlencode(),
        label,
        arrow,
    )
