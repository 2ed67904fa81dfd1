"""Project-level pages."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from domains.models import Domain


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    domains = Domain.objects.visible_to(request.user).only("domain", "active", "description")
    return render(request, "overview.html", {"domains": domains[:50]})
