"""Idle and absolute session timeouts, and the end of sessions of disabled managers."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

LOGIN_AT = "mailadmin_login_at"
LAST_SEEN = "mailadmin_last_seen"
# Refresh the last-seen stamp at most this often, so that not every request writes the session.
LAST_SEEN_RESOLUTION = 60


class ManagerSessionMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.enforce(request)
        return self.get_response(request)

    def enforce(self, request: HttpRequest) -> None:
        session = request.session
        if not request.user.is_authenticated:
            if SESSION_KEY in session:
                # The manager was disabled, expired or deleted since the session began.
                session.flush()
            return
        now = time.time()
        login_at = session.get(LOGIN_AT)
        last_seen = session.get(LAST_SEEN, login_at)
        if (
            login_at is None
            or now - login_at > settings.MAILADMIN_SESSION_MAX_AGE
            or now - last_seen > settings.MAILADMIN_SESSION_IDLE_TIMEOUT
        ):
            logout(request)
            messages.info(request, _("Your session has expired. Please log in again."))
            return
        if now - last_seen >= LAST_SEEN_RESOLUTION:
            session[LAST_SEEN] = now


def start_session_clock(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """Receiver of ``user_logged_in``: every login, however made, starts both clocks."""
    if request is None or not hasattr(request, "session"):
        return
    now = time.time()
    request.session[LOGIN_AT] = now
    request.session[LAST_SEEN] = now


class TwoFactorRequiredMiddleware:
    """Where ``MAILADMIN_2FA_REQUIRED`` asks for it, a manager signed in without a second step
    reaches only the enrolment page (and logout) until they have an authenticator. A session
    that passed the second step (or enrolled) is marked, so no query is made per request."""

    ALLOWED = ("accounts:twofactor", "accounts:logout", "set_language")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from accounts import twofactor
        from accounts.models import Manager
        from accounts.twofactor_views import VERIFIED

        user = getattr(request, "user", None)
        if (
            isinstance(user, Manager)
            and not request.session.get(VERIFIED)
            and twofactor.is_required_for(user)
            and request.path not in {reverse(name) for name in self.ALLOWED}
        ):
            if twofactor.has_factor(user):
                # A session from before its manager enrolled: sign in again, with the code.
                logout(request)
                return redirect("accounts:login")
            messages.info(
                request, _("Set up two-factor sign-in to go on: it is required on this server.")
            )
            return redirect("accounts:twofactor")
        return self.get_response(request)
