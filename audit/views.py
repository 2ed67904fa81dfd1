"""The audit log page (SPEC §3.9): every manager sees the entries of what they may see."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.models import DomainManager
from audit.models import AuditEntry
from audit.presentation import action_label
from mailadmin.lib.access import manager_required
from mailadmin.lib.listing import Listing, make_listing
from mailadmin.lib.storable import is_storable
from mailadmin.lib.urlkeys import domain_from_param


def _domain_filter(request: HttpRequest) -> str:
    """The ``?domain=`` filter in stored form; 404 for a domain the user may not see.

    Entries of deleted domains stay readable to a superadmin, so the domain row is not needed.
    """
    try:
        name = domain_from_param(request.GET.get("domain", ""))
    except ValueError as exc:
        raise Http404 from exc
    if name is None:
        return ""
    user = request.user
    if not user.is_superadmin and not (
        DomainManager.objects.domain_names_of(user).filter(domain_id=name).exists()
    ):
        raise Http404
    return name


def audit_listing(
    request: HttpRequest, entries: QuerySet[AuditEntry], *, domain: str, action: str
) -> Listing:
    """The entries of ``domain`` and ``action`` when given (q, sort, page, per_page), shared
    with the API."""
    if domain:
        entries = entries.filter(domain=domain)
    if action:
        entries = entries.filter(action=action) if is_storable(action) else entries.none()
    return make_listing(
        request,
        entries,
        search_fields=["actor", "object_id", "action", "message"],
        sort_fields={"time": "id", "actor": "actor", "action": "action"},
        default_sort="-time",  # ids grow with time; the key is the cheapest order
    )


@manager_required
@require_safe
def audit_list(request: HttpRequest) -> HttpResponse:
    domain = _domain_filter(request)
    entries = AuditEntry.objects.visible_to(request.user)
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    action = request.GET.get("action", "").strip()
    listing = audit_listing(request, entries, domain=domain, action=action)
    return render(
        request,
        "audit/list.html",
        {
            "listing": listing,
            "actions": actions,
            "action_choices": [(name, action_label(name)) for name in actions],
            "action": action,
            "domain": domain,
        },
    )
