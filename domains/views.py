"""Domain pages (SPEC §3.3): everyone sees their domains; only a superadmin changes them."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_safe

from accounts.models import DomainManager
from aliases.models import Alias
from aliases.views import report_alias_changes
from domains import services
from domains.forms import DomainAddForm, DomainDeleteForm, DomainEditForm, DomainRenameForm
from domains.models import Domain, DomainUsage
from domains.selectors import attach_missing_usage, domain_search, with_usage
from mailadmin.lib.access import (
    get_visible_or_404,
    manager_required,
    superadmin_required,
    visible_object,
)
from mailadmin.lib.addresses import domain_unicode
from mailadmin.lib.flags import SERVICES
from mailadmin.lib.listing import Listing, SideKeys, make_listing
from mailboxes.models import Mailbox
from provisioning.models import Job

SORT_FIELDS = {
    "name": "domain",
    "users": "used_users",
    "aliases": "used_aliases",
    "quota": "used_quota",
    "expiry": "expiredate",
    "active": "active",
}


def _data(request: HttpRequest) -> QueryDict | None:
    """The submitted data on POST (even when empty: that is a submission too)."""
    return request.POST if request.method == "POST" else None


#: The usage figures the list sorts by, with the usage table's index on (figure, domain).
USAGE_SORTS = {
    "users": ("mailboxes", "mailadmin_usage_mailboxes"),
    "aliases": ("aliases", "mailadmin_usage_aliases"),
    "quota": ("quota_bytes", "mailadmin_usage_quota"),
}


def _usage_order(scope: QuerySet[Domain]) -> dict[str, SideKeys]:
    """Every domain sorted by a usage figure: the page's keys from the usage table's index
    (a domain without a usage row yet joins the order when one is made: by the recompute or
    a page that shows it)."""
    return {
        sort: SideKeys(
            rows=DomainUsage.objects.all(), value=figure, key="domain", index=index, scope=scope
        )
        for sort, (figure, index) in USAGE_SORTS.items()
    }


def domain_listing(request: HttpRequest) -> Listing:
    """The list's rows with their usage (q, match, sort, page, per_page), shared with the API."""
    scope = Domain.objects.visible_to(request.user)
    listing = make_listing(
        request,
        with_usage(scope),
        search=domain_search,
        sort_fields=SORT_FIELDS,
        default_sort="name",
        total=lambda: Domain.objects.visible_to(request.user).count(),
        # A superadmin's list of every domain; a domain admin's few domains sort their rows.
        side_keys=_usage_order(scope) if request.user.is_superadmin else None,
    )
    attach_missing_usage(listing.objects)
    return listing


@manager_required
@require_safe
def domain_list(request: HttpRequest) -> HttpResponse:
    listing = domain_listing(request)
    return render(request, "domains/list.html", {"listing": listing})


def _get_domain_with_usage(request: HttpRequest, domain: str) -> Domain:
    return get_visible_or_404(with_usage(Domain.objects.all()), request.user, pk=domain)


@manager_required
@visible_object(_get_domain_with_usage, param="domain", name="obj")
@require_safe
def domain_detail(request: HttpRequest, obj: Domain) -> HttpResponse:
    attach_missing_usage([obj])
    admins = (
        DomainManager.objects.filter(domain_id=obj.pk, active=True)
        .values_list("manager_id", flat=True)
        .distinct()
        .order_by("manager_id")
    )
    jobs = Job.objects.visible_to(request.user).open().filter(domain=obj.pk)[:20]
    return render(
        request,
        "domains/detail.html",
        {
            "domain": obj,
            "admins": list(admins),
            "jobs": list(jobs),
            "services": [(label, obj.service_enabled(name)) for name, label in SERVICES],
        },
    )


@superadmin_required
def domain_add(request: HttpRequest) -> HttpResponse:
    form = DomainAddForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            domain = services.domain_create(
                name=form.cleaned_data["domain"],
                values=form.values(),
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Domain %(name)s added.") % {"name": domain_unicode(domain.pk)}
            )
            return redirect("domains:detail", domain=domain.pk)
    return render(request, "domains/form.html", {"form": form, "domain": None})


@superadmin_required
def domain_edit(request: HttpRequest, domain: str) -> HttpResponse:
    obj = get_visible_or_404(Domain.objects, request.user, pk=domain)
    form = DomainEditForm(_data(request), instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.domain_update(
                domain=obj,
                values=form.values(),
                apply_template=form.cleaned_data["apply_template"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, _("Domain %(name)s saved.") % {"name": domain_unicode(obj.pk)}
            )
            return redirect("domains:detail", domain=obj.pk)
    return render(request, "domains/form.html", {"form": form, "domain": obj})


@superadmin_required
def domain_delete(request: HttpRequest, domain: str) -> HttpResponse:
    obj = get_visible_or_404(Domain.objects, request.user, pk=domain)
    # Whether anything is left: two index probes. The numbers shown: the domain's usage row
    # (kept by the services; no count over a domain of a million rows), counted only for a
    # domain that has no row yet.
    has_content = (
        Mailbox.objects.filter(domain_id=obj.pk).exists()
        or Alias.objects.filter(domain_id=obj.pk).exists()
    )
    figures = DomainUsage.objects.filter(pk=obj.pk).values_list("mailboxes", "aliases").first()
    if figures is None:
        figures = (
            Mailbox.objects.filter(domain_id=obj.pk).count(),
            Alias.objects.filter(domain_id=obj.pk).count(),
        )
    mailbox_count, alias_count = figures
    form = DomainDeleteForm(_data(request), has_content=has_content)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.domain_delete(
                domain=obj,
                delete_all=form.cleaned_data.get("delete_all", False),
                confirm_domain=form.cleaned_data.get("confirm_domain", ""),
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            report_alias_changes(request, result.changed_aliases, result.deleted_aliases)
            messages.success(
                request, _("Domain %(name)s deleted.") % {"name": domain_unicode(obj.pk)}
            )
            return redirect("domains:list")
    name = domain_unicode(obj.pk)
    if has_content:
        message = _(
            "%(name)s still has mailboxes or aliases. To delete it, choose to delete them with"
            " it and type the domain name. Their mail data is archived by a job."
        ) % {"name": name}
    else:
        message = _("Delete the domain %(name)s? Its admin assignments are removed too.") % {
            "name": name
        }
    return render(
        request,
        "domains/delete.html",
        {
            "domain": obj,
            "form": form,
            "title": _("Delete %(name)s") % {"name": name},
            "message": message,
            "items": [
                ngettext("%(count)s mailbox", "%(count)s mailboxes", mailbox_count)
                % {"count": mailbox_count},
                ngettext("%(count)s alias", "%(count)s aliases", alias_count)
                % {"count": alias_count},
            ],
            "submit_label": _("Delete domain"),
            "cancel_url": reverse("domains:detail", args=[obj.pk]),
            "danger": True,
        },
    )


@superadmin_required
def domain_rename(request: HttpRequest, domain: str) -> HttpResponse:
    obj = get_visible_or_404(Domain.objects, request.user, pk=domain)
    form = DomainRenameForm(_data(request))
    if request.method == "POST" and form.is_valid():
        try:
            renamed = services.domain_rename(
                domain=obj,
                new_name=form.cleaned_data["domain"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Domain %(old)s renamed to %(new)s. A job moves its mail directory.")
                % {"old": domain_unicode(obj.pk), "new": domain_unicode(renamed.pk)},
            )
            return redirect("domains:detail", domain=renamed.pk)
    return render(request, "domains/rename.html", {"domain": obj, "form": form})
