"""Authentication of managers against the ``manager`` table."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.http import HttpRequest

from accounts.models import Manager
from mailadmin.lib import passwords
from mailadmin.lib.clientip import client_ip
from mailadmin.lib.storable import storable

log = logging.getLogger("mailadmin.security")


def log_safe(value: str) -> str:
    """A user-supplied value fit for a one-line log record (fail2ban reads these lines)."""
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in value)[:255]


def normalize_username(username: str) -> str:
    """A typed login name as looked up and counted; one no account can have finds nothing."""
    return storable(username.strip().lower())


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """The account name django-axes counts failures against (AXES_USERNAME_CALLABLE)."""
    raw = (credentials or {}).get("username")
    if raw is None:
        raw = request.POST.get("username", "")
    return normalize_username(str(raw))[:255]


class ManagerBackend(BaseBackend):
    """Verifies every legacy password scheme; refuses inactive and expired managers."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Manager | None:
        if not username or not password:
            return None
        username = normalize_username(username)
        manager = Manager.objects.filter(pk=username).first()
        if manager is None:
            passwords.dummy_verify(password)
            return None
        if not manager.check_password(password):
            return None
        if not manager.is_active:
            # The password was right, but the account may not log in: said only in the log.
            reason = "expired" if manager.active else "inactive"
            log.info(
                "login refused for %s manager user=%s from ip=%s",
                reason,
                log_safe(username),
                client_ip(request) if request is not None else "-",
            )
            return None
        if settings.MAILADMIN_PASSWORD_REHASH and passwords.needs_rehash(manager.password):
            manager.password = passwords.hash_password(password)
            Manager.objects.filter(pk=manager.pk).update(password=manager.password)
        return manager

    def get_user(self, user_id: Any) -> Manager | None:
        manager = Manager.objects.filter(pk=user_id).first()
        if manager is None or not manager.is_active:
            return None
        return manager
