"""Public signup form and the approval queue (SPEC §3.7)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from domains.models import Domain
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    superadmin_required,
    visible_object,
)
from mailadmin.lib.addresses import normalize_domain
from mailadmin.lib.clientip import client_ip
from mailadmin.lib.listing import Listing, make_listing
from signup import services
from signup.forms import STATE_FILTER_CHOICES, BulkForm, PolicyForm, RejectForm, SignupForm
from signup.models import SignupRequest
from signup.operations import signup_bulk_start

log = logging.getLogger("mailadmin.security")

SORT_FIELDS = {
    "address": "address",
    "domain": "domain",
    "created": "created_at",
    "expires": "expires_at",
    "state": "state",
}


def _offered_domain(name: str) -> Domain | None:
    try:
        key = normalize_domain(name)
    except ValidationError:
        return None
    domain = Domain.objects.filter(pk=key).first()
    return domain if services.signup_offered(domain) else None


def signup_form(request: HttpRequest, domain: str) -> HttpResponse:
    """The public form; a domain that does not offer signup answers 404 with a clear page."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponse(status=405)
    dom = _offered_domain(domain)
    if dom is None:
        return render(request, "signup/not_offered.html", {"name": domain[:255]}, status=404)
    if request.method == "POST":
        if services.signup_rate_limited(request):
            return render(request, "signup/rate_limited.html", {"domain": dom}, status=429)
        form = SignupForm(request.POST, domain=dom.domain)
        if form.is_robot:
            log.warning("signup honeypot filled from ip=%s", client_ip(request))
            return render(request, "signup/received.html", {"domain": dom, "created": False})
        if form.is_valid():
            data = form.cleaned_data
            try:
                result = services.signup_submit(
                    domain=dom.domain,
                    local_part=data["local_part"],
                    password=data["password1"],
                    name=data["name"],
                    question=data["question"],
                    answer=data["answer"],
                    contact_email=data["contact_email"],
                    request=request,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return render(
                    request,
                    "signup/received.html",
                    {
                        "domain": dom,
                        "created": result.mailbox is not None,
                        "address": result.signup.address,
                    },
                )
    else:
        form = SignupForm(domain=dom.domain)
    return render(request, "signup/form.html", {"domain": dom, "form": form})


def queue_listing(request: HttpRequest, domain: Domain | None) -> tuple[Listing, str]:
    """The requests and the state filter (pending by default; q, sort, page, per_page),
    shared with the API."""
    queryset = SignupRequest.objects.visible_to(request.user).defer("password_hash", "answer_hash")
    if domain is not None:
        queryset = queryset.filter(domain=domain.pk)
    state = request.GET.get("state", SignupRequest.State.PENDING)
    if state not in SignupRequest.State.values and state != "":
        state = SignupRequest.State.PENDING
    if state:
        queryset = queryset.filter(state=state)
    listing = make_listing(
        request,
        queryset,
        search_fields=["address", "name", "contact_email"],
        sort_fields=SORT_FIELDS,
        default_sort="created",
    )
    return listing, state


@manager_required
@require_safe
def queue(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    listing, state = queue_listing(request, domain)
    domains = Domain.objects.visible_to(request.user).values_list("domain", flat=True)
    return render(
        request,
        "signup/queue.html",
        {
            "listing": listing,
            "domain": domain,
            "state": state,
            "state_choices": STATE_FILTER_CHOICES,
            "domains": list(domains[:200]),
            "reject_form": RejectForm(),
        },
    )


def _get_request(request: HttpRequest, pk: int) -> SignupRequest:
    return get_visible_or_404(SignupRequest.objects, request.user, pk=pk)


@manager_required
@visible_object(_get_request, param="pk", name="signup")
@require_POST
def approve(request: HttpRequest, signup: SignupRequest) -> HttpResponse:
    try:
        mailbox = services.signup_approve(signup=signup, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("%(address)s approved: the mailbox is created and its Maildir job queued.")
            % {"address": mailbox.username},
        )
    return redirect("signup:queue")


@manager_required
def reject(request: HttpRequest, pk: int) -> HttpResponse:
    signup = _get_request(request, pk)
    form = RejectForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.signup_reject(
                signup=signup,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("%(address)s rejected.") % {"address": signup.address})
        return redirect("signup:queue")
    return render(request, "signup/reject.html", {"signup": signup, "form": form})


@manager_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    form = BulkForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Select requests and an action."))
        return redirect("signup:queue")
    ids = form.cleaned_data["ids"]
    if len(set(ids)) > settings.MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER:
        # Too long for a request: a background operation with a progress bar (docs/jobs.md).
        try:
            operation = signup_bulk_start(
                action=form.cleaned_data["action"],
                ids=ids,
                actor=request.user,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except SignupRequest.DoesNotExist as exc:
            raise Http404 from exc
        return redirect(operation)
    try:
        result = services.signup_bulk(
            action=form.cleaned_data["action"],
            ids=ids,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            request=request,
        )
    except SignupRequest.DoesNotExist as exc:
        raise Http404 from exc
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("signup:queue")
    if result.done:
        done = ", ".join(result.done)
        if result.action == "approve":
            messages.success(request, _("Approved: %(list)s.") % {"list": done})
        else:
            messages.success(request, _("Rejected: %(list)s.") % {"list": done})
    for address, reason in result.refused.items():
        messages.error(request, f"{address}: {reason}")
    return redirect("signup:queue")


@superadmin_required
@require_POST
def policy(request: HttpRequest, domain: str) -> HttpResponse:
    """The approval policy of a domain (superadmin; anyone else gets 404)."""
    dom = get_visible_or_404(Domain.objects, request.user, pk=domain)
    form = PolicyForm(request.POST)
    if form.is_valid():
        services.signup_policy_set(
            domain=dom, approval=form.cleaned_data["approval"], actor=request.user, request=request
        )
        messages.success(request, _("Signup policy saved."))
    else:
        messages.error(request, _("Choose a policy."))
    return redirect("domains:detail", domain=dom.pk)
