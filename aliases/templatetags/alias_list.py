"""The rows of the alias list, drawn in Python, as those of the mailbox list
(``mailboxes/templatetags/mailbox_list.py`` says why)."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from aliases.models import Alias
from mailadmin.lib.urlkeys import domain_param, key_url
from mailadmin.templatetags.mailadmin_tags import (
    active_forms,
    key_label,
    key_problems,
    row_labels,
    wrap_address,
)

register = template.Library()

ROW = """
      <tr data-testid="alias-row">
        <td><input class="form-check-input js-select" type="checkbox" name="addresses" value="{address}" aria-label="{select}"></td>
        <td class="address">
          {text}{problems}
          {catchall}
          <div class="small text-secondary d-sm-none address">{targets_short}</div>
        </td>
        <td class="small address d-none d-sm-table-cell">
          {targets}
          {more}
        </td>
        {domain_cell}
        <td>{state}</td>
        <td class="text-end row-actions">
          {toggle}
          <a class="btn btn-sm btn-outline-primary" href="{edit_url}" title="{edit_title}" data-testid="alias-edit"><i class="bi bi-pencil"></i><span class="visually-hidden">{edit}</span></a>
          <a class="btn btn-sm btn-outline-danger" href="{delete_url}" title="{delete_title}" data-testid="alias-delete"><i class="bi bi-trash"></i><span class="visually-hidden">{delete}</span></a>
        </td>
      </tr>"""  # noqa: E501
DISABLE = (
    '<button type="submit" form="alias-active-{}" class="btn btn-sm btn-outline-secondary"'
    ' title="{}" data-testid="row-disable"><i class="bi bi-pause-circle"></i>'
    '<span class="visually-hidden">{}</span></button>'
)
ENABLE = (
    '<button type="submit" form="alias-active-{}" class="btn btn-sm btn-outline-success"'
    ' title="{}" data-testid="row-enable"><i class="bi bi-play-circle"></i>'
    '<span class="visually-hidden">{}</span></button>'
)


@register.simple_tag
def alias_rows(aliases: Iterable[Alias], domain: object = None) -> SafeString:
    """The ``<tr>`` of every alias of the page; a list of several domains (no ``domain``)
    has a column with each alias's domain."""
    labels = row_labels()
    words = {
        "catch-all": format_html(
            '<span class="badge text-bg-info" title="{}">{}</span>',
            _("Receives mail for addresses of the domain that do not exist"),
            _("catch-all"),
        ),
        "active": format_html('<span class="badge text-bg-success">{}</span>', _("active")),
        "inactive": format_html('<span class="badge text-bg-secondary">{}</span>', _("inactive")),
        "Disable": _("Disable"),
        "Enable": _("Enable"),
        "Edit": _("Edit"),
        "Delete": _("Delete"),
    }
    list_url = None if domain else reverse("aliases:list")
    return format_html_join(
        "",
        "{}",
        ((_row(n, alias, labels, words, list_url),) for n, alias in enumerate(aliases, start=1)),
    )


@register.simple_tag(takes_context=True)
def alias_active_forms(context: template.Context, aliases: Iterable[Alias]) -> SafeString:
    """The hidden one-click enable/disable form of every row (the rows' buttons name them)."""
    return active_forms(
        context, aliases, view="aliases:set_active", key="address", form_id="alias-active-"
    )


def _row(
    n: int, alias: Alias, labels: dict[str, str], words: dict[str, str], list_url: str | None
) -> SafeString:
    address = alias.address
    targets = alias.targets
    short = format_html_join(", ", "{}", ((wrap_address(t),) for t in targets[:2]))
    if len(targets) > 2:
        short = format_html("{} …", short)
    more = len(targets) - 5
    if list_url is None:
        domain_cell = ""
    else:
        domain_cell = format_html(
            '<td class="d-none d-lg-table-cell address"><a href="{}?domain={}">{}</a></td>',
            list_url,
            domain_param(alias.domain_id),
            wrap_address(alias.domain_id),
        )
    if alias.active:
        toggle = format_html(DISABLE, n, words["Disable"], labels["disable"] % {"address": address})
    else:
        toggle = format_html(ENABLE, n, words["Enable"], labels["enable"] % {"address": address})
    return format_html(
        ROW,
        address=address,
        select=labels["select"] % {"address": address},
        text=wrap_address(address) if address else key_label(address),
        problems=key_problems(alias.key_problems),
        catchall=words["catch-all"] if alias.is_catchall else "",
        targets_short=short,
        targets=format_html_join(
            mark_safe("<br>"), "{}", ((wrap_address(t),) for t in targets[:5])
        ),
        more=format_html(
            '<br><span class="text-secondary">{}</span>',
            ngettext("and %(n)s more", "and %(n)s more", more) % {"n": more},
        )
        if more > 0
        else "",
        domain_cell=domain_cell,
        state=words["active"] if alias.active else words["inactive"],
        toggle=toggle,
        edit_url=key_url("aliases:edit", address),
        edit_title=words["Edit"],
        edit=labels["edit"] % {"address": address},
        delete_url=key_url("aliases:delete", address),
        delete_title=words["Delete"],
        delete=labels["delete"] % {"address": address},
    )
