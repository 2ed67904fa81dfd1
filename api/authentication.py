"""How API requests identify a manager: a token (``Authorization: Bearer mat_…``) for scripts,
or the panel's session (with its CSRF check) for the browser."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiToken
from api.services import token_record_use
from mailadmin.lib.clientip import client_ip

KEYWORDS = ("bearer", "token")


class TokenAuthentication(authentication.BaseAuthentication):
    """A manager's API token. Unknown, revoked and expired tokens, and tokens of disabled or
    expired managers, are all refused with the same answer."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode("latin-1") not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid token header."))
        try:
            token = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        lookup = ApiToken.split(token)
        row = None
        if lookup is not None:
            row = ApiToken.objects.select_related("manager").filter(lookup=lookup).first()
        if row is None or not row.matches(token) or not row.is_usable:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        manager = row.manager
        if not manager.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token_record_use(row, client_ip(request._request) or None)
        return manager, row

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class PanelSessionAuthentication(authentication.SessionAuthentication):
    """The panel's login session (the browser, the documentation page), with Django's CSRF
    check on every unsafe method, as the panel's forms have."""
