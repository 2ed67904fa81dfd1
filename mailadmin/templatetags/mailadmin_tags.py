"""Template helpers shared by every page.

The tags that a list draws for every row (the key problems, the usage meters, the links to
a row) are written in Python rather than as included templates: a list of 25 rows renders
them some hundred times per request, and an ``{% include %}`` or ``{% url %}`` costs several
times what they do (docs/performance.md, "What a request costs")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.conf import settings
from django.template.defaulttags import CsrfTokenNode
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from mailadmin.lib.addresses import domain_unicode
from mailadmin.lib.listing import Listing
from mailadmin.lib.urlkeys import domain_param as _domain_param
from mailadmin.lib.urlkeys import encode_key, key_url, normalize_domain_key

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


#: The labels a list gives every row (for screen readers), translated once per page by
#: :func:`row_labels` instead of a ``{% blocktranslate %}`` per row (the same messages).
ROW_LABELS = {
    "select": gettext_lazy("Select %(address)s"),
    "disable": gettext_lazy("Disable %(address)s"),
    "enable": gettext_lazy("Enable %(address)s"),
    "edit": gettext_lazy("Edit %(address)s"),
    "delete": gettext_lazy("Delete %(address)s"),
    "reset_password": gettext_lazy("Reset the password of %(address)s"),
}


def row_labels() -> dict[str, str]:
    """:data:`ROW_LABELS` in the language of the request (``%(address)s`` to fill in)."""
    return {key: str(label) for key, label in ROW_LABELS.items()}


@register.simple_tag(name="key_url")
def key_url_tag(name: str, key: str) -> str:
    """``{% url name key %}`` for a view whose URL holds one stored key (see
    :func:`mailadmin.lib.urlkeys.key_url`): the same URL, made faster."""
    return key_url(name, key)


@register.simple_tag
def key_problems(problems: Iterable[str]) -> SafeString:
    """A red badge per problem of a legacy row's key (``obj.key_problems``), each after a
    space; nothing for a sound key."""
    if not problems:
        return mark_safe("")
    title = _(
        "This legacy row does not follow the rules of the panel; it is shown as it is stored."
    )
    return format_html_join(
        "",
        ' <span class="badge text-bg-danger" data-testid="key-problem" title="{}">{}</span>',
        ((title, problem) for problem in problems),
    )


def _ratio(value: int, max_value: int, max_width: int) -> str:
    """``{% widthratio value max_value max_width %}``."""
    return str(round(float(value) / float(max_value) * max_width))


@register.simple_tag
def disk_usage(used: int | None, quota: int, percent: int | None) -> SafeString:
    """A mailbox's measured use against its quota: "used / quota MB" and a ``<meter>`` (no
    inline style: the CSP forbids it). ``used`` is None when not measured, ``quota`` 0 for
    unlimited."""
    if used is None:
        return format_html('<span class="text-secondary small">{}</span>', _("not measured"))
    if quota:
        share = format_html(" ({}%)", percent) if percent is not None else ""
        limit_ = format_html("{}{}", mb(quota), share)
        meter = format_html(
            '<meter class="d-block w-100" min="0" max="{}" low="{}" high="{}" optimum="0"'
            ' value="{}" aria-label="{}"></meter>',
            quota,
            _ratio(quota, 100, 80),
            _ratio(quota, 100, 90),
            used,
            _("Used"),
        )
    else:
        limit_, meter = _("unlimited"), ""
    return format_html(
        '<div class="usage small">\n  <span class="text-nowrap">{} / {}</span>\n  {}\n</div>',
        mb(used),
        limit_,
        meter,
    )


@register.simple_tag
def usage_meter(used: int, maximum: int, in_mb: bool) -> SafeString:
    """Usage against a limit: "used / max" and a ``<meter>``; ``maximum`` 0 is unlimited,
    ``in_mb`` shows bytes as MB."""
    shown_used = _("%(n)s MB") % {"n": mb(used)} if in_mb else used
    if not maximum:
        shown_max, meter = _("unlimited"), ""
    else:
        shown_max = _("%(n)s MB") % {"n": mb(maximum)} if in_mb else maximum
        meter = format_html(
            '<meter class="d-block w-100" min="0" max="{}" low="{}" high="{}" optimum="0"'
            ' value="{}"></meter>',
            maximum,
            maximum,
            maximum,
            used,
        )
    return format_html(
        '<div class="usage small">\n  <span class="text-nowrap">{} / {}</span>\n  {}\n</div>',
        shown_used,
        shown_max,
        meter,
    )


ACTIVE_FORM = """
<form id="{}{}" method="post" action="{}" hidden>
  {}
  <input type="hidden" name="active" value="{}">
  <input type="hidden" name="next" value="{}">
</form>"""


def active_forms(
    context: template.Context, objects: Iterable[Any], *, view: str, key: str, form_id: str
) -> SafeString:
    """The hidden one-click enable/disable form of every row of a list, ``form_id`` followed
    by the row's number (the rows' buttons name them); each posts the other state of the
    object's ``active`` to ``view`` with the object's ``key``."""
    full_path = context["request"].get_full_path()
    token = CsrfTokenNode().render(context)  # {% csrf_token %}
    return format_html_join(
        "",
        ACTIVE_FORM,
        (
            (
                form_id,
                n,
                key_url(view, getattr(obj, key)),
                token,
                "0" if obj.active else "1",
                full_path,
            )
            for n, obj in enumerate(objects, start=1)
        ),
    )
