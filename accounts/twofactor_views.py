"""The pages of two-factor sign-in: the code step of a login, and each manager's own
authenticator page (enrol, new recovery codes, remove); a superadmin's reset of another
manager's authenticator is on the manager's edit page (accounts.manager_views)."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import securitykeys, twofactor
from accounts.backends import log_safe
from accounts.models import Manager, RecoveryCode
from audit.services import audit_record
from mailadmin.lib.access import manager_required
from mailadmin.lib.clientip import client_ip
from mailadmin.lib.sealing import SealError, seal, unseal

log = logging.getLogger("mailadmin.security")

#: Session keys: the sign-in waiting for its code, the secret of an enrolment in progress, and
#: the mark that this session passed (or needs no) second step.
PENDING = "mailadmin_2fa_pending"
ENROLMENT = "mailadmin_2fa_enrolment"
VERIFIED = "mailadmin_2fa_verified"
#: Seconds a correct password waits for its code.
PENDING_MAX_AGE = 300
_ENROLMENT_PURPOSE = "accounts.twofactor.enrolment"
_BACKEND = "accounts.backends.ManagerBackend"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=32,
        help_text=gettext_lazy(
            "The 6-digit code your authenticator app shows, or one of your recovery codes."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )


class PasswordConfirmForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, manager: Manager, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manager = manager

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.manager.check_password(password):
            raise forms.ValidationError(_("The password is not right."))
        return password


def start_second_step(request: HttpRequest, manager: Manager, next_url: str) -> None:
    """After a right password: remember who is signing in, until the code step."""
    request.session.cycle_key()
    request.session[PENDING] = {
        "manager": manager.pk,
        "at": time.time(),
        "next": next_url,
        "failures": 0,
    }


def _pending_manager(request: HttpRequest) -> tuple[Manager | None, dict[str, Any]]:
    pending = request.session.get(PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > (
        PENDING_MAX_AGE
    ):
        return None, {}
    manager = Manager.objects.filter(pk=pending.get("manager")).first()
    if manager is None or not manager.is_active:
        return None, {}
    return manager, pending


@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    """The second step of a manager's sign-in."""
    manager, pending = _pending_manager(request)
    if manager is None:
        request.session.pop(PENDING, None)
        messages.info(request, _("Sign in again: enter your username and password."))
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    refusal = ""
    if request.method == "POST" and form.is_valid():
        if twofactor.account_throttled(manager):
            refusal = _("Too many wrong codes. Wait a few minutes before trying again.")
            log.warning(
                "login code locked out for user=%s from ip=%s",
                log_safe(manager.username),
                client_ip(request),
            )
        else:
            used = twofactor.verify(
                manager=manager, code=form.cleaned_data["code"], request=request
            )
            if used:
                return _complete_login(request, manager, pending, used)
            log.warning(
                "login code failed for user=%s from ip=%s",
                log_safe(manager.username),
                client_ip(request),
            )
            pending["failures"] = int(pending.get("failures", 0)) + 1
            if pending["failures"] >= settings.MAILADMIN_2FA_ATTEMPTS:
                request.session.pop(PENDING, None)
                messages.error(
                    request, _("Too many wrong codes. Sign in again with your password.")
                )
                return redirect("accounts:login")
            request.session[PENDING] = pending
            refusal = _("This code is not right (or was used already). Try the next one.")
    return render(
        request,
        "accounts/login_code.html",
        {
            "form": form,
            "refusal": refusal,
            "manager": manager,
            "has_keys": bool(securitykeys.keys_of(manager)),
            "has_app": twofactor.factor_of(manager) is not None,
        },
        status=200 if not refusal else 400,
    )


def _complete_login(
    request: HttpRequest, manager: Manager, pending: dict[str, Any], used: str
) -> HttpResponse:
    request.session.pop(PENDING, None)
    manager.backend = _BACKEND
    login(request, manager, backend=_BACKEND)
    request.session[VERIFIED] = True
    log.info(
        "login succeeded for user=%s from ip=%s", log_safe(manager.username), client_ip(request)
    )
    audit_record(
        actor=manager,
        action="login",
        request=request,
        object_type="manager",
        object_id=manager.username,
        message={
            "recovery": "with a recovery code",
            "key": "with a security key",
        }.get(used, "with an authenticator code"),
    )
    if used == "recovery":
        left = twofactor.unused_recovery_codes(manager)
        messages.warning(
            request,
            _(
                "You signed in with a recovery code; %(left)s unused codes are left. Make new"
                " ones on your two-factor page if you are running out."
            )
            % {"left": left},
        )
    next_url = str(pending.get("next") or "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = settings.LOGIN_REDIRECT_URL
    return redirect(next_url)


def _enrolment_secret(request: HttpRequest, *, renew: bool = False) -> str:
    sealed = request.session.get(ENROLMENT)
    if sealed and not renew:
        try:
            return str(unseal(sealed, purpose=_ENROLMENT_PURPOSE))
        except SealError:
            pass
    secret = twofactor.new_secret()
    request.session[ENROLMENT] = seal(secret, purpose=_ENROLMENT_PURPOSE)
    return secret


@manager_required
@require_http_methods(["GET", "POST"])
def own_twofactor(request: HttpRequest) -> HttpResponse:
    """A manager's own two-factor page: enrol (scan, confirm with a code, get recovery codes
    once), new recovery codes, remove (with the password)."""
    manager: Manager = request.user  # type: ignore[assignment]
    factor = twofactor.factor_of(manager)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    context: dict[str, Any] = {
        "factor": factor,
        "required": twofactor.is_required_for(manager),
        "code_form": CodeForm(),
        "password_form": PasswordConfirmForm(manager),
        "recovery_codes": None,
        "keys": securitykeys.keys_of(manager),
    }
    sealed_codes = request.session.pop(NEW_CODES, None) if request.method == "GET" else None
    if sealed_codes:
        with contextlib.suppress(SealError):
            context["recovery_codes"] = unseal(sealed_codes, purpose=_ENROLMENT_PURPOSE)
    if action == "confirm":
        secret = _enrolment_secret(request)
        form = CodeForm(request.POST)
        codes = None
        if form.is_valid():
            codes = twofactor.enrol(
                manager=manager, secret=secret, code=form.cleaned_data["code"], request=request
            )
        if codes is not None:
            request.session.pop(ENROLMENT, None)
            request.session[VERIFIED] = True
            context.update(factor=twofactor.factor_of(manager), recovery_codes=codes)
            messages.success(request, _("Two-factor sign-in is on for your account."))
            return render(request, "accounts/twofactor.html", context)
        form.add_error("code", _("This code is not right. Check the clock of your phone."))
        context["code_form"] = form
        context["enrolling"] = True
    elif action in ("codes", "remove", "remove_key") and (factor or context["keys"]):
        form = PasswordConfirmForm(manager, request.POST)
        if form.is_valid():
            if action == "remove_key":
                key_id = request.POST.get("key", "")
                if key_id.isdigit() and securitykeys.remove_key(
                    manager=manager, key_id=int(key_id), request=request
                ):
                    messages.success(request, _("Security key removed."))
                if not twofactor.has_factor(manager):
                    RecoveryCode.objects.filter(manager=manager.pk).delete()
                return redirect("accounts:twofactor")
            if action == "codes":
                context["recovery_codes"] = twofactor.renew_recovery_codes(
                    manager=manager, request=request
                )
                messages.success(request, _("New recovery codes: the old ones no longer work."))
                return render(request, "accounts/twofactor.html", context)
            twofactor.remove(manager=manager, actor=manager, request=request)
            request.session.pop(VERIFIED, None)
            messages.success(request, _("Two-factor sign-in is off for your account."))
            return redirect("accounts:twofactor")
        context["password_form"] = form
        context["password_action"] = action
    elif action == "start" or (context["required"] and not twofactor.has_factor(manager)):
        context["enrolling"] = True
    elif action:
        return redirect("accounts:twofactor")
    if context.get("enrolling"):
        secret = _enrolment_secret(request, renew=action == "start")
        uri = twofactor.provisioning_uri(manager, secret)
        context.update(
            secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            qr_svg=twofactor.qr_svg(uri),
        )
    else:
        context["unused_codes"] = (
            twofactor.unused_recovery_codes(manager) if factor or context["keys"] else 0
        )
    refused = context["code_form"].errors or context["password_form"].errors
    return render(request, "accounts/twofactor.html", context, status=400 if refused else 200)


# --- security keys ---------------------------------------------------------------------------
#: Sealed recovery codes made with a first security key, shown once by the two-factor page.
NEW_CODES = "mailadmin_2fa_new_codes"


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@manager_required
@require_POST
def key_register_options(request: HttpRequest) -> HttpResponse:
    manager: Manager = request.user  # type: ignore[assignment]
    return HttpResponse(
        securitykeys.registration_options(request, manager), content_type="application/json"
    )


@manager_required
@require_POST
def key_register(request: HttpRequest) -> JsonResponse:
    manager: Manager = request.user  # type: ignore[assignment]
    body = _json_body(request)
    credential = body.get("credential")
    try:
        if not isinstance(credential, dict):
            raise securitykeys.KeyRefused("no credential")
        key = securitykeys.register(
            request, manager, name=str(body.get("name") or ""), credential=credential
        )
    except securitykeys.KeyRefused as exc:
        log.info("security key refused for user=%s: %s", log_safe(manager.username), exc)
        return JsonResponse({"error": _("The key could not be added. Try again.")}, status=400)
    codes = twofactor.first_recovery_codes(manager)
    if codes:
        request.session[NEW_CODES] = seal(codes, purpose=_ENROLMENT_PURPOSE)
    request.session[VERIFIED] = True
    messages.success(request, _("Security key “%(name)s” added.") % {"name": key.name})
    return JsonResponse({"redirect": reverse("accounts:twofactor")})


@require_POST
def key_login_options(request: HttpRequest) -> HttpResponse:
    manager, _pending = _pending_manager(request)
    if manager is None:
        return JsonResponse({"redirect": reverse("accounts:login")}, status=400)
    return HttpResponse(
        securitykeys.authentication_options(request, manager), content_type="application/json"
    )


@require_POST
def key_login(request: HttpRequest) -> JsonResponse:
    manager, pending = _pending_manager(request)
    if manager is None:
        return JsonResponse({"redirect": reverse("accounts:login")}, status=400)
    if twofactor.account_throttled(manager):
        return JsonResponse(
            {"error": _("Too many wrong codes. Wait a few minutes before trying again.")},
            status=429,
        )
    credential = _json_body(request).get("credential")
    try:
        if not isinstance(credential, dict):
            raise securitykeys.KeyRefused("no credential")
        securitykeys.authenticate(request, manager, credential)
    except securitykeys.KeyRefused as exc:
        log.warning(
            "login code failed for user=%s from ip=%s",
            log_safe(manager.username),
            client_ip(request),
        )
        twofactor.record_failure(manager, request, f"security key: {exc}")
        pending["failures"] = int(pending.get("failures", 0)) + 1
        if pending["failures"] >= settings.MAILADMIN_2FA_ATTEMPTS:
            request.session.pop(PENDING, None)
            return JsonResponse({"redirect": reverse("accounts:login")}, status=400)
        request.session[PENDING] = pending
        return JsonResponse({"error": _("This key was not accepted.")}, status=400)
    response = _complete_login(request, manager, pending, "key")
    return JsonResponse({"redirect": response["Location"]})
