"""The rows of the mailbox list, drawn in Python.

A list page draws 25 to 200 rows; as template code a row cost some 115 µs (about 60 tags and
variables), a third of the page's time. Here a row is one ``format_html`` of the markup below
with its values computed once (docs/performance.md, "What a request costs").
tests/test_list_rendering.py checks the rows against the template markup they replace.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from mailadmin.lib.urlkeys import key_url
from mailadmin.templatetags.mailadmin_tags import (
    active_forms,
    disk_usage,
    key_label,
    key_problems,
    mb,
    row_labels,
    wrap_address,
)
from mailboxes.models import Mailbox

register = template.Library()

ROW = """
        <tr data-testid="mailbox-row">
          <td><input class="form-check-input js-select" type="checkbox" name="addresses" value="{address}" id="select-{n}" aria-label="{select}"></td>
          <td class="address"><a href="{detail_url}">{text}</a>{problems}{name_below}</td>
          <td class="d-none d-md-table-cell">{name}</td>
          <td class="text-end d-none d-sm-table-cell">{quota}</td>
          <td class="d-none d-sm-table-cell" data-testid="mailbox-used">{used}</td>
          <td class="d-none d-lg-table-cell">{expiry}</td>
          <td>{state}</td>
          <td class="text-end row-actions">
            {toggle}
            <a class="btn btn-sm btn-outline-secondary" href="{reset_url}?next={next}" title="{reset_title}" data-testid="row-reset-password"><i class="bi bi-key"></i><span class="visually-hidden">{reset}</span></a>
            <a class="btn btn-sm btn-outline-primary" href="{edit_url}" title="{edit_title}" data-testid="row-edit"><i class="bi bi-pencil"></i><span class="visually-hidden">{edit}</span></a>
          </td>
        </tr>"""  # noqa: E501
DISABLE = (
    '<button type="submit" form="active-{}" class="btn btn-sm btn-outline-secondary"'
    ' title="{}" data-testid="row-disable"><i class="bi bi-pause-circle"></i>'
    '<span class="visually-hidden">{}</span></button>'
)
ENABLE = (
    '<button type="submit" form="active-{}" class="btn btn-sm btn-outline-success"'
    ' title="{}" data-testid="row-enable"><i class="bi bi-play-circle"></i>'
    '<span class="visually-hidden">{}</span></button>'
)


@register.simple_tag(takes_context=True)
def mailbox_rows(context: template.Context, mailboxes: Iterable[Mailbox]) -> SafeString:
    """The ``<tr>`` of every mailbox of the page."""
    labels = row_labels()
    words = {
        "unlimited": _("unlimited"),
        "never": _("never"),
        "active": _("active"),
        "disabled": _("disabled"),
        "Disable": _("Disable"),
        "Enable": _("Enable"),
        "Reset password": _("Reset password"),
        "Edit": _("Edit"),
    }
    # The template's {{ request.get_full_path|urlencode }}
    next_url = quote(context["request"].get_full_path(), safe="/")
    return format_html_join(
        "",
        "{}",
        (
            (_row(n, mailbox, labels, words, next_url),)
            for n, mailbox in enumerate(mailboxes, start=1)
        ),
    )


@register.simple_tag(takes_context=True)
def mailbox_active_forms(context: template.Context, mailboxes: Iterable[Mailbox]) -> SafeString:
    """The hidden one-click enable/disable form of every row (the rows' buttons name them)."""
    return active_forms(
        context, mailboxes, view="mailboxes:set_active", key="username", form_id="active-"
    )


def _row(
    n: int, mailbox: Mailbox, labels: dict[str, str], words: dict[str, str], next_url: str
) -> SafeString:
    address = mailbox.username
    quota = mailbox.quota_bytes
    if mailbox.expiredate:
        expiry = format_html(
            "<span{}>{}</span>",
            mark_safe(' class="text-danger"') if mailbox.is_expired else "",
            date_filter(mailbox.expiredate, "Y-m-d"),
        )
    else:
        expiry = format_html('<span class="text-secondary">{}</span>', words["never"])
    if mailbox.active:
        state = format_html('<span class="badge text-bg-success">{}</span>', words["active"])
        toggle = format_html(DISABLE, n, words["Disable"], labels["disable"] % {"address": address})
    else:
        state = format_html('<span class="badge text-bg-secondary">{}</span>', words["disabled"])
        toggle = format_html(ENABLE, n, words["Enable"], labels["enable"] % {"address": address})
    return format_html(
        ROW,
        address=address,
        n=n,
        select=labels["select"] % {"address": address},
        detail_url=key_url("mailboxes:detail", address),
        text=wrap_address(address) if address else key_label(address),
        problems=key_problems(mailbox.key_problems),
        name_below=format_html('<div class="small text-secondary d-md-none">{}</div>', mailbox.name)
        if mailbox.name
        else "",
        name=mailbox.name,
        quota=mb(quota) if quota else words["unlimited"],
        used=disk_usage(
            getattr(mailbox, "used_bytes", None), quota, getattr(mailbox, "used_percent", None)
        ),
        expiry=expiry,
        state=state,
        toggle=toggle,
        reset_url=key_url("mailboxes:reset_password", address),
        next=next_url,
        reset_title=words["Reset password"],
        reset=labels["reset_password"] % {"address": address},
        edit_url=key_url("mailboxes:edit", address),
        edit_title=words["Edit"],
        edit=labels["edit"] % {"address": address},
    )
