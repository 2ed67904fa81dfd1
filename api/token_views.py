"""A manager's own API tokens: list, create (the token shown once), revoke."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from api import services
from api.forms import TokenForm
from api.models import ApiToken
from mailadmin.lib.access import manager_required


def _own_tokens(request: HttpRequest) -> list[ApiToken]:
    return list(ApiToken.objects.filter(manager_id=request.user.pk))


@manager_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    form = TokenForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            row, token = services.token_create(
                actor=request.user,
                name=data["name"],
                scope=data["scope"],
                expires_at=timezone.now() + datetime.timedelta(days=data["lifetime"]),
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            # Shown in this response only: never stored in clear, logged or put in the session.
            response = render(
                request,
                "api/tokens.html",
                {"form": TokenForm(), "tokens": _own_tokens(request), "new": row, "token": token},
            )
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "api/tokens.html", {"form": form, "tokens": _own_tokens(request)})


@manager_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    # Only one's own tokens: anyone else's answers 404 like a token that does not exist.
    token = ApiToken.objects.filter(manager_id=request.user.pk, pk=min(pk, 2**63 - 1)).first()
    if token is None:
        raise Http404
    services.token_revoke(actor=request.user, token=token, request=request)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("tokens:list")
