"""Mails of self-service signup: to a domain's admins (each request, or a daily digest) and to
the applicant's contact address (the decision). A mail that cannot be sent is logged; it never
undoes the change it reports."""

from __future__ import annotations

import logging
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.backends import log_safe
from accounts.models import DomainManager, Manager
from mailadmin.lib.siteurl import absolute_url
from signup.models import SignupRequest

log = logging.getLogger("mailadmin.signup")


def _url(name: str) -> str:
    return absolute_url(reverse(name))


def _active(managers: list[Manager]) -> list[str]:
    return sorted({m.username for m in managers if m.is_active})


def deliverable(addresses: list[str]) -> list[str]:
    """The addresses a mail can go to; the others (manager usernames are legacy text, not
    always an address) are left out and logged."""
    valid = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            log.warning("signup mail not sent to %s: not a valid address", log_safe(address))
        else:
            valid.append(address)
    return valid


def recipients_of(domain: str) -> list[str]:
    """The valid addresses of the domain's active admins; its superadmins' when it has none."""
    names = DomainManager.objects.filter(domain_id=domain, active=True).values("manager_id")
    admins = deliverable(_active(list(Manager.objects.filter(pk__in=names).exclude(type="admin"))))
    return admins or deliverable(_active(list(Manager.objects.superadmins())))


def send_each(subject: str, template: str, context: dict, to: list[str]) -> bool:
    """One mail per recipient, so that one refused address does not stop the others."""
    if not to:
        return False
    body = render_to_string(template, context)
    sent = False
    for recipient in to:
        try:
            send_mail(subject, body, None, [recipient])
        except Exception as exc:  # SMTP down or refusing: the change stands, the mail is lost
            log.warning("could not send %r to %s: %s", subject, log_safe(recipient), exc)
        else:
            sent = True
    return sent


def new_request(signup_id: int) -> bool:
    signup = SignupRequest.objects.filter(pk=signup_id).first()
    if signup is None:
        return False
    return send_each(
        _("New signup request: %(address)s") % {"address": signup.address},
        "signup/email/new_request.txt",
        {"signup": signup, "queue_url": _url("signup:queue")},
        recipients_of(signup.domain),
    )


def decision(signup_id: int) -> bool:
    """Tell the applicant (at the contact address, if given) what became of the request."""
    signup = SignupRequest.objects.filter(pk=signup_id).first()
    if signup is None or not signup.contact_email:
        return False
    subjects = {
        SignupRequest.State.APPROVED: _("Your mailbox %(address)s is ready"),
        SignupRequest.State.REJECTED: _("Your signup request for %(address)s was declined"),
        SignupRequest.State.EXPIRED: _("Your signup request for %(address)s has expired"),
    }
    if signup.state not in subjects:
        return False
    return send_each(
        subjects[signup.state] % {"address": signup.address},
        "signup/email/decision.txt",
        {"signup": signup, "portal_url": _url("portal:login")},
        [signup.contact_email],
    )


def digest() -> int:
    """One mail per admin listing the pending requests of the domains they are told about."""
    by_domain: dict[str, list[SignupRequest]] = defaultdict(list)
    for signup in SignupRequest.objects.pending().order_by("domain", "created_at"):
        by_domain[signup.domain].append(signup)
    by_recipient: dict[str, list[SignupRequest]] = defaultdict(list)
    for domain, requests in by_domain.items():
        for recipient in recipients_of(domain):
            by_recipient[recipient].extend(requests)
    sent = 0
    for recipient, requests in sorted(by_recipient.items()):
        sent += send_each(
            _("%(count)s signup requests are waiting") % {"count": len(requests)},
            "signup/email/digest.txt",
            {"requests": requests, "queue_url": _url("signup:queue")},
            [recipient],
        )
    return sent
