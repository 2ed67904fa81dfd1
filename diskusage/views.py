"""Disk usage pages: measure a domain or a mailbox now, download a domain's usage report as
CSV (streamed), mail it to the domain's admins now. Scoped: outsiders get 404."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from diskusage import reports, services, tasks
from domains.models import Domain
from mailadmin.lib.access import get_visible_or_404, manager_required, visible_object
from mailboxes.models import Mailbox

log = logging.getLogger("mailadmin.usage")


def _domain(request: HttpRequest, domain: str) -> Domain:
    return get_visible_or_404(Domain.objects.all(), request.user, pk=domain)


def _mailbox(request: HttpRequest, address: str) -> Mailbox:
    return get_visible_or_404(Mailbox.objects.all(), request.user, pk=address)


@manager_required
@visible_object(_domain, param="domain", name="domain")
@require_POST
def measure_domain(request: HttpRequest, domain: Domain) -> HttpResponse:
    jobs = services.usage_measure_domain(domain=domain, actor=request.user, request=request)
    if jobs:
        messages.success(
            request, _("The storage hosts measure the Maildirs; reload the page in a moment.")
        )
    else:
        messages.info(request, _("This domain has no mailboxes to measure."))
    return redirect("domains:detail", domain=domain.pk)


@manager_required
@visible_object(_mailbox, param="address", name="mailbox")
@require_POST
def measure_mailbox(request: HttpRequest, mailbox: Mailbox) -> HttpResponse:
    services.usage_measure_mailbox(mailbox=mailbox, actor=request.user, request=request)
    messages.success(
        request, _("The storage host measures the Maildir; reload the page in a moment.")
    )
    return redirect("mailboxes:detail", address=mailbox.pk)


@manager_required
@visible_object(_domain, param="domain", name="domain")
@require_safe
def report_csv(request: HttpRequest, domain: Domain) -> StreamingHttpResponse:
    # The domain's own mailboxes, as the mailed report and the domain page's sums count them.
    mailboxes = (
        Mailbox.objects.visible_to(request.user).filter(domain_id=domain.pk).address_in([domain.pk])
    )
    response = StreamingHttpResponse(
        reports.csv_stream(mailboxes), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{reports.filename(domain.pk)}"'
    return response


def _send_later(domain: str, to: list[str], actor: str) -> None:
    """The report is written and sent by a worker (inline without a broker); a broker that
    does not answer is logged, never an error page."""
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            tasks.usage_report.apply((domain, to, actor), throw=True)
        else:
            tasks.usage_report.apply_async((domain, to, actor), queue="mailadmin", retry=False)
    except Exception:
        log.exception("the usage report of %s could not be sent", domain)


@manager_required
@visible_object(_domain, param="domain", name="domain")
@require_POST
def report_send(request: HttpRequest, domain: Domain) -> HttpResponse:
    to = reports.report_recipients(domain, request.user)
    if not to:
        messages.error(request, _("This domain has no administrator with a mail address."))
        return redirect("domains:detail", domain=domain.pk)
    with transaction.atomic():
        audit_record(
            actor=request.user,
            action="domain.usage_report_request",
            request=request,
            object_type="domain",
            object_id=domain.pk,
            domain=domain.pk,
            message=_("disk usage report of %(domain)s asked for, to %(to)s")
            % {"domain": domain.pk, "to": ", ".join(to)},
        )
        transaction.on_commit(lambda: _send_later(domain.pk, to, str(request.user.pk)))
    messages.success(
        request,
        _("The usage report is being sent to %(to)s.") % {"to": ", ".join(to)},
    )
    return redirect("domains:detail", domain=domain.pk)
