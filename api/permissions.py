"""Who may call the API: a logged-in manager; a read-only token only reads."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from api.models import ApiToken


class ManagerWithScope(permissions.BasePermission):
    """An authenticated manager; with a read-only token, only GET, HEAD and OPTIONS."""

    message = _("This token is read-only.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or not user.is_authenticated:
            raise exceptions.NotAuthenticated
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class SuperadminOnly(ManagerWithScope):
    """Superadmins; any other manager gets 404, as for a page that does not exist."""

    def has_permission(self, request: Request, view: Any) -> bool:
        allowed = super().has_permission(request, view)
        if not request.user.is_superadmin:
            raise exceptions.NotFound
        return allowed
