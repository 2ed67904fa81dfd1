"""The mailbox user's portal (SPEC §3.7): login, account, password, recovery, forgot."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from portal import services
from portal.forms import (
    ForgotPasswordForm,
    PortalLoginForm,
    PortalPasswordForm,
    PortalRecoveryForm,
)
from portal.services import Outcome
from portal.session import (
    current_mailbox,
    mailbox_required,
    portal_login,
    portal_logout,
    portal_refresh,
)

THROTTLED_MESSAGE = gettext_lazy(
    "Too many failed attempts. Wait a few minutes before trying again."
)


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/account/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/account/"


@require_http_methods(["GET", "HEAD", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if request.method != "POST" and current_mailbox(request) is not None:
        return redirect("portal:home")
    if request.method != "POST":
        form = PortalLoginForm()
    else:
        needs_captcha = services.login_needs_captcha(request.POST.get("username", ""))
        form = PortalLoginForm(request.POST, with_captcha=needs_captcha)
    status = 200
    # A wrong captcha still hears of a lock-out first; the service tries no password then.
    if request.method == "POST" and (form.is_valid() or form.only_the_captcha_is_wrong):
        outcome, mailbox = services.portal_authenticate(
            address=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            request=request,
            captcha_passed="captcha" in form.cleaned_data,
        )
        if outcome is Outcome.OK and mailbox is not None:
            portal_login(request, mailbox)
            return redirect(_next_url(request))
        if outcome is Outcome.THROTTLED:
            form.add_error(None, THROTTLED_MESSAGE)
            status = 429
        elif outcome is Outcome.CAPTCHA:
            if "captcha" not in form.fields:  # the limit was reached since the form was shown
                form = PortalLoginForm(
                    initial={"username": form.cleaned_data["username"]}, with_captcha=True
                )
        else:
            form.add_error(
                None,
                _("Wrong address or password, or the mailbox is disabled or expired."),
            )
    return render(
        request, "portal/login.html", {"form": form, "next": _next_url(request)}, status=status
    )


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    portal_logout(request)
    messages.info(request, _("You have logged out of your account."))
    return redirect("portal:login")


@mailbox_required
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox  # type: ignore[attr-defined]
    return render(
        request,
        "portal/home.html",
        {"mailbox": mailbox, "usage": services.mailbox_usage(mailbox)},
    )


@mailbox_required
@require_http_methods(["GET", "HEAD", "POST"])
def password(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox  # type: ignore[attr-defined]
    disabled = mailbox.password_change_disabled
    form = PortalPasswordForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if disabled:
            status = 403
        elif form.is_valid():
            try:
                mailbox = services.portal_change_password(
                    mailbox=mailbox,
                    old_password=form.cleaned_data["old_password"],
                    new_password=form.cleaned_data["new_password1"],
                    request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                portal_refresh(request, mailbox)
                messages.success(request, _("Your password has been changed."))
                return redirect("portal:home")
    return render(
        request,
        "portal/form.html",
        {
            "form": form,
            "disabled": disabled,
            "mailbox": mailbox,
            "title": _("Change password"),
            "form_testid": "portal-password-form",
        },
        status=status,
    )


@mailbox_required
@require_http_methods(["GET", "HEAD", "POST"])
def recovery(request: HttpRequest) -> HttpResponse:
    mailbox = request.mailbox  # type: ignore[attr-defined]
    disabled = mailbox.password_change_disabled
    form = PortalRecoveryForm(
        request.POST if request.method == "POST" else None,
        initial={"question": mailbox.question},
    )
    status = 200
    if request.method == "POST":
        if disabled:
            status = 403
        elif form.is_valid():
            try:
                services.portal_set_recovery(
                    mailbox=mailbox,
                    password=form.cleaned_data["password"],
                    question=form.cleaned_data["question"],
                    answer=form.cleaned_data["answer"],
                    request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Your recovery question has been saved."))
                return redirect("portal:home")
    return render(
        request,
        "portal/form.html",
        {
            "form": form,
            "disabled": disabled,
            "mailbox": mailbox,
            "title": _("Recovery question"),
            "form_testid": "portal-recovery-form",
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
def forgot(request: HttpRequest) -> HttpResponse:
    form = ForgotPasswordForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            outcome = services.portal_reset_password(
                address=form.cleaned_data["username"],
                answer=form.cleaned_data["answer"],
                new_password=form.cleaned_data["new_password1"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if outcome is Outcome.OK:
                messages.success(request, _("Your new password is set. Log in with it now."))
                return redirect("portal:login")
            if outcome is Outcome.THROTTLED:
                form.add_error(None, THROTTLED_MESSAGE)
                status = 429
            else:
                form.add_error(
                    None,
                    _(
                        "The address and the answer do not match, or this mailbox cannot"
                        " reset its password here. Ask your administrator for help."
                    ),
                )
    return render(request, "portal/forgot.html", {"form": form}, status=status)
