"""Archive pages: the list (scoped; per domain with ``?domain=``), restore into a new mailbox,
delete now, and (superadmin) ask the storage hosts to measure their archives."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from archives import services
from archives.forms import RestoreForm
from mailadmin.lib.access import (
    domain_from_query,
    get_visible_or_404,
    manager_required,
    superadmin_required,
    visible_object,
)
from mailadmin.lib.listing import make_listing
from mailadmin.lib.urlkeys import domain_param
from provisioning.models import Archive

SORT_FIELDS = {
    "archived": "archived_at",
    "address": "address",
    "size": "size_bytes",
    "domain": "domain",
}


def _archive(request: HttpRequest, pk: int) -> Archive:
    return get_visible_or_404(Archive.objects.listed(), request.user, pk=pk)


@manager_required
@require_safe
def archive_list(request: HttpRequest) -> HttpResponse:
    domain = domain_from_query(request)
    rows = Archive.objects.visible_to(request.user).listed()
    if domain is not None:
        rows = rows.filter(domain=domain.pk)
    listing = make_listing(
        request,
        rows,
        search_fields=["address", "path"],
        sort_fields=SORT_FIELDS,
        default_sort="-archived",
    )
    return render(
        request,
        "archives/list.html",
        {
            "listing": listing,
            "domain": domain,
            "retention": settings.MAILADMIN_ARCHIVE_RETENTION_DAYS,
        },
    )


def _back(archive: Archive) -> str:
    url = reverse("archives:list")
    return f"{url}?domain={domain_param(archive.domain)}" if archive.domain else url


@manager_required
@visible_object(_archive, param="pk", name="archive")
def archive_restore(request: HttpRequest, archive: Archive) -> HttpResponse:
    local, _at, domain = archive.address.rpartition("@")
    form = RestoreForm(
        request.POST if request.method == "POST" else None,
        actor=request.user,
        initial={"local_part": local, "domain": domain or archive.domain},
    )
    if request.method == "POST" and form.is_valid():
        try:
            mailbox = services.archive_restore(
                archive=archive,
                domain=form.cleaned_data["domain"],
                local_part=form.cleaned_data["local_part"],
                password=form.cleaned_data["password1"],
                actor=request.user,
                request=request,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                _("Mailbox %(address)s created; the archive is restored into it by a job.")
                % {"address": mailbox.username},
            )
            return redirect("mailboxes:detail", address=mailbox.username)
    return render(
        request, "archives/restore.html", {"archive": archive, "form": form, "back": _back(archive)}
    )


@manager_required
@visible_object(_archive, param="pk", name="archive")
@require_POST
def archive_delete(request: HttpRequest, archive: Archive) -> HttpResponse:
    try:
        services.archive_delete(archive=archive, actor=request.user, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The archive is deleted by a job on its storage host."))
    return redirect(_back(archive))


@superadmin_required
@require_POST
def archive_scan(request: HttpRequest) -> HttpResponse:
    services.archives_scan_request(actor=request.user, request=request)
    messages.success(
        request, _("Each storage host measures its archives; reload the page in a moment.")
    )
    return redirect("archives:list")
