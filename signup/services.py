"""Every write path of self-service signup (SPEC §3.7): requests, decisions, expiry, policy.

The address of a pending request is reserved (``mailadmin.selectors.address_owner``); the
request is checked and written with the domain row locked, as mailbox and alias creation are,
so that two of them never take one address. Approval creates the mailbox through
:func:`mailboxes.services.mailbox_create`, which checks the domain limits at that moment and
records the Maildir job. Mails go out after the transaction commits.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from audit.services import audit_record
from domains.models import Domain
from domains.selectors import lock_domain
from mailadmin.lib import ratelimit
from mailadmin.lib.clientip import client_ip
from mailadmin.lib.passwords import hash_password
from mailadmin.selectors import OWNER_LABELS, address_owner
from mailboxes.credentials import stored_recovery_answer
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_create, new_mailbox_address
from signup import notifications
from signup.models import SignupPolicy, SignupRequest

log = logging.getLogger("mailadmin.security")

#: The actor of what the panel does by itself (open-signup approvals, expiry).
SYSTEM_ACTOR = "signup"
BULK_ACTIONS = ("approve", "reject")
MAX_REASON_LENGTH = 1000


# --- policy ------------------------------------------------------------------------------------
def signup_offered(domain: Domain | None) -> bool:
    """Whether the public signup form of ``domain`` is open."""
    return bool(domain and domain.active and domain.can_signup and not domain.is_expired)


def approval_required(domain: str) -> bool:
    policy = SignupPolicy.objects.filter(pk=domain).first()
    return policy is None or policy.approval == SignupPolicy.Approval.REQUIRED


@transaction.atomic
def signup_policy_set(
    *, domain: Domain, approval: str, actor: Any, request: HttpRequest | None = None
) -> SignupPolicy:
    """Set a domain's approval policy (superadmin only)."""
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("only a superadmin sets the signup policy")
    if approval not in SignupPolicy.Approval.values:
        raise ValidationError({"approval": _("Choose a policy.")})
    lock_domain(domain.pk)
    policy = SignupPolicy.objects.select_for_update().filter(pk=domain.pk).first()
    before = policy.approval if policy else SignupPolicy.Approval.REQUIRED
    if policy is None:
        policy = SignupPolicy(domain=domain.pk)
    policy.approval = approval
    policy.updated_by = str(actor.pk)
    policy.save()
    if before != approval:
        audit_record(
            actor=actor,
            action="signup.policy",
            request=request,
            object_type="domain",
            object_id=domain.pk,
            domain=domain.pk,
            changes={"signup_approval": [before, approval]},
        )
    return policy


# --- submission --------------------------------------------------------------------------------
def signup_rate_limited(request: HttpRequest) -> bool:
    """Count one submission of the client; True when it is over the limit of its window."""
    subject = client_ip(request)
    if ratelimit.is_limited("signup", subject, settings.MAILADMIN_SIGNUP_RATE_LIMIT):
        log.warning("signup rate limited from ip=%s", subject)
        return True
    ratelimit.hit("signup", subject, settings.MAILADMIN_SIGNUP_RATE_WINDOW)
    return False


#: Characters that separate the words of a local part; ignored when names are compared.
NAME_SEPARATORS = ".-_+"
#: Digits that pass for letters: "r00t" is "root", "adm1n" is "admin", "p0stmaster" ...
_LOOKALIKES = (
    str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s"}),
    str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s"}),
)


def _skeletons(text: str) -> set[str]:
    """The forms ``text`` is compared in: lower-cased, look-alike digits read as letters
    (a 1 as either l or i), separators removed."""
    text = text.lower()
    return {
        "".join(ch for ch in text.translate(table) if ch not in NAME_SEPARATORS)
        for table in _LOOKALIKES
    }


def is_reserved(local_part: str) -> bool:
    """Whether a signup may not take ``local_part`` (MAILADMIN_SIGNUP_RESERVED_NAMES).

    A name is reserved when, compared as :func:`_skeletons` gives it, it is a reserved name
    (``post.master``, ``mailer_daemon``, ``r00t``), or begins with one followed by a separator
    (``postmaster-x``, ``no-reply.news``) or by digits only (``admin1``, ``root2024``). A
    reserved word inside an ordinary name is not enough (``rootsy``, ``johnroot``, ``mallory``).
    """
    reserved: set[str] = set()
    for name in settings.MAILADMIN_SIGNUP_RESERVED_NAMES:
        reserved |= _skeletons(name)
    reserved.discard("")
    name = local_part.strip().lower()
    heads = {name, name.rstrip("0123456789")}
    heads |= {name[:i] for i, ch in enumerate(name) if ch in NAME_SEPARATORS}
    return any(not _skeletons(head).isdisjoint(reserved) for head in heads if head)


@dataclass
class SubmitResult:
    signup: SignupRequest
    mailbox: Mailbox | None = None


def signup_submit(
    *,
    domain: str,
    local_part: str,
    password: str,
    name: str = "",
    question: str = "",
    answer: str = "",
    contact_email: str = "",
    request: HttpRequest | None = None,
) -> SubmitResult:
    """Record a signup request for ``local_part@domain``; on an open domain also approve it.

    Raises ``ValidationError({field: message})`` when a rule refuses it (nothing is written).
    """
    with transaction.atomic():
        result = _submit(
            domain=domain,
            local_part=local_part,
            password=password,
            name=name,
            question=question,
            answer=answer,
            contact_email=contact_email,
            request=request,
        )
        pk = result.signup.pk
        if result.mailbox is None and settings.MAILADMIN_SIGNUP_NOTIFY in ("each", "both"):
            transaction.on_commit(lambda: notifications.new_request(pk))
    return result


def _submit(
    *,
    domain: str,
    local_part: str,
    password: str,
    name: str,
    question: str,
    answer: str,
    contact_email: str,
    request: HttpRequest | None,
) -> SubmitResult:
    try:
        dom = lock_domain(domain)
    except Domain.DoesNotExist:
        dom = None
    if not signup_offered(dom):
        raise ValidationError(_("This domain does not offer signup."))
    errors: dict[str, list[str]] = {}
    local, address = new_mailbox_address(dom.domain, local_part)
    if is_reserved(local):
        errors["local_part"] = [_("This name is reserved. Choose another one.")]
    else:
        owner = address_owner(address)
        if owner:
            errors["local_part"] = [
                _("%(address)s is already taken (%(owner)s). Choose another name.")
                % {"address": address, "owner": OWNER_LABELS[owner]}
            ]
    try:
        validate_password(password)
    except ValidationError as exc:
        errors["password1"] = exc.messages
    if bool(question.strip()) != bool(answer.strip()):
        errors["answer" if question.strip() else "question"] = [
            _("Give both a recovery question and its answer, or neither.")
        ]
    if errors:
        raise ValidationError(errors)
    pending = SignupRequest.objects.pending().filter(domain=dom.domain).count()
    if pending >= settings.MAILADMIN_SIGNUP_MAX_PENDING:
        raise ValidationError(
            _("This domain has too many requests waiting for a decision. Try again later.")
        )
    now = timezone.now()
    signup = SignupRequest(
        domain=dom.domain,
        local_part=local,
        address=address,
        pending_address=address,
        name=name.strip(),
        password_hash=hash_password(password),
        question=question.strip(),
        answer_hash=stored_recovery_answer(answer),
        contact_email=contact_email.strip().lower(),
        client_ip=client_ip(request) if request is not None else None,
        created_at=now,
        expires_at=now + datetime.timedelta(days=settings.MAILADMIN_SIGNUP_EXPIRE_DAYS),
    )
    try:
        with transaction.atomic():
            signup.save(force_insert=True)
    except IntegrityError as exc:  # a concurrent request for the same address won
        raise ValidationError(
            {"local_part": _("This address is already taken. Choose another name.")}
        ) from exc
    audit_record(
        actor=address,
        actor_kind="anonymous",
        action="signup.request",
        request=request,
        object_type="signup",
        object_id=address,
        domain=dom.domain,
        message=gettext_noop("request #%(id)s"),
        message_args={"id": signup.pk},
    )
    if approval_required(dom.domain):
        return SubmitResult(signup)
    try:
        with transaction.atomic():
            mailbox = _approve(signup.pk, actor=SYSTEM_ACTOR, request=request)
    except ValidationError:
        # An open domain that is full: the request waits for an admin like any other.
        return SubmitResult(signup)
    signup.refresh_from_db()
    return SubmitResult(signup, mailbox)


# --- decisions ---------------------------------------------------------------------------------
def _locked_pending(signup_id: int, actor: Any) -> SignupRequest:
    """The request, locked, with its domain row locked first (the order every writer uses)."""
    queryset = (
        SignupRequest.objects.all()
        if isinstance(actor, str)
        else SignupRequest.objects.visible_to(actor)
    )
    domain = queryset.values_list("domain", flat=True).get(pk=signup_id)
    try:
        lock_domain(domain)
    except Domain.DoesNotExist as exc:
        raise ValidationError(_("The domain of this request no longer exists.")) from exc
    signup = queryset.select_for_update().get(pk=signup_id)
    if signup.state != SignupRequest.State.PENDING:
        raise ValidationError(
            _("This request was already decided (%(state)s).")
            % {"state": signup.get_state_display()}
        )
    if signup.expires_at <= timezone.now():
        raise ValidationError(_("This request has expired."))
    return signup


def _decide(signup: SignupRequest, state: str, actor: Any, reason: str = "") -> None:
    signup.state = state
    signup.pending_address = None
    signup.reason = reason
    signup.decided_at = timezone.now()
    signup.decided_by = str(getattr(actor, "pk", actor))[:255]
    signup.save(update_fields=["state", "pending_address", "reason", "decided_at", "decided_by"])


def _approve(signup_id: int, *, actor: Any, request: HttpRequest | None) -> Mailbox:
    signup = _locked_pending(signup_id, actor)
    _decide(signup, SignupRequest.State.APPROVED, actor)
    try:
        mailbox = mailbox_create(
            domain=signup.domain,
            local_part=signup.local_part,
            password="",
            password_hash=signup.password_hash,
            name=signup.name,
            question=signup.question,
            answer_hash=signup.answer_hash,
            actor=actor,
            request=request,
        )
    except ValidationError as exc:
        messages = [m for ms in exc.message_dict.values() for m in ms]
        raise ValidationError(
            _("%(address)s cannot be created: %(reason)s")
            % {"address": signup.address, "reason": " ".join(messages)}
        ) from exc
    audit_record(
        actor=actor,
        action="signup.approve",
        request=request,
        object_type="signup",
        object_id=signup.address,
        domain=signup.domain,
        message=gettext_noop("request #%(id)s"),
        message_args={"id": signup.pk},
    )
    transaction.on_commit(lambda: notifications.decision(signup.pk))
    return mailbox


def signup_approve(
    *, signup: SignupRequest, actor: Any, request: HttpRequest | None = None
) -> Mailbox:
    """Approve a pending request: the mailbox is created from the domain template.

    Raises ``SignupRequest.DoesNotExist`` when the actor may not see it, ``ValidationError``
    when it is no longer pending or the domain's limits refuse the mailbox (nothing changes).
    """
    with transaction.atomic():
        return _approve(signup.pk, actor=actor, request=request)


def _reject(signup_id: int, *, actor: Any, reason: str, request: HttpRequest | None) -> None:
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(
            {"reason": _("Keep the reason under %(n)s characters.") % {"n": MAX_REASON_LENGTH}}
        )
    signup = _locked_pending(signup_id, actor)
    _decide(signup, SignupRequest.State.REJECTED, actor, reason)
    audit_record(
        actor=actor,
        action="signup.reject",
        request=request,
        object_type="signup",
        object_id=signup.address,
        domain=signup.domain,
        message=(
            gettext_noop("request #%(id)s: %(reason)s")
            if reason
            else gettext_noop("request #%(id)s")
        ),
        message_args={"id": signup.pk, "reason": reason or ""},
    )
    transaction.on_commit(lambda: notifications.decision(signup.pk))


def signup_reject(
    *, signup: SignupRequest, actor: Any, reason: str = "", request: HttpRequest | None = None
) -> None:
    """Reject a pending request with an optional reason (told to the applicant)."""
    with transaction.atomic():
        _reject(signup.pk, actor=actor, reason=reason, request=request)


@dataclass
class BulkResult:
    action: str
    done: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def signup_bulk(
    *,
    action: str,
    ids: list[int],
    actor: Any,
    reason: str = "",
    request: HttpRequest | None = None,
    progress: Callable[[int], None] | None = None,
) -> BulkResult:
    """Approve or reject several requests, each on its own: one that a limit refuses does not
    hold back the others. Raises ``SignupRequest.DoesNotExist`` when any id is not visible.
    ``progress(done)`` is called after each request (a background operation's progress bar)."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Choose an action.")})
    wanted = sorted(set(ids))
    if not wanted:
        raise ValidationError({"ids": _("Select at least one request.")})
    found = dict(
        SignupRequest.objects.visible_to(actor).filter(pk__in=wanted).values_list("pk", "address")
    )
    if len(found) != len(wanted):
        raise SignupRequest.DoesNotExist("some requests do not exist or are not visible")
    result = BulkResult(action=action)
    for done, pk in enumerate(wanted, start=1):
        try:
            with transaction.atomic():
                if action == "approve":
                    _approve(pk, actor=actor, request=request)
                else:
                    _reject(pk, actor=actor, reason=reason, request=request)
        except ValidationError as exc:
            result.refused[found[pk]] = " ".join(exc.messages)
        else:
            result.done.append(found[pk])
        if progress is not None:
            progress(done)
    return result


# --- periodic work -----------------------------------------------------------------------------
def expire_requests(now: datetime.datetime | None = None) -> int:
    """Expire the pending requests past their time (a periodic task); returns how many."""
    now = now or timezone.now()
    expired = 0
    due = SignupRequest.objects.pending().filter(expires_at__lte=now).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            signup = (
                SignupRequest.objects.select_for_update()
                .filter(pk=pk, state=SignupRequest.State.PENDING, expires_at__lte=now)
                .first()
            )
            if signup is None:
                continue  # decided meanwhile
            _decide(signup, SignupRequest.State.EXPIRED, SYSTEM_ACTOR)
            audit_record(
                actor=SYSTEM_ACTOR,
                action="signup.expire",
                object_type="signup",
                object_id=signup.address,
                domain=signup.domain,
                message=gettext_noop("request #%(id)s"),
                message_args={"id": signup.pk},
            )
            transaction.on_commit(lambda pk=signup.pk: notifications.decision(pk))
            expired += 1
    return expired


def send_signup_digest() -> int:
    """Mail each admin the pending requests of their domains (a daily periodic task), when
    ``MAILADMIN_SIGNUP_NOTIFY`` is ``digest`` or ``both``; returns the number of mails."""
    if settings.MAILADMIN_SIGNUP_NOTIFY not in ("digest", "both"):
        return 0
    return notifications.digest()


# --- domain changes ----------------------------------------------------------------------------
def signup_domain_renamed(old: str, new: str) -> None:
    """Move a domain's policy and requests to its new name (inside the rename's transaction)."""
    policy = SignupPolicy.objects.filter(pk=old).first()
    if policy is not None:
        SignupPolicy.objects.create(
            domain=new, approval=policy.approval, updated_by=policy.updated_by
        )
        policy.delete()
    for signup in SignupRequest.objects.filter(domain=old).select_for_update():
        signup.domain = new
        signup.address = f"{signup.local_part}@{new}"
        if signup.pending_address:
            signup.pending_address = signup.address
        signup.save(update_fields=["domain", "address", "pending_address"])


def signup_domain_deleted(name: str) -> None:
    """Forget a deleted domain's policy and requests (inside the deletion's transaction)."""
    SignupPolicy.objects.filter(pk=name).delete()
    SignupRequest.objects.filter(domain=name).delete()
