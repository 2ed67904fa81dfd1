"""The OpenAPI schema and its documentation page (Swagger UI, served from static/vendor)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe
from drf_spectacular.views import SpectacularAPIView

from mailadmin.lib.access import manager_required


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema; anyone may read it (it describes the API, not the data)."""

    authentication_classes = []
    permission_classes = []


@manager_required
@require_safe
def docs(request: HttpRequest) -> HttpResponse:
    """The API's documentation for a logged-in manager, trying requests with their session."""
    return render(request, "api/docs.html", {"schema_url": reverse("api:schema")})
