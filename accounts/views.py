"""Manager login and logout."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.backends import login_username
from accounts.forms import LoginForm
from mailadmin.lib.clientip import client_ip

log = logging.getLogger("mailadmin.security")


def _log_safe(value: str) -> str:
    """A user-supplied value fit for a one-line log record (fail2ban reads these lines)."""
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in value)[:255]


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: LoginForm) -> HttpResponse:
        response = super().form_valid(form)
        log.info(
            "login succeeded for user=%s from ip=%s",
            _log_safe(form.get_user().username),
            client_ip(self.request),
        )
        return response

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        if self.request.method == "POST":
            log.warning(
                "login failed for user=%s from ip=%s",
                _log_safe(login_username(self.request, None)) or "-",
                client_ip(self.request),
            )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET)."""


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The answer to a login attempt while the account or client address is throttled."""
    log.warning(
        "login locked out for user=%s from ip=%s",
        _log_safe(login_username(request, credentials)) or "-",
        client_ip(request),
    )
    form = LoginForm(request)
    return render(
        request,
        "accounts/login.html",
        {
            "form": form,
            "locked_out": True,
            "lockout_message": _("Too many failed logins. Wait a few minutes before trying again."),
        },
        status=429,
    )
