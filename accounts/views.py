"""Manager login and logout."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts import twofactor
from accounts.backends import log_safe as _log_safe
from accounts.backends import login_username
from accounts.forms import LoginForm
from accounts.throttle import login_needs_captcha
from accounts.twofactor_views import start_second_step
from audit.services import audit_record
from mailadmin.lib.clientip import client_ip

log = logging.getLogger("mailadmin.security")


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        if self.request.method == "POST":
            kwargs["with_captcha"] = login_needs_captcha(login_username(self.request, None))
        return kwargs

    def form_valid(self, form: LoginForm) -> HttpResponse:
        manager = form.get_user()
        if twofactor.has_factor(manager):
            # The password was right: the sign-in goes on with the second step
            # (accounts.twofactor_views.login_code), not logged in before it.
            start_second_step(self.request, manager, self.get_success_url())
            return redirect("accounts:login_code")
        response = super().form_valid(form)
        log.info(
            "login succeeded for user=%s from ip=%s",
            _log_safe(manager.username),
            client_ip(self.request),
        )
        audit_record(
            actor=manager,
            action="login",
            request=self.request,
            object_type="manager",
            object_id=manager.username,
        )
        return response

    def form_invalid(self, form: LoginForm) -> HttpResponse:
        # A throttled attempt is logged once, as a lockout (see locked_out), not also here; an
        # attempt without the right captcha tried no password.
        if self.request.method != "POST" or getattr(self.request, "axes_locked_out", False):
            pass
        elif form.captcha_refused:
            log.info(
                "login captcha not answered for user=%s from ip=%s",
                _log_safe(login_username(self.request, None)) or "-",
                client_ip(self.request),
            )
        else:
            username = _log_safe(login_username(self.request, None)) or "-"
            log.warning("login failed for user=%s from ip=%s", username, client_ip(self.request))
            audit_record(
                actor=username,
                actor_kind="anonymous",
                action="login.failed",
                request=self.request,
                object_type="manager",
                object_id=username,
            )
        return super().form_invalid(form)


class LogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET)."""


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """The answer to a login attempt while the account or client address is throttled."""
    username = _log_safe(login_username(request, credentials)) or "-"
    log.warning("login locked out for user=%s from ip=%s", username, client_ip(request))
    audit_record(
        actor=username,
        actor_kind="anonymous",
        action="login.locked",
        request=request,
        object_type="manager",
        object_id=username,
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
