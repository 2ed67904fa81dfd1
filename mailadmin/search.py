"""The search box of the top bar: domains, mailboxes and aliases in one page (issue: one search
across the panel).

Each kind is searched as its own list searches by default (``mailadmin.lib.listing``): names
and addresses by prefix through their indexes, display names through the word index
(``mailboxes.names``), scoped by ``visible_to`` like the lists, so a manager never sees
anything of a domain that is not theirs. Each kind shows its first :data:`SHOWN` matches in
address order and links to its list with the same search for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from aliases.models import Alias
from aliases.views import NOT_FORWARDING, alias_search
from domains.models import Domain
from domains.selectors import domain_search, list_scope
from mailadmin.lib.access import manager_required
from mailadmin.lib.listing import MAX_QUERY_LENGTH, PREFIX
from mailadmin.lib.storable import is_storable
from mailboxes.models import Mailbox
from mailboxes.views import mailbox_search

#: Matches shown per kind; the list page has the others.
SHOWN = 10


@dataclass
class Group:
    kind: str
    label: Any
    rows: list[Any]
    more: bool
    list_url: str


def _group(kind: str, label: Any, queryset: QuerySet, order: str, list_name: str, q: str) -> Group:
    rows = list(queryset.order_by(order)[: SHOWN + 1])
    return Group(
        kind=kind,
        label=label,
        rows=rows[:SHOWN],
        more=len(rows) > SHOWN,
        list_url=f"{reverse(list_name)}?{urlencode({'q': q})}",
    )


@manager_required
@require_safe
def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    groups: list[Group] = []
    if q and is_storable(q):
        user = request.user
        domains = Domain.objects.visible_to(user).filter(domain_search(q, PREFIX))
        # As the lists do (list_scope): the manager's domains as a literal list, which MariaDB
        # plans far better than visible_to()'s subquery; the same rows.
        names = list_scope(user, None)
        mailboxes = Mailbox.objects.all()
        aliases = Alias.objects.all()
        if names is not None:
            mailboxes = Mailbox.objects.filter(domain_id__in=names).address_in(names)
            aliases = Alias.objects.filter(domain_id__in=names).address_in(names)
        mailboxes = mailboxes.filter(mailbox_search(q, PREFIX, names)).only(
            "username", "name", "domain_id", "active"
        )
        aliases = (
            aliases.filter(alias_search(q, PREFIX))
            .filter(NOT_FORWARDING)
            .only("address", "goto", "domain_id", "active")
        )
        groups = [
            _group(
                "domains",
                _("Domains"),
                domains.only("domain", "description", "active"),
                "domain",
                "domains:list",
                q,
            ),
            _group("mailboxes", _("Mailboxes"), mailboxes, "username", "mailboxes:list", q),
            _group("aliases", _("Aliases"), aliases, "address", "aliases:list", q),
        ]
    return render(
        request,
        "search.html",
        {
            "q": q,
            "top_search_q": q,
            "groups": groups,
            "found": any(group.rows for group in groups),
        },
    )
