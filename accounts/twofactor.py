"""Two-factor sign-in of managers: TOTP authenticators (RFC 6238) and one-time recovery codes.

A manager with an authenticator signs in with the password, then with a 6-digit code from the
authenticator app or one of their recovery codes (accounts.twofactor_views). A code is accepted
once (``SecondFactor.last_step``), one step either side of the server's clock. Every change is
audited: ``2fa.enrolled``, ``2fa.removed``, ``2fa.codes`` (new recovery codes), ``2fa.reset``
(by a superadmin), ``2fa.recovery_used``, ``2fa.failed``.

``MAILADMIN_2FA_REQUIRED`` makes it compulsory for superadmins or for every manager: such a
manager without an authenticator is sent to the enrolment page until they have one
(accounts.middleware.TwoFactorRequiredMiddleware). API tokens are the way for scripts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import pyotp
import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Manager, RecoveryCode, SecondFactor, SecurityKey
from audit.services import audit_record
from mailadmin.lib import ratelimit
from mailadmin.lib.sealing import SealError, seal, unseal

#: Seconds of one TOTP step, and the steps accepted either side of the current one.
STEP = 30
DRIFT = 1
RECOVERY_CODES = 10
_SEAL_PURPOSE = "accounts.twofactor"
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes
_RATE_SCOPE = "2fa-account"


def is_required_for(manager: Any) -> bool:
    """Whether ``MAILADMIN_2FA_REQUIRED`` makes two-factor sign-in compulsory for ``manager``."""
    required = settings.MAILADMIN_2FA_REQUIRED
    return required == "all" or (
        required == "superadmins" and bool(getattr(manager, "is_superadmin", False))
    )


def factor_of(manager: Any) -> SecondFactor | None:
    return SecondFactor.objects.filter(manager=manager.pk).first()


def has_factor(manager: Any) -> bool:
    """An authenticator app or a security key (accounts.securitykeys)."""
    return (
        SecondFactor.objects.filter(manager=manager.pk).exists()
        or SecurityKey.objects.filter(manager=manager.pk).exists()
    )


def new_secret() -> str:
    return pyotp.random_base32()


def seal_secret(secret: str) -> str:
    return seal(secret, purpose=_SEAL_PURPOSE)


def unseal_secret(sealed: str) -> str | None:
    try:
        return str(unseal(sealed, purpose=_SEAL_PURPOSE))
    except SealError:
        return None


def provisioning_uri(manager: Manager, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(
        name=manager.username, issuer_name=settings.MAILADMIN_2FA_ISSUER
    )


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG (no image request, nothing sent elsewhere)."""
    return segno.make(uri, error="m").svg_inline(scale=5, border=2, dark="#000", light="#fff")


def _clean_code(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step whose TOTP code is ``code`` (within :data:`DRIFT` steps), or None."""
    code = _clean_code(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = int((time.time() if now is None else now) // STEP)
    for step in range(current - DRIFT, current + DRIFT + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def _hash_code(code: str) -> str:
    return hashlib.sha256(_clean_code(code).encode()).hexdigest()


def _new_recovery_codes(manager: Manager) -> list[str]:
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    RecoveryCode.objects.filter(manager=manager.pk).delete()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(manager=manager.pk, code_hash=_hash_code(code)) for code in codes]
    )
    return codes


def first_recovery_codes(manager: Manager) -> list[str] | None:
    """New recovery codes when the manager has none left unused (a first security key);
    None when they still have some."""
    if unused_recovery_codes(manager):
        return None
    return _new_recovery_codes(manager)


def unused_recovery_codes(manager: Any) -> int:
    return RecoveryCode.objects.filter(manager=manager.pk, used_at__isnull=True).count()


@transaction.atomic
def enrol(
    *, manager: Manager, secret: str, code: str, request: HttpRequest | None = None
) -> list[str] | None:
    """Store ``secret`` as the manager's authenticator when ``code`` proves the app has it.

    Returns the new recovery codes (to be shown once), or None when the code is wrong. An
    existing authenticator is replaced."""
    step = matching_step(secret, code)
    if step is None:
        return None
    replaced = SecondFactor.objects.filter(manager=manager.pk).delete()[0] > 0
    SecondFactor.objects.create(
        manager=manager.pk,
        secret=seal_secret(secret),
        last_step=step,
        last_used_at=timezone.now(),
    )
    codes = _new_recovery_codes(manager)
    audit_record(
        actor=manager,
        action="2fa.enrolled",
        request=request,
        object_type="manager",
        object_id=manager.username,
        message="authenticator replaced" if replaced else "",
    )
    return codes


@transaction.atomic
def remove(*, manager: Manager, actor: Any, request: HttpRequest | None = None) -> bool:
    """Remove a manager's authenticator, security keys and recovery codes: by themselves
    (``2fa.removed``) or by a superadmin, for a manager who lost their phone (``2fa.reset``)."""
    removed = SecondFactor.objects.filter(manager=manager.pk).delete()[0] > 0
    removed = SecurityKey.objects.filter(manager=manager.pk).delete()[0] > 0 or removed
    RecoveryCode.objects.filter(manager=manager.pk).delete()
    if removed:
        audit_record(
            actor=actor,
            action="2fa.removed" if actor == manager else "2fa.reset",
            request=request,
            object_type="manager",
            object_id=manager.username,
        )
    return removed


@transaction.atomic
def renew_recovery_codes(*, manager: Manager, request: HttpRequest | None = None) -> list[str]:
    codes = _new_recovery_codes(manager)
    audit_record(
        actor=manager,
        action="2fa.codes",
        request=request,
        object_type="manager",
        object_id=manager.username,
    )
    return codes


def account_throttled(manager: Any) -> bool:
    """Too many wrong codes for this account, from all its sign-ins, in the cool-off period."""
    return ratelimit.is_limited(
        _RATE_SCOPE, manager.pk, settings.MAILADMIN_2FA_ATTEMPTS * settings.AXES_FAILURE_LIMIT
    )


def verify(*, manager: Manager, code: str, request: HttpRequest | None = None) -> str | None:
    """Check the second step of a sign-in: ``"totp"`` or ``"recovery"`` for an accepted code
    (each accepted once), None for a wrong one (counted and audited as ``2fa.failed``)."""
    factor = factor_of(manager)
    if factor is None:
        return None
    secret = unseal_secret(factor.secret)
    step = matching_step(secret, code) if secret else None
    if step is not None:
        # Accepted once: only if no later (or equal) step was used before, atomically.
        used = SecondFactor.objects.filter(pk=factor.pk, last_step__lt=step).update(
            last_step=step, last_used_at=timezone.now()
        )
        if used:
            return "totp"
    else:
        cleaned = _clean_code(code)
        if len(cleaned) == 10:
            row = RecoveryCode.objects.filter(
                manager=manager.pk, code_hash=_hash_code(cleaned), used_at__isnull=True
            ).first()
            if (
                row is not None
                and RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True).update(
                    used_at=timezone.now()
                )
                == 1
            ):
                audit_record(
                    actor=manager,
                    action="2fa.recovery_used",
                    request=request,
                    object_type="manager",
                    object_id=manager.username,
                    message=f"{unused_recovery_codes(manager)} unused left",
                )
                return "recovery"
    record_failure(manager, request)
    return None


def record_failure(manager: Manager, request: HttpRequest | None, message: str = "") -> None:
    """A wrong code or a refused security key: counted against the account and audited."""
    ratelimit.hit(_RATE_SCOPE, manager.pk, settings.MAILADMIN_LOGIN_COOLOFF)
    audit_record(
        actor=manager.username,
        actor_kind="anonymous",
        action="2fa.failed",
        request=request,
        object_type="manager",
        object_id=manager.username,
        message=message[:255],
    )
