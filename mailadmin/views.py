"""Project-level pages: the overview (SPEC §3.2)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from domains.models import Domain
from domains.selectors import attach_missing_usage, domain_search, usage_totals, with_usage
from mailadmin.lib.access import manager_required
from mailadmin.lib.listing import make_listing
from provisioning.models import Job
from signup.models import SignupRequest


def pending_signup_count(manager: Any) -> int:
    """Pending signup requests the manager may decide on (the signup queue's default view)."""
    return SignupRequest.objects.visible_to(manager).pending().count()


@manager_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    user = request.user
    # Summed from the usage rows of the domains (domains.usage), not counted over mailboxes.
    totals = usage_totals(Domain.objects.visible_to(user))
    counts = {
        "domains": totals.domains,
        "mailboxes": totals.mailboxes,
        "aliases": totals.aliases,
        "failed_jobs": Job.objects.visible_to(user).filter(state=Job.State.FAILED).count(),
        "pending_signups": pending_signup_count(user),
    }
    listing = make_listing(
        request,
        with_usage(Domain.objects.visible_to(user)),
        search=domain_search,
        sort_fields={
            "name": "domain",
            "users": "used_users",
            "aliases": "used_aliases",
            "quota": "used_quota",
            "netdisk": "used_netdisk",
        },
        default_sort="name",
        total=lambda: totals.domains,
    )
    attach_missing_usage(listing.objects)
    return render(request, "overview.html", {"counts": counts, "listing": listing})
