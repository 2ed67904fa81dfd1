"""Downloads of the list pages (domains, mailboxes, aliases) as CSV or JSON, streamed.

``/export/<table>/?format=csv|json`` takes the list page's own ``domain``, ``q`` and ``match``,
so the link on a filtered list downloads what it shows (every page of it, in key order).
"""

from __future__ import annotations

import re

from django.http import Http404, HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from exports.formats import CONTENT_TYPES, FORMATS, pieces
from exports.tables import TABLES, export_rows, scoped_queryset
from mailadmin.lib.access import domain_from_query, manager_required


def _filename(table: str, domain: str | None, fmt: str) -> str:
    scope = re.sub(r"[^a-z0-9.-]+", "_", (domain or "all").lower()) or "_"
    return f"{table}-{scope}-{timezone.localdate():%Y%m%d}.{fmt}"


@manager_required
@require_safe
def export(request: HttpRequest, table: str) -> StreamingHttpResponse:
    if table not in TABLES:
        raise Http404
    spec = TABLES[table]
    domain = domain_from_query(request)
    fmt = request.GET.get("format", "csv")
    if fmt not in FORMATS:
        fmt = "csv"
    q = request.GET.get("q", "")
    match = request.GET.get("match", "")
    queryset = scoped_queryset(spec, request.user, domain=domain, q=q, match=match)
    response = StreamingHttpResponse(
        pieces(fmt, spec.columns, export_rows(spec, queryset)), content_type=CONTENT_TYPES[fmt]
    )
    name = _filename(table, domain.pk if domain is not None else None, fmt)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
