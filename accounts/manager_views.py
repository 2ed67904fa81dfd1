"""Manager pages (superadmin only, SPEC §3.6) and every manager's own password page."""

from __future__ import annotations

from collections import defaultdict

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from accounts import services, twofactor
from accounts.manager_forms import ManagerForm, OwnPasswordForm
from accounts.models import DomainManager, Manager, SecondFactor
from mailadmin.lib.access import get_visible_or_404, manager_required, superadmin_required
from mailadmin.lib.listing import Listing, make_listing

LIST_DOMAINS_SHOWN = 5


def _get_manager(request: HttpRequest, username: str) -> Manager:
    # ``username`` is the stored key (the URL converter normalised or decoded it).
    return get_visible_or_404(Manager.objects, request.user, pk=username)


def manager_listing(request: HttpRequest) -> Listing:
    """The managers list's rows (query string: q, sort, page, per_page), shared with the API."""
    return make_listing(
        request,
        Manager.objects.all(),
        search_fields=["username", "name"],
        sort_fields={
            "username": "username",
            "name": "name",
            "type": "type",
            "active": "active",
            "expiredate": "expiredate",
        },
        default_sort="username",
    )


def domains_of(managers: list[Manager]) -> dict[str, set[str]]:
    """The active domain assignments of a page of managers, in one query (legacy duplicate
    rows counted once)."""
    domains: dict[str, set[str]] = defaultdict(set)
    for username, domain in DomainManager.objects.filter(
        manager_id__in=[m.pk for m in managers], active=True
    ).values_list("manager_id", "domain_id"):
        domains[username].add(domain)
    return domains


@superadmin_required
@require_safe
def manager_list(request: HttpRequest) -> HttpResponse:
    listing = manager_listing(request)
    managers = listing.objects
    domains = domains_of(managers)
    with_factor = set(
        SecondFactor.objects.filter(manager__in=[m.pk for m in managers]).values_list(
            "manager", flat=True
        )
    )
    rows = []
    for manager in managers:
        names = sorted(domains[manager.pk])
        rows.append(
            {
                "manager": manager,
                "domains": names[:LIST_DOMAINS_SHOWN],
                "more_domains": max(0, len(names) - LIST_DOMAINS_SHOWN),
                "has_factor": manager.pk in with_factor,
            }
        )
    return render(request, "accounts/manager_list.html", {"listing": listing, "rows": rows})


@superadmin_required
def manager_add(request: HttpRequest) -> HttpResponse:
    form = ManagerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            manager = services.manager_create(
                actor=request.user,
                username=data["username"],
                password=data["password1"],
                name=data["name"],
                type=data["type"],
                expiredate=data["expiredate"],
                active=data["active"],
                disablepwdchange=data["disablepwdchange"],
                domains=data["domains"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Manager %s created.") % manager.pk)
            return redirect("accounts:managers")
    return render(request, "accounts/manager_form.html", {"form": form, "manager": None})


@superadmin_required
def manager_edit(request: HttpRequest, username: str) -> HttpResponse:
    manager = _get_manager(request, username)
    initial = {
        "username": manager.pk,
        "name": manager.name,
        "type": Manager.Role.SUPERADMIN if manager.is_superadmin else Manager.Role.DOMAIN_ADMIN,
        "expiredate": manager.expiredate,
        "active": manager.active,
        "disablepwdchange": manager.password_change_disabled,
        "domains": services.assigned_domains(manager),
    }
    form = ManagerForm(request.POST or None, instance=manager, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.manager_update(
                actor=request.user,
                manager=manager,
                name=data["name"],
                type=data["type"],
                expiredate=data["expiredate"],
                active=data["active"],
                disablepwdchange=data["disablepwdchange"],
                domains=data["domains"],
                password=data["password1"] or None,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if manager.pk == request.user.pk and data["password1"]:
                update_session_auth_hash(request, Manager.objects.get(pk=manager.pk))
            messages.success(request, _("Manager %s saved.") % manager.pk)
            return redirect("accounts:managers")
    return render(
        request,
        "accounts/manager_form.html",
        {"form": form, "manager": manager, "has_factor": twofactor.has_factor(manager)},
    )


@superadmin_required
def manager_delete(request: HttpRequest, username: str) -> HttpResponse:
    manager = _get_manager(request, username)
    if request.method == "POST":
        try:
            services.manager_delete(actor=request.user, manager=manager, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("accounts:manager_edit", username=manager.pk)
        messages.success(request, _("Manager %s deleted.") % manager.pk)
        return redirect("accounts:managers")
    return render(
        request,
        "accounts/manager_delete.html",
        {
            "manager": manager,
            "domains": services.assigned_domains(manager),
            "is_self": manager.pk == request.user.pk,
        },
    )


@manager_required
def own_password(request: HttpRequest) -> HttpResponse:
    user = request.user
    disabled = user.password_change_disabled
    form = OwnPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and not disabled and form.is_valid():
        try:
            manager = services.manager_set_password(
                actor=user, manager=user, password=form.cleaned_data["password1"], request=request
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            update_session_auth_hash(request, manager)
            messages.success(request, _("Your password has been changed."))
            return redirect("accounts:password")
    status = 403 if disabled and request.method == "POST" else 200
    return render(
        request, "accounts/password.html", {"form": form, "disabled": disabled}, status=status
    )


@superadmin_required
@require_POST
def manager_twofactor_reset(request: HttpRequest, username: str) -> HttpResponse:
    """Remove a manager's authenticator (a lost phone): they sign in with the password alone,
    or enrol again where two-factor sign-in is required."""
    manager = _get_manager(request, username)
    if twofactor.remove(manager=manager, actor=request.user, request=request):
        messages.success(request, _("Two-factor sign-in of %s was reset.") % manager.pk)
    else:
        messages.info(request, _("%s has no two-factor sign-in.") % manager.pk)
    return redirect("accounts:manager_edit", username=manager.pk)
