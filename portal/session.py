"""The mailbox user's login, kept apart from the manager's (SPEC §3.7).

The portal stores the mailbox under its own session key and never touches Django's
authentication (``request.user`` stays the manager, or anonymous), so a manager's login does
not open the portal and a portal login does not open the manager pages. Logging in to one
keeps the other; the portal's logout ends only the portal; the manager's logout (which
flushes the session) ends both.

The session keeps a fingerprint of the stored password hash: a password changed elsewhere
ends the portal session at the next request, as do a disabled or expired mailbox or domain
and the panel's idle and absolute timeouts.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from mailboxes.auth import mailbox_may_log_in
from mailboxes.models import Mailbox

SESSION_KEY = "mailadmin_portal"


def _fingerprint(mailbox: Mailbox) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), mailbox.password.encode(), hashlib.sha256
    ).hexdigest()


def portal_login(request: HttpRequest, mailbox: Mailbox) -> None:
    """Remember the mailbox in the session, under a new session key (no fixation)."""
    request.session.cycle_key()
    now = time.time()
    request.session[SESSION_KEY] = {
        "address": mailbox.username,
        "auth": _fingerprint(mailbox),
        "login_at": now,
        "last_seen": now,
    }


def portal_refresh(request: HttpRequest, mailbox: Mailbox) -> None:
    """After the mailbox's own password change: the session goes on with the new hash."""
    data = dict(request.session.get(SESSION_KEY) or {})
    data["auth"] = _fingerprint(mailbox)
    request.session[SESSION_KEY] = data


def portal_logout(request: HttpRequest) -> None:
    if SESSION_KEY in request.session:
        del request.session[SESSION_KEY]
        request.session.cycle_key()


def current_mailbox(request: HttpRequest) -> Mailbox | None:
    """The logged-in mailbox, or None (and the portal login forgotten) when it may not be."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None
    now = time.time()
    mailbox = (
        Mailbox.objects.select_related("domain").filter(pk=str(data.get("address", ""))).first()
    )
    login_at = float(data.get("login_at") or 0)
    last_seen = float(data.get("last_seen") or login_at)
    if (
        mailbox is None
        or not mailbox_may_log_in(mailbox)
        or not hmac.compare_digest(str(data.get("auth", "")), _fingerprint(mailbox))
        or now - login_at > settings.MAILADMIN_SESSION_MAX_AGE
        or now - last_seen > settings.MAILADMIN_SESSION_IDLE_TIMEOUT
    ):
        del request.session[SESSION_KEY]
        return None
    if now - last_seen >= 60:
        request.session[SESSION_KEY] = {**data, "last_seen": now}
    return mailbox


def mailbox_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A logged-in mailbox (as ``request.mailbox``); others go to the portal login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        mailbox = current_mailbox(request)
        if mailbox is None:
            url = reverse("portal:login")
            return redirect(f"{url}?{urlencode({'next': request.get_full_path()})}")
        request.mailbox = mailbox  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
