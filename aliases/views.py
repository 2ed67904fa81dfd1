"""Alias pages (SPEC §3.5, §8): list, add, edit, delete."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_POST, require_safe

from aliases import services
from aliases.forms import AliasEditForm, AliasForm
from aliases.models import Alias
from domains import pagemarks
from domains.models import Domain
from domains.selectors import list_scope, usage_totals
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    visible_object,
)
from mailadmin.lib.addresses import domain_unicode
from mailadmin.lib.listing import (
    CONTAINS,
    Listing,
    address_search_text,
    list_url,
    make_listing,
)
from mailadmin.lib.redirects import local_next
from mailadmin.lib.storable import is_storable
from mailadmin.lib.undo import set_active_with_undo
from mailboxes.models import Mailbox
from mailstack.services import is_internal_only

ALIAS_BULK_LABELS = {
    "enable": _lazy("Enable"),
    "disable": _lazy("Disable"),
    "delete": _lazy("Delete"),
}
# Aliases without the forwarding aliases of mailboxes (those show on the mailbox).
#: The list's sort keys (``?sort=``) and the column of each.
SORT_FIELDS = {"address": "address", "active": "active", "domain": "domain_id"}
NOT_FORWARDING = ~Exists(Mailbox.objects.filter(pk=OuterRef("address")))


def _plain_aliases() -> QuerySet[Alias]:
    return Alias.objects.filter(NOT_FORWARDING)


def alias_search(text: str, match: str) -> Q:
    """The list's search. By prefix (the default): ``sales`` finds aliases whose local part
    starts with it, ``sales@exa`` an address prefix, ``@exa`` the aliases of domains starting
    with ``exa`` (their catch-alls too). With ``match=contains``: a substring of the address or
    of the targets."""
    address = address_search_text(text)
    if match == CONTAINS:
        return Q(address__icontains=address) | Q(goto__icontains=address)
    if address.startswith("@"):
        return Q(domain__domain__istartswith=address[1:])
    return Q(address__istartswith=address)


def _get_alias(request: HttpRequest, address: str) -> Alias:
    # ``address`` is the stored key (the URL converter normalised or decoded it).
    return get_visible_or_404(_plain_aliases(), request.user, pk=address)


def _list_url(domain: str | None = None) -> str:
    return list_url("aliases:list", domain)


def report_alias_changes(request: HttpRequest, changed: list[str], deleted: list[str]) -> None:
    """Tell which aliases lost targets because a mailbox or a domain went away."""
    if changed:
        messages.info(
            request,
            _("Removed from the targets of: %(aliases)s") % {"aliases": ", ".join(changed)},
        )
    if deleted:
        messages.warning(
            request,
            _("Deleted because they had no target left: %(aliases)s")
            % {"aliases": ", ".join(deleted)},
        )


def _warn_missing_targets(request: HttpRequest, alias: Alias) -> None:
    missing = services.missing_local_targets(alias.targets, actor=request.user)
    if missing:
        messages.warning(
            request,
            _(
                "These targets are in your domains but are neither a mailbox nor an alias, so"
                " mail to them will bounce: %s"
            )
            % ", ".join(missing),
        )


def alias_listing(request: HttpRequest, domain: Domain | None) -> Listing:
    """The list's rows (query string: q, match, sort, page, per_page), shared with the API."""
    queryset = Alias.objects.visible_to(request.user)
    domains = Domain.objects.visible_to(request.user)
    if domain is not None:
        domains = domains.filter(pk=domain.pk)
    names = list_scope(request.user, domain)
    if names is not None:  # the same rows, named by a list of domains (see list_scope)
        queryset = Alias.objects.filter(domain_id__in=names)
        if not request.user.is_superadmin:  # as visible_to(): the address's domain too
            queryset = queryset.address_in(names)
    return make_listing(
        request,
        queryset,
        search=alias_search,
        sort_fields=SORT_FIELDS,
        default_sort="address",
        # After the search: a substring search over every alias would otherwise run this
        # subquery for each of them.
        costly=NOT_FORWARDING,
        # One domain in address order: its index, which the primary key extends (a seek).
        key_index={"address": "mailadmin_alias_domain"} if names and len(names) == 1 else None,
        # A big domain's page numbers: from the nearest page mark (domains.pagemarks).
        marks=pagemarks.reader(pagemarks.ALIASES, names[0]) if names and len(names) == 1 else None,
        # Counting the aliases without the forwarding ones means a lookup in the mailbox table
        # for every alias in scope (100 ms at 100,000); the usage rows hold that number.
        total=lambda: usage_totals(domains).aliases,
    )


@manager_required
@require_safe
def alias_list(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    context = {
        "listing": alias_listing(request, domain),
        "domain": domain,
        "bulk_actions": list(ALIAS_BULK_LABELS.items()),
    }
    return render(request, "aliases/list.html", context)


@manager_required
def alias_add(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    initial = {"domain": domain.pk} if domain else {}
    form = AliasForm(request.POST or None, manager=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            alias = services.alias_create(
                actor=request.user,
                local_part=form.cleaned_data["local_part"],
                domain=form.cleaned_data["domain"],
                goto=form.cleaned_data["goto"],
                active=form.cleaned_data["active"],
                internal_only=form.cleaned_data["internal_only"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Alias %s created.") % alias.address)
            if alias.is_catchall:
                messages.info(
                    request,
                    _(
                        "%(address)s is the catch-all of %(domain)s: it receives mail for"
                        " addresses of the domain that do not exist. Existing mailboxes keep"
                        " getting their own mail, because the panel's Postfix alias map answers"
                        " them before the catch-all."
                    )
                    % {"address": alias.address, "domain": domain_unicode(alias.domain_id)},
                )
            _warn_missing_targets(request, alias)
            return redirect(_list_url(alias.domain_id))
    return render(request, "aliases/form.html", {"form": form, "domain": domain, "alias": None})


@manager_required
def alias_edit(request: HttpRequest, address: str) -> HttpResponse:
    alias = _get_alias(request, address)
    initial = {
        "goto": "\n".join(alias.targets),
        "active": alias.active,
        "internal_only": is_internal_only(alias.address),
    }
    form = AliasEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.alias_update(
                actor=request.user,
                alias=alias,
                goto=form.cleaned_data["goto"],
                active=form.cleaned_data["active"],
                internal_only=form.cleaned_data["internal_only"],
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Alias %s saved.") % alias.address)
            _warn_missing_targets(request, alias)
            return redirect(_list_url(alias.domain_id))
    return render(
        request, "aliases/form.html", {"form": form, "alias": alias, "domain": alias.domain}
    )


@manager_required
def alias_delete(request: HttpRequest, address: str) -> HttpResponse:
    alias = _get_alias(request, address)
    if request.method == "POST":
        try:
            services.alias_delete(actor=request.user, alias=alias, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Alias %s deleted.") % alias.address)
        return redirect(_list_url(alias.domain_id))
    return render(
        request,
        "includes/confirm.html",
        {
            "title": _("Delete alias %s") % alias.address,
            "message": _("Mail to %s will no longer be forwarded to:") % alias.address,
            "items": alias.targets,
            "submit_label": _("Delete alias"),
            "cancel_url": _list_url(alias.domain_id),
            "danger": True,
        },
    )


@manager_required
@visible_object(_get_alias, param="address", name="alias")
@require_POST
def alias_set_active(request: HttpRequest, alias: Alias) -> HttpResponse:
    """Enable (``active=1``) or disable (``active=0``) in one click, with an Undo button."""
    return set_active_with_undo(
        request,
        back=local_next(request, _list_url(alias.domain_id)),
        was_active=bool(alias.active),
        apply=lambda active: services.alias_set_active(
            actor=request.user, alias=alias, active=active, request=request
        ),
        undo_url=reverse("aliases:set_active", args=[alias.address]),
        done_text=lambda active: (
            (_("Alias %(address)s enabled.") if active else _("Alias %(address)s disabled."))
            % {"address": alias.address}
        ),
    )


@manager_required
@require_POST
def alias_bulk(request: HttpRequest) -> HttpResponse:
    """The bulk menu of the alias list: enable, disable or delete (after a confirmation)."""
    addresses = sorted({a.strip().lower() for a in request.POST.getlist("addresses")})
    action = request.POST.get("action", "")
    back = local_next(request, _list_url(None))
    if not addresses:
        messages.error(request, _("Tick at least one alias first: nothing was changed."))
        return redirect(back)
    if action not in ALIAS_BULK_LABELS:
        messages.error(request, _("Choose an action first: nothing was changed."))
        return redirect(back)
    if len(addresses) > services.MAX_BULK_ALIASES or not all(is_storable(a) for a in addresses):
        raise Http404
    if _plain_aliases().visible_to(request.user).filter(pk__in=addresses).count() != len(addresses):
        raise Http404
    if action == "delete" and not request.POST.get("confirm"):
        return render(
            request,
            "aliases/bulk_confirm.html",
            {"addresses": addresses, "action": action, "back_url": back},
        )
    try:
        done = services.alias_bulk(
            actor=request.user, action=action, addresses=addresses, request=request
        )
    except Alias.DoesNotExist as exc:
        raise Http404 from exc
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(back)
    messages.success(
        request,
        _("%(action)s: %(count)s aliases done.")
        % {"action": ALIAS_BULK_LABELS[action], "count": len(done)},
    )
    return redirect(back)
