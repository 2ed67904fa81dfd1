"""The expiry page: what is past its expiry date and still active, what expires soon, and the
notices sent; a superadmin can start the run at once (it runs daily by itself)."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from dataclasses import dataclass
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
from mailadmin.lib.listing import Order, decode_position, encode_position, read_keys, rows_by_pk
from mailboxes.models import Mailbox

log = logging.getLogger("mailadmin.expiry")

#: Rows per table on the page; each table has its own "next" link beyond them.
PAGE = 25
#: Days ahead the page looks when no notice threshold is set.
HORIZON_DAYS = 30


@dataclass
class Section:
    """One table of the page: a page of its rows in its order and the links to the next page
    and back to the first (its own query parameter; the other tables keep theirs)."""

    rows: list[Any]
    next_url: str = ""
    first_url: str = ""

    def __bool__(self) -> bool:
        return bool(self.rows) or bool(self.first_url)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


def _section(
    request: HttpRequest, name: str, objects: QuerySet, order: Order, index: str
) -> Section:
    """The page of ``objects`` in ``order`` after the position in the ``name`` parameter (the
    start without one): :data:`PAGE` + 1 keys read as one range of ``index`` (named to
    MariaDB, which left to itself may walk the index from its first entry or the primary key
    from the first row), then the rows by primary key."""
    token = request.GET.get(name, "")
    position = decode_position(token)
    keys = read_keys(objects, order, position, PAGE + 1, index)
    section = Section(rows_by_pk(objects, order.pk, [key[-1] for key in keys[:PAGE]]))
    query = request.GET.copy()
    if len(keys) > PAGE:
        last = keys[PAGE - 1]  # (value, key); an order on the key alone reads (key,)
        query[name] = encode_position(last[0], last[-1])
        section.next_url = f"?{query.urlencode()}#{name}"
    if position is not None:
        query.pop(name, None)
        section.first_url = f"?{query.urlencode()}#{name}"
    return section


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
        # a range of the (domain, active, expiredate) index: through the subquery of
        # visible_to() MariaDB read and sorted every mailbox of those domains (9.6 s at
        # 1,000,000).
        mailboxes = Mailbox.objects.filter(domain_id__in=names).address_in(names)
        index = "mailadmin_mailbox_domain_active_expiry"
    mailboxes = mailboxes.filter(active=True, expiredate__isnull=False)
    # Both tables in date order, the longest overdue and the soonest first.
    domain_order = Order("expiredate", "domain", False)
    mailbox_order = Order("expiredate", "username", False)
    # The latest notices first, by their key (the order they were written in): a position of
    # the page is then a number, never a time to compare.
    notices = ExpiryNotice.objects.visible_to(request.user)
    return render(
        request,
        "expiry/list.html",
        {
            "today": today,
            "horizon": horizon,
            "action": settings.MAILADMIN_EXPIRY_ACTION,
            "notice_days": settings.MAILADMIN_EXPIRY_NOTICE_DAYS,
            "expired_domains": _section(
                request,
                "expired_domains",
                domains.filter(expiredate__lt=today),
                domain_order,
                by_date,
            ),
            "expired_mailboxes": _section(
                request,
                "expired_mailboxes",
                mailboxes.filter(expiredate__lt=today),
                mailbox_order,
                index,
            ),
            "soon_domains": _section(
                request,
                "soon_domains",
                domains.filter(expiredate__gte=today, expiredate__lte=until),
                domain_order,
                by_date,
            ),
            "soon_mailboxes": _section(
                request,
                "soon_mailboxes",
                mailboxes.filter(expiredate__gte=today, expiredate__lte=until),
                mailbox_order,
                index,
            ),
            "notices": _section(request, "notices", notices, Order("id", "id", True), ""),
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
