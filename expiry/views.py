"""The expiry page: what is past its expiry date and still active, what expires soon, and the
notices sent; a superadmin can start the run at once (it runs daily by itself)."""

from __future__ import annotations

import datetime
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST, require_safe

from audit.services import audit_record
from domains.models import Domain
from domains.selectors import list_scope
from expiry.models import ExpiryNotice
from mailadmin.lib import dates
from mailadmin.lib.access import manager_required, superadmin_required
from mailadmin.lib.listing import Order, read_keys, rows_by_pk
from mailboxes.models import Mailbox

log = logging.getLogger("mailadmin.expiry")

#: Rows per table on the page.
SHOWN = 200
#: Days ahead the page looks when no notice threshold is set.
HORIZON_DAYS = 30


def _read(objects: QuerySet, order: Order, index: str) -> list[Any]:
    """The first :data:`SHOWN` of ``objects`` in ``order``: their keys read from ``index``
    (named to MariaDB, which left to itself may walk the index from its first entry or the
    primary key from the first row), then the rows."""
    keys = [key[-1] for key in read_keys(objects, order, None, SHOWN, index)]
    return rows_by_pk(objects, order.pk, keys)


@manager_required
@require_safe
def expiry_list(request: HttpRequest) -> HttpResponse:
    today = dates.today()
    horizon = max([HORIZON_DAYS, *settings.MAILADMIN_EXPIRY_NOTICE_DAYS])
    until = today + datetime.timedelta(days=horizon)
    domains = Domain.objects.visible_to(request.user).filter(active=True, expiredate__isnull=False)
    by_date = "mailadmin_domain_active_expiry"  # (active, expiredate, domain)
    mailboxes = Mailbox.objects.visible_to(request.user)
    # Every domain: a range of the (active, expiredate, username) index (mailadmin.lib.schema).
    index = "mailadmin_mailbox_active_expiry"
    names = list_scope(request.user, None)
    if names is not None:
        # The same rows, by a literal list of the admin's domains (domains.selectors.list_scope),
        # a range of the (domain, expiredate) index: through the subquery of visible_to()
        # MariaDB read and sorted every mailbox of those domains (9.6 s at 1,000,000).
        mailboxes = Mailbox.objects.filter(domain_id__in=names).address_in(names)
        index = "mailadmin_mailbox_domain_expiry"
    mailboxes = mailboxes.filter(active=True, expiredate__isnull=False)
    return render(
        request,
        "expiry/list.html",
        {
            "today": today,
            "horizon": horizon,
            "action": settings.MAILADMIN_EXPIRY_ACTION,
            "notice_days": settings.MAILADMIN_EXPIRY_NOTICE_DAYS,
            "expired_domains": _read(
                domains.filter(expiredate__lt=today), Order("domain", "domain", False), by_date
            ),
            "expired_mailboxes": _read(
                mailboxes.filter(expiredate__lt=today), Order("username", "username", False), index
            ),
            "soon_domains": _read(
                domains.filter(expiredate__gte=today, expiredate__lte=until),
                Order("expiredate", "domain", False),
                by_date,
            ),
            "soon_mailboxes": _read(
                mailboxes.filter(expiredate__gte=today, expiredate__lte=until),
                Order("expiredate", "username", False),
                index,
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
