"""The expiry page: what is past its expiry date and still active, what expires soon, and the
notices sent; a superadmin can start the run at once (it runs daily by itself)."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from domains.models import Domain
from expiry.models import ExpiryNotice
from mailadmin.lib import dates
from mailadmin.lib.access import manager_required, superadmin_required
from mailboxes.models import Mailbox

log = logging.getLogger("mailadmin.expiry")

#: Rows per table on the page.
SHOWN = 200
#: Days ahead the page looks when no notice threshold is set.
HORIZON_DAYS = 30


@manager_required
@require_safe
def expiry_list(request: HttpRequest) -> HttpResponse:
    today = dates.today()
    horizon = max([HORIZON_DAYS, *settings.MAILADMIN_EXPIRY_NOTICE_DAYS])
    until = today + datetime.timedelta(days=horizon)
    domains = Domain.objects.visible_to(request.user).filter(active=True, expiredate__isnull=False)
    mailboxes = Mailbox.objects.visible_to(request.user).filter(
        active=True, expiredate__isnull=False
    )
    return render(
        request,
        "expiry/list.html",
        {
            "today": today,
            "horizon": horizon,
            "action": settings.MAILADMIN_EXPIRY_ACTION,
            "notice_days": settings.MAILADMIN_EXPIRY_NOTICE_DAYS,
            "expired_domains": list(domains.filter(expiredate__lt=today).order_by("pk")[:SHOWN]),
            "expired_mailboxes": list(
                mailboxes.filter(expiredate__lt=today).order_by("pk")[:SHOWN]
            ),
            "soon_domains": list(
                domains.filter(expiredate__gte=today, expiredate__lte=until).order_by(
                    "expiredate", "pk"
                )[:SHOWN]
            ),
            "soon_mailboxes": list(
                mailboxes.filter(expiredate__gte=today, expiredate__lte=until).order_by(
                    "expiredate", "pk"
                )[:SHOWN]
            ),
            "notices": list(ExpiryNotice.objects.visible_to(request.user)[:SHOWN]),
        },
    )


@superadmin_required
@require_POST
def expiry_run(request: HttpRequest) -> HttpResponse:
    """Send the run to a worker (without a broker it runs here and now)."""
    from expiry.tasks import run_expiry

    audit_record(
        actor=request.user,
        action="expiry.run",
        request=request,
        message=gettext_noop("expiry run started by hand"),
    )
    try:
        run_expiry.apply_async(retry=False)
    except Exception as exc:  # the broker is down: the daily run does it
        log.warning("could not start the expiry run: %s", exc)
        messages.error(
            request, _("The expiry run could not be started now; it runs daily by itself.")
        )
    else:
        messages.success(request, _("The expiry run was started."))
    return redirect("expiry:list")
