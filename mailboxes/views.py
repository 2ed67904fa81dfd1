"""Mailbox pages (SPEC §3.4): list with bulk actions, add, import, detail, edit, rename,
delete."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from aliases.views import report_alias_changes
from domains import pagemarks
from domains.models import Domain
from domains.selectors import attach_missing_usage, list_scope, usage_totals, with_usage
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    visible_object,
)
from mailadmin.lib.expressions import AddressDomain
from mailadmin.lib.flags import SERVICES
from mailadmin.lib.listing import (
    CONTAINS,
    Listing,
    address_search_text,
    list_url,
    make_listing,
)
from mailadmin.lib.redirects import local_next
from mailadmin.lib.storable import is_storable
from mailadmin.lib.undo import offer_undo, set_active_with_undo
from mailboxes import bulk, forwarding, services
from mailboxes.credentials import generate_password
from mailboxes.forms import (
    BulkForm,
    ChooseDomainForm,
    DeleteForm,
    ImportForm,
    MailboxForm,
    RenameForm,
)
from mailboxes.homes import mailbox_home_problem
from mailboxes.models import Mailbox
from mailboxes.names import name_match
from mailboxes.operations import mailbox_bulk_start, mailbox_import_start
from mailboxes.sortkeys import DOMAIN_SORT_INDEXES, quota_key, quota_side_keys, used_side_keys
from provisioning.models import Job

SORT_FIELDS = {
    "address": "username",
    "name": "name",
    "quota": "quota_key",
    "expiry": "expiredate",
    "active": "active",
    "used": "used_bytes",
}
#: ``?usage=`` of the list: mailboxes at or over this share of their quota, as last measured.
USAGE_FILTERS = {"over90": 90}


def mailbox_search(text: str, match: str, domains: list[str] | None = None) -> Q:
    """The list's search. By prefix (the default): ``user`` finds addresses whose local part
    starts with it (an address is ``local@domain``) and display names with a word starting
    with it (``chen`` finds "Wei Chen", ``伟`` finds "陈伟明": the word index,
    ``mailboxes.names``), ``user@exa`` an address prefix, ``@exa`` the mailboxes of domains
    starting with ``exa``. ``match=contains``: a substring of the address or the display name
    (a scan of every mailbox in scope). ``domains`` narrows the word lookup to the list's
    domains (the list's own query still decides what is shown)."""
    address = address_search_text(text)
    if match == CONTAINS:
        return Q(username__icontains=address) | Q(name__icontains=text)
    if address.startswith("@"):
        return Q(domain__domain__istartswith=address[1:])
    if "@" in address:
        return Q(username__istartswith=address)
    names = name_match(text, domains)
    prefix = Q(username__istartswith=address)
    condition = prefix | names
    condition.at_least = getattr(names, "at_least", 0)  # type: ignore[attr-defined]
    listed = getattr(names, "listed", None)
    if listed is not None:  # the list's first page: from those and the address prefix
        condition.listed = replace(listed, also=prefix)  # type: ignore[attr-defined]
    return condition


def _attach_errors(form: Form, exc: ValidationError) -> None:
    """Put a service's ``{field: messages}`` on the form's fields (others at the top)."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for name, messages_ in errors.items():
        form.add_error(name if name in form.fields else None, messages_)


def _usage_links(request: HttpRequest) -> dict[str, str]:
    """The list's query string without and with each ``?usage=`` filter (from page one)."""
    links = {}
    for name in ("", *USAGE_FILTERS):
        params = request.GET.copy()
        params.pop("page", None)
        params.pop("usage", None)
        if name:
            params["usage"] = name
        links[name or "all"] = f"?{params.urlencode()}"
    return links


def _list_url(domain: str | None = None) -> str:
    """The list, of ``domain`` when one is given ("" and None: every visible mailbox)."""
    return list_url("mailboxes:list", domain or None)


def _get_mailbox(request: HttpRequest, address: str) -> Mailbox:
    # ``address`` is the stored key (the URL converter normalised or decoded it).
    return get_visible_or_404(Mailbox.objects.select_related("domain"), request.user, pk=address)


def mailbox_listing(request: HttpRequest, domain: Domain | None) -> Listing:
    """The list's rows (query string: q, match, sort, page, per_page), shared with the API."""
    if domain is not None and not hasattr(domain, "used_users"):
        domain = with_usage(Domain.objects.filter(pk=domain.pk)).get()
        attach_missing_usage([domain])
    queryset = Mailbox.objects.visible_to(request.user)
    names = list_scope(request.user, domain)
    own_domain = None
    if names is not None:  # the same rows, named by a list of domains (see list_scope)
        queryset = Mailbox.objects.filter(domain_id__in=names)
        if not request.user.is_superadmin:  # as visible_to(): the address's domain too
            # checked after the search, on the rows it matched only (make_listing's costly)
            queryset = queryset.alias(address_domain=AddressDomain("username"))
            own_domain = Q(address_domain__in=names)
    # the rows in scope, without the page's annotations
    scope = queryset if own_domain is None else queryset.filter(own_domain)
    queryset = queryset.only("username", "name", "quota", "expiredate", "active", "domain_id")
    # Legacy quota strings ("104857600S,2000C") sort by their size, kept as a number in the
    # sort key table (mailboxes.sortkeys): the list reads the keys of its page from that
    # table's index, and a search sorts its own rows by the same number.
    queryset = queryset.annotate(quota_key=quota_key())
    # The measured disk usage (docs/disk-usage.md), joined in the same query.
    queryset = queryset.annotate(
        used_bytes=F("disk_usage__used_bytes"), used_percent=F("disk_usage__percent")
    )
    usage_filter = request.GET.get("usage", "")
    filtered = usage_filter in USAGE_FILTERS
    if filtered:
        queryset = queryset.filter(disk_usage__percent__gte=USAGE_FILTERS[usage_filter])
    return make_listing(
        request,
        queryset,
        search=lambda text, match: mailbox_search(text, match, names),
        costly=own_domain,
        # One domain: the index of the order, which the primary key extends (a seek).
        key_index=DOMAIN_SORT_INDEXES if names and len(names) == 1 else None,
        # By quota and by measured use: the keys of the page from a side table's index.
        side_keys=None
        if filtered
        else {"quota": quota_side_keys(names, scope), "used": used_side_keys(names, scope)},
        # A big domain's page numbers: from the nearest page mark (domains.pagemarks).
        marks=pagemarks.reader(pagemarks.MAILBOXES, names[0])
        if names and len(names) == 1 and not filtered
        else None,
        sort_fields=SORT_FIELDS,
        default_sort="address",
        # The usage rows hold the number of mailboxes: no COUNT over the domain per request
        # (a usage filter is counted, up to the bounded count, like a search).
        total=None if filtered else lambda: _mailbox_total(request, domain),
    )


def _mailbox_total(request: HttpRequest, domain: Domain | None) -> int:
    """The number of mailboxes of the list without a search or filter, from the usage rows."""
    if domain is not None:
        return domain.used_users
    return usage_totals(Domain.objects.visible_to(request.user)).mailboxes


def _unmeasured(request: HttpRequest, domain: Domain | None, listing: Listing) -> int:
    """How many of the list's mailboxes the order by use leaves out (no measured figure): the
    mailboxes of the usage rows less the measured ones of the domains' disk usage sums."""
    return max(0, _mailbox_total(request, domain) - listing.total)


@manager_required
@require_safe
def mailbox_list(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request, with_usage(Domain.objects.all()))
    if domain is not None:
        attach_missing_usage([domain])
    listing = mailbox_listing(request, domain)
    usage_filter = request.GET.get("usage", "")
    by_use = listing.sort.lstrip("-") == "used" and not listing.q
    by_use = by_use and usage_filter not in USAGE_FILTERS
    context = {
        # The order by use holds the measured mailboxes only: the page says so.
        "by_use": by_use,
        "unmeasured": _unmeasured(request, domain, listing) if by_use else None,
        "listing": listing,
        "domain": domain,
        "bulk_actions": BulkForm.action_choices(),
        "purge_allowed": settings.MAILADMIN_PURGE_ALLOWED,
        "usage_filter": usage_filter if usage_filter in USAGE_FILTERS else "",
        "usage_links": _usage_links(request),
    }
    return render(request, "mailboxes/list.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def mailbox_add(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    if domain is None:
        visible = list(Domain.objects.visible_to(request.user).values_list("pk", flat=True)[:2])
        if len(visible) == 1:
            domain = Domain.objects.get(pk=visible[0])
        elif request.method == "GET":
            form = ChooseDomainForm(actor=request.user)
            return render(
                request, "mailboxes/choose_domain.html", {"form": form, "has_domains": visible}
            )
    form = MailboxForm(
        request.POST if request.method == "POST" else None, actor=request.user, domain=domain
    )
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.mailbox_create(
                **form.service_kwargs(), actor=request.user, request=request
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request,
                _("Mailbox %(address)s created; its Maildir is being prepared.")
                % {"address": mailbox.username},
            )
            return redirect("mailboxes:detail", address=mailbox.username)
    return render(request, "mailboxes/form.html", {"form": form, "domain": domain})


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@require_safe
def mailbox_detail(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    targets, keep_copy = forwarding.forwarding_of(mailbox)
    # Work still to do, and finished work that left a note (e.g. leftover mail moved aside).
    jobs = (
        Job.objects.visible_to(request.user)
        .filter(object_id=mailbox.username)
        .filter(Q(state__in=Job.OPEN_STATES) | ~Q(note=""))[:20]
    )
    context = {
        "mailbox": mailbox,
        "home_problem": mailbox_home_problem(mailbox),
        "domain": mailbox.domain,
        "forward_to": targets,
        "forward_keep_copy": keep_copy,
        "jobs": jobs,
        "services": [(label, mailbox.service_enabled(name)) for name, label in SERVICES],
        "aliases": forwarding.aliases_pointing_to(mailbox.username),
    }
    return render(request, "mailboxes/detail.html", context)


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@require_http_methods(["GET", "POST"])
def mailbox_edit(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    form = MailboxForm(
        request.POST if request.method == "POST" else None, actor=request.user, mailbox=mailbox
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.mailbox_update(
                mailbox=mailbox, **form.service_kwargs(), actor=request.user, request=request
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request, _("Mailbox %(address)s saved.") % {"address": mailbox.username}
            )
            return redirect("mailboxes:detail", address=mailbox.username)
    context = {"form": form, "mailbox": mailbox, "domain": mailbox.domain}
    return render(request, "mailboxes/form.html", context)


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@require_http_methods(["GET", "POST"])
def mailbox_rename(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    form = RenameForm(
        request.POST if request.method == "POST" else None,
        initial={"local_part": mailbox.local_part},
    )
    if request.method == "POST" and form.is_valid():
        try:
            renamed = services.mailbox_rename(
                mailbox=mailbox,
                local_part=form.cleaned_data["local_part"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request,
                _("Mailbox renamed to %(address)s; its Maildir is being moved.")
                % {"address": renamed.username},
            )
            return redirect("mailboxes:detail", address=renamed.username)
    context = {"form": form, "mailbox": mailbox, "domain": mailbox.domain}
    return render(request, "mailboxes/rename.html", context)


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@require_http_methods(["GET", "POST"])
def mailbox_delete(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    form = DeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            result = services.mailbox_delete(
                mailbox=mailbox, purge=form.purge_requested, actor=request.user, request=request
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            report_alias_changes(request, result.changed_aliases, result.deleted_aliases)
            messages.success(
                request, _("Mailbox %(address)s deleted.") % {"address": result.address}
            )
            if result.home_problem:
                messages.warning(
                    request,
                    _("Its data was left on disk: %(problem)s") % {"problem": result.home_problem},
                )
            return redirect(_list_url(mailbox.domain_id))
    aliases = forwarding.aliases_pointing_to(mailbox.username)
    problem = mailbox_home_problem(mailbox)
    context = {
        "warning": _(
            "The data of this mailbox will not be archived or deleted, because its directory is"
            " not its own: %(problem)s Settle it by hand after the deletion."
        )
        % {"problem": problem}
        if problem
        else "",
        "title": _("Delete mailbox %(address)s") % {"address": mailbox.username},
        "message": " ".join(
            [
                _("The mailbox stops receiving mail at once.")
                if problem
                else _(
                    "The mailbox stops receiving mail at once and its data is archived on the"
                    " server."
                ),
                _("These aliases will no longer deliver to it:") if aliases else "",
            ]
        ).strip(),
        "items": aliases,
        "form": form,
        "submit_label": _("Delete mailbox"),
        "cancel_url": reverse("mailboxes:detail", args=[mailbox.username]),
        "danger": True,
        "mailbox": mailbox,
        "domain": mailbox.domain,
    }
    return render(request, "mailboxes/confirm_delete.html", context)


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@require_POST
def mailbox_set_active(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    """Enable (``active=1``) or disable (``active=0``) in one click, with an Undo button.

    The wanted state is posted, not "toggle", so a repeated or late Undo does no harm."""
    return set_active_with_undo(
        request,
        back=local_next(request, _list_url(mailbox.domain_id)),
        was_active=bool(mailbox.active),
        apply=lambda active: services.mailbox_update(
            mailbox=mailbox, active=active, actor=request.user, request=request
        ),
        undo_url=reverse("mailboxes:set_active", args=[mailbox.username]),
        done_text=lambda active: (
            (_("Mailbox %(address)s enabled.") if active else _("Mailbox %(address)s disabled."))
            % {"address": mailbox.username}
        ),
    )


@manager_required
@visible_object(_get_mailbox, param="address", name="mailbox")
@never_cache
@require_http_methods(["GET", "POST"])
def mailbox_reset_password(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    """Give the mailbox a new random password, shown once on the answer page."""
    context: dict[str, Any] = {
        "mailbox": mailbox,
        "domain": mailbox.domain,
        "back_url": local_next(request, reverse("mailboxes:detail", args=[mailbox.username])),
    }
    if request.method == "POST":
        password = generate_password()
        try:
            services.mailbox_update(
                mailbox=mailbox, password=password, actor=request.user, request=request
            )
        except ValidationError as exc:
            context["errors"] = exc.messages
        else:
            # Shown once, in this response only: never stored, logged or put in the session.
            context["password"] = password
        response = render(request, "mailboxes/reset_password.html", context)
        response["Cache-Control"] = "no-store"
        return response
    return render(request, "mailboxes/reset_password.html", context)


@manager_required
@never_cache
@require_safe
def mailbox_generate_password(request: HttpRequest) -> JsonResponse:
    """A password from the panel's generator for the "Generate" button of the mailbox form
    (nothing is stored: the form still posts it like a typed one)."""
    response = JsonResponse({"password": generate_password()})
    response["Cache-Control"] = "no-store"
    return response


@manager_required
@never_cache
@require_POST
def mailbox_bulk(request: HttpRequest) -> HttpResponse:
    addresses = sorted({a.strip().lower() for a in request.POST.getlist("addresses")})
    domain_name = request.POST.get("domain", "")
    back = _list_url(domain_name if domain_name.isprintable() else "")
    if not addresses:
        messages.error(request, _("Tick at least one mailbox first: nothing was changed."))
        return redirect(back)
    if not request.POST.get("action"):
        messages.error(request, _("Choose an action first: nothing was changed."))
        return redirect(back)
    visible = Mailbox.objects.visible_to(request.user).filter(pk__in=addresses)
    if (
        len(addresses) > BulkForm.MAX_ADDRESSES
        or not all(is_storable(a) for a in addresses)
        or visible.count() != len(addresses)
    ):
        raise Http404
    form = BulkForm(request.POST)
    context: dict[str, Any] = {"form": form, "addresses": addresses}
    domain_name = request.POST.get("domain", "")
    context["list_url"] = _list_url(domain_name if domain_name.isprintable() else "")
    if not form.is_valid() or form.needs_confirmation:
        context["action_label"] = BulkForm.ACTION_LABELS.get(request.POST.get("action", ""), "")
        context["purge_allowed"] = settings.MAILADMIN_PURGE_ALLOWED
        return render(request, "mailboxes/bulk.html", context)
    data = form.cleaned_data
    if len(data["addresses"]) > settings.MAILADMIN_BACKGROUND_BULK_OVER:
        # Too long for a request: a background operation with a progress bar (docs/jobs.md).
        operation = mailbox_bulk_start(
            action=data["action"],
            addresses=data["addresses"],
            quota=data["quota"],
            purge=data["purge"],
            actor=request.user,
            request=request,
        )
        return redirect(operation)
    try:
        result = bulk.mailbox_bulk(
            action=data["action"],
            addresses=data["addresses"],
            quota=data["quota"],
            purge=data["purge"],
            actor=request.user,
            request=request,
        )
    except Mailbox.DoesNotExist as exc:
        raise Http404 from exc
    except ValidationError as exc:
        _attach_errors(form, exc)
        context["action_label"] = BulkForm.ACTION_LABELS[data["action"]]
        return render(request, "mailboxes/bulk.html", context)
    if result.passwords:
        # Shown once, in this response only: never stored, logged or put in the session.
        context["passwords"] = sorted(result.passwords.items())
        response = render(request, "mailboxes/bulk.html", context)
        response["Cache-Control"] = "no-store"
        return response
    report_alias_changes(request, result.changed_aliases, result.deleted_aliases)
    done = _("%(action)s: %(count)s mailboxes done.") % {
        "action": BulkForm.ACTION_LABELS[data["action"]],
        "count": len(result.addresses),
    }
    if result.changed_state and not request.POST.get("undone"):
        # Enable/disable: the Undo posts the other action for the mailboxes it changed.
        offer_undo(
            request,
            message=done,
            url=reverse("mailboxes:bulk"),
            fields={
                "action": "enable" if data["action"] == "disable" else "disable",
                "addresses": result.changed_state,
                "domain": domain_name if domain_name.isprintable() else "",
                "undone": "1",
            },
        )
    else:
        messages.success(request, done)
    return redirect(context["list_url"])


@manager_required
@require_http_methods(["GET", "POST"])
def mailbox_import(request: HttpRequest) -> HttpResponse:
    """Create the mailboxes of a CSV file in one domain, all or nothing (SPEC §7.1); the
    "Dry run" button checks every line the same way and writes nothing."""
    domain = domain_from_query(request)
    if domain is None:
        raise Http404
    form = ImportForm(request.POST or None, request.FILES or None)
    errors: list[str] = []
    dry_run = "dry_run" in request.POST
    preview: list[Mailbox] | None = None
    if request.method == "POST" and form.is_valid():
        rows = form.cleaned_data["file"]
        if len(rows) > settings.MAILADMIN_BACKGROUND_IMPORT_OVER:
            # Too long for a request: a background operation with a progress bar.
            operation = mailbox_import_start(
                domain=domain.domain,
                rows=rows,
                actor=request.user,
                request=request,
                dry_run=dry_run,
            )
            return redirect(operation)
        try:
            created = bulk.mailbox_import(
                domain=domain.domain,
                rows=rows,
                actor=request.user,
                request=request,
                dry_run=dry_run,
            )
        except bulk.ImportRejected as exc:
            errors = exc.messages
        else:
            if dry_run:
                preview = created
            else:
                messages.success(
                    request,
                    _("%(count)s mailboxes imported; their Maildirs are being prepared.")
                    % {"count": len(created)},
                )
                return redirect(_list_url(domain.domain))
    context = {
        "form": form,
        "domain": domain,
        "import_errors": errors,
        "dry_run": dry_run,
        "preview": preview,
    }
    return render(request, "mailboxes/import.html", context)
