"""Mails of the expiry run: a notice to each mailbox that expires soon, and one report per
admin listing the mailboxes and domains of their domains that expire soon or were disabled
(past their date and still active, with the action ``report``). In the site's language, as
the other mails sent without a request (signup's digest); a mail that cannot be sent is
logged and never undoes the run."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from expiry.models import ExpiryNotice
from mailadmin.lib.siteurl import absolute_url
from signup.notifications import deliverable, recipients_of, send_each

if TYPE_CHECKING:
    from expiry.services import ExpiryReport


def _domain_of(name: str) -> str:
    return name.rpartition("@")[2]


def send_all(report: ExpiryReport) -> int:
    """Send the run's mails; returns how many went out. Each notice row records who was
    told."""
    sent = 0
    told: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_admin: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    with translation.override(settings.LANGUAGE_CODE):
        for notice in report.notices:
            if notice.object_type == ExpiryNotice.ObjectType.MAILBOX:
                to = deliverable([notice.object_id])
                if send_each(
                    _("Your mailbox %(address)s expires on %(date)s")
                    % {"address": notice.object_id, "date": notice.expiredate.isoformat()},
                    "expiry/email/mailbox_notice.txt",
                    {"notice": notice},
                    to,
                ):
                    sent += 1
                    told[(notice.object_type, notice.object_id)] += to
            for admin in recipients_of(notice.domain):
                by_admin[admin]["notices"].append(notice)
                told[(notice.object_type, notice.object_id)].append(admin)
        expired = [("domain", name, date) for name, date in report.expired_domains] + [
            ("mailbox", name, date) for name, date in report.expired_mailboxes
        ]
        for kind, name, date in expired:
            if report.action == "disable" and name not in report.disabled:
                continue
            domain = name if kind == "domain" else _domain_of(name)
            for admin in recipients_of(domain):
                by_admin[admin]["expired"].append((kind, name, date))
        url = absolute_url(reverse("expiry:list"))
        for admin, items in sorted(by_admin.items()):
            sent += send_each(
                _("Expiry report of the mail panel"),
                "expiry/email/admin_report.txt",
                {
                    "notices": items["notices"],
                    "expired": items["expired"],
                    "disabled": report.action == "disable",
                    "url": url,
                },
                [admin],
            )
    for (object_type, object_id), recipients in told.items():
        ExpiryNotice.objects.filter(
            object_type=object_type, object_id=object_id, recipients=""
        ).update(recipients=", ".join(sorted(set(recipients)))[:2000])
    return sent
