"""Every write path and check of the mailbox portal (SPEC §3.7): login with throttling,
own password, recovery question and answer, and the forgotten-password reset.

Failures are counted in the cache (``mailadmin.lib.ratelimit``) per (address, client address)
and per client address; past the limit every attempt of that pair or client is refused for
``MAILADMIN_LOGIN_COOLOFF`` seconds, even with the right secret. An address's failures from all
clients never lock it (someone elsewhere cannot lock the owner out): past the same limit a
portal login to it needs a captcha first, and the forgotten-password form always has one.
Failed logins and lockouts are logged in the fixed format that the fail2ban filter in
``contrib/fail2ban/`` matches.
"""

from __future__ import annotations

import functools
import logging
import secrets
from enum import Enum
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from accounts.backends import log_safe
from audit.services import audit_record
from mailadmin.lib import passwords, ratelimit
from mailadmin.lib.clientip import client_ip
from mailadmin.lib.storable import storable
from mailboxes.auth import mailbox_may_log_in
from mailboxes.credentials import (
    hash_recovery_answer,
    is_clear_recovery_answer,
    recovery_answer_matches,
    stored_recovery_answer,
)
from mailboxes.models import Mailbox
from portal import usage

log = logging.getLogger("mailadmin.security")


class Outcome(Enum):
    OK = "ok"
    FAILED = "failed"
    THROTTLED = "throttled"
    #: The address needs a captcha (see login_needs_captcha) and none was answered.
    CAPTCHA = "captcha"


def _normalize(address: str) -> str:
    return storable(address.strip().lower()[:255])


def _pair(address: str, ip: str) -> str:
    return f"{address} {ip}"


def _throttled(scope: str, address: str, ip: str, limit: int) -> bool:
    """Locked out: this (address, client) pair, or this client, failed too often."""
    return ratelimit.is_limited(f"{scope}-pair", _pair(address, ip), limit) or (
        ratelimit.is_limited(f"{scope}-ip", ip, limit)
    )


def _count_failure(scope: str, address: str, ip: str, *, per_account: bool = True) -> None:
    window = settings.MAILADMIN_LOGIN_COOLOFF
    ratelimit.hit(f"{scope}-pair", _pair(address, ip), window)
    ratelimit.hit(f"{scope}-ip", ip, window)
    if per_account:
        ratelimit.hit(f"{scope}-user", address, window)


def login_needs_captcha(address: str) -> bool:
    """Whether a portal login to ``address`` must answer a captcha: its failures from all
    clients reached ``MAILADMIN_LOGIN_FAILURE_LIMIT`` within the cool-off."""
    address = _normalize(address)
    return bool(address) and ratelimit.is_limited("portal-user", address, _login_limit())


def _login_limit() -> int:
    return settings.AXES_FAILURE_LIMIT


# --- login -------------------------------------------------------------------------------------
def portal_authenticate(
    *, address: str, password: str, request: HttpRequest, captcha_passed: bool = False
) -> tuple[Outcome, Mailbox | None]:
    """Check a portal login. Inactive or expired mailboxes and domains are refused like a
    wrong password (the log says why). A locked-out client gets THROTTLED; an address that
    needs a captcha gets CAPTCHA unless ``captcha_passed`` (no password is tried then)."""
    address = _normalize(address)
    ip = client_ip(request)
    if _throttled("portal", address, ip, _login_limit()):
        log.warning("portal login locked out for user=%s from ip=%s", log_safe(address) or "-", ip)
        audit_record(
            actor=address,
            actor_kind="anonymous",
            action="portal.login.locked",
            request=request,
            object_type="mailbox",
            object_id=address,
        )
        return Outcome.THROTTLED, None
    if not captcha_passed and login_needs_captcha(address):
        log.info("portal login captcha not answered for user=%s from ip=%s", log_safe(address), ip)
        return Outcome.CAPTCHA, None
    mailbox = (
        Mailbox.objects.select_related("domain").filter(pk=address).first() if address else None
    )
    if mailbox is None:
        passwords.dummy_verify(password)
        ok = False
    else:
        ok = passwords.verify_password(password, mailbox.password)
        if ok and not mailbox_may_log_in(mailbox):
            log.info(
                "portal login refused for disabled mailbox user=%s from ip=%s",
                log_safe(address),
                ip,
            )
            ok = False
    if not ok:
        _count_failure("portal", address, ip)
        log.warning("portal login failed for user=%s from ip=%s", log_safe(address) or "-", ip)
        audit_record(
            actor=address,
            actor_kind="anonymous",
            action="portal.login.failed",
            request=request,
            object_type="mailbox",
            object_id=address,
            domain=mailbox.domain_id if mailbox else "",
        )
        return Outcome.FAILED, None
    ratelimit.reset("portal-pair", _pair(address, ip))
    if settings.MAILADMIN_PASSWORD_REHASH and passwords.needs_rehash(mailbox.password):
        mailbox.password = passwords.hash_password(password)
        Mailbox.objects.filter(pk=mailbox.pk).update(password=mailbox.password)
    log.info("portal login succeeded for user=%s from ip=%s", log_safe(address), ip)
    audit_record(
        actor=mailbox,
        action="portal.login",
        request=request,
        object_type="mailbox",
        object_id=mailbox.username,
        domain=mailbox.domain_id,
    )
    return Outcome.OK, mailbox


# --- own password and recovery -----------------------------------------------------------------
def _check_changes_allowed(mailbox: Mailbox) -> None:
    if mailbox.password_change_disabled:
        raise ValidationError(
            _("Changing the password and recovery settings of this mailbox is disabled.")
        )


def _new_password_hash(password: str, field: str) -> str:
    try:
        validate_password(password)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    return passwords.hash_password(password)


@transaction.atomic
def portal_change_password(
    *, mailbox: Mailbox, old_password: str, new_password: str, request: HttpRequest | None = None
) -> Mailbox:
    """The mailbox's own password change: the current password is required."""
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    _check_changes_allowed(mailbox)
    if not passwords.verify_password(old_password, mailbox.password):
        raise ValidationError({"old_password": _("The current password is wrong.")})
    mailbox.password = _new_password_hash(new_password, "new_password1")
    Mailbox.objects.filter(pk=mailbox.pk).update(password=mailbox.password)
    audit_record(
        actor=mailbox,
        action="portal.password",
        request=request,
        object_type="mailbox",
        object_id=mailbox.username,
        domain=mailbox.domain_id,
        changes={"password": ["", "(changed)"]},
    )
    return mailbox


@transaction.atomic
def portal_set_recovery(
    *,
    mailbox: Mailbox,
    password: str,
    question: str,
    answer: str,
    request: HttpRequest | None = None,
) -> Mailbox:
    """Set the recovery question and answer (the answer in the configured stored form,
    ``MAILADMIN_RECOVERY_ANSWER_FORMAT``); the password is required."""
    mailbox = Mailbox.objects.select_for_update().get(pk=mailbox.pk)
    _check_changes_allowed(mailbox)
    if not passwords.verify_password(password, mailbox.password):
        raise ValidationError({"password": _("The current password is wrong.")})
    question, answer = question.strip(), answer.strip()
    if not question:
        raise ValidationError({"question": _("Enter a question.")})
    if not answer:
        raise ValidationError({"answer": _("Enter the answer.")})
    before = mailbox.question
    Mailbox.objects.filter(pk=mailbox.pk).update(
        question=question, answer=stored_recovery_answer(answer)
    )
    audit_record(
        actor=mailbox,
        action="portal.recovery",
        request=request,
        object_type="mailbox",
        object_id=mailbox.username,
        domain=mailbox.domain_id,
        changes={"question": [before, question], "answer": ["", "(changed)"]},
    )
    mailbox.refresh_from_db()
    return mailbox


# --- forgotten password ------------------------------------------------------------------------
@functools.lru_cache(maxsize=4)
def _dummy_answer_hash(scheme_rounds: int) -> str:
    return hash_recovery_answer(secrets.token_urlsafe(12))


def verify_recovery_answer(mailbox: Mailbox, answer: str) -> bool:
    """Trimmed and case-insensitive, against a hashed or a clear-text stored answer. Writes
    nothing (see :func:`portal_reset_password` for the upgrade of a clear-text answer)."""
    given = answer.strip().lower()
    stored = mailbox.answer or ""
    if not given or not stored.strip():
        passwords.verify_password(
            given or "-", _dummy_answer_hash(settings.MAILADMIN_PASSWORD_ROUNDS)
        )
        return False
    return recovery_answer_matches(stored, given)


def _upgraded_answer(mailbox: Mailbox, answer: str) -> str | None:
    """The hash that replaces a clear-text answer after an accepted reset, or None to keep
    it (always under ``MAILADMIN_RECOVERY_ANSWER_FORMAT=extmail``, which ExtMail webmail
    needs)."""
    if settings.MAILADMIN_RECOVERY_ANSWER_FORMAT != "hashed":
        return None
    if not is_clear_recovery_answer(mailbox.answer or ""):
        return None
    return hash_recovery_answer(answer)


def portal_reset_password(
    *, address: str, answer: str, new_password: str, request: HttpRequest
) -> Outcome:
    """Set a new password for whoever knows the recovery answer.

    An unknown address, a mailbox without an answer, a disabled mailbox and a wrong answer
    all give the same FAILED, after about the same work. Raises ``ValidationError`` for a new
    password that the policy refuses (checked before the answer, whatever the address).
    """
    address = _normalize(address)
    ip = client_ip(request)
    if _throttled("recovery", address, ip, settings.MAILADMIN_RECOVERY_FAILURE_LIMIT):
        log.warning("recovery locked out for user=%s from ip=%s", log_safe(address) or "-", ip)
        return Outcome.THROTTLED
    new_hash = _new_password_hash(new_password, "new_password1")
    with transaction.atomic():
        mailbox = (
            Mailbox.objects.select_for_update().select_related("domain").filter(pk=address).first()
            if address
            else None
        )
        if mailbox is None:
            passwords.verify_password(
                answer.strip().lower() or "-",
                _dummy_answer_hash(settings.MAILADMIN_PASSWORD_ROUNDS),
            )
            ok = False
        else:
            ok = (
                verify_recovery_answer(mailbox, answer)
                and mailbox_may_log_in(mailbox)
                and not mailbox.password_change_disabled
            )
        if ok:
            # Only an accepted reset writes: a refused one leaves the row as it was.
            changes: dict[str, Any] = {"password": new_hash}
            upgraded = _upgraded_answer(mailbox, answer)
            if upgraded is not None:
                changes["answer"] = upgraded
            Mailbox.objects.filter(pk=mailbox.pk).update(**changes)
            audit_record(
                actor=mailbox,
                action="portal.recovery.reset",
                request=request,
                object_type="mailbox",
                object_id=mailbox.username,
                domain=mailbox.domain_id,
                changes={"password": ["", "(changed)"]},
            )
    if not ok:
        # Always behind a captcha: the address's own count would change nothing.
        _count_failure("recovery", address, ip, per_account=False)
        log.warning("recovery failed for user=%s from ip=%s", log_safe(address) or "-", ip)
        audit_record(
            actor=address,
            actor_kind="anonymous",
            action="portal.recovery.failed",
            request=request,
            object_type="mailbox",
            object_id=address,
        )
        return Outcome.FAILED
    ratelimit.reset("recovery-pair", _pair(address, ip))
    log.info("recovery succeeded for user=%s from ip=%s", log_safe(address), ip)
    return Outcome.OK


def mailbox_usage(mailbox: Mailbox) -> dict[str, Any]:
    """Quota and use: as the storage host last measured it, else from ``maildirsize`` read
    now, else None (``portal.usage``)."""
    return usage.mailbox_usage(mailbox)
