"""Security keys (WebAuthn / FIDO2) as a second factor of a manager's sign-in, beside the
authenticator app (accounts.twofactor). Built on ``py_webauthn``: the panel is the relying
party; its id is the host name the panel is reached at (``MAILADMIN_WEBAUTHN_RP_ID`` when
set), and the browser's origin must be that of the request.

Registration and sign-in are two steps each: the server gives options with a fresh challenge
(kept in the session), the browser's key signs it, the server verifies the answer. A key's
signature counter must grow (where the key keeps one): a cloned key is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import Manager, SecurityKey
from audit.services import audit_record

#: Session keys of the challenge of a registration and of a sign-in.
REGISTER_CHALLENGE = "mailadmin_webauthn_register"
LOGIN_CHALLENGE = "mailadmin_webauthn_login"
MAX_KEYS = 10


class KeyRefused(ValueError):
    """The browser's answer does not prove the key: the message says why (for the log)."""


def rp_id(request: HttpRequest) -> str:
    return settings.MAILADMIN_WEBAUTHN_RP_ID or request.get_host().rsplit(":", 1)[0].strip("[]")


def origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def credential_hash(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode()).hexdigest()


def keys_of(manager: Any) -> list[SecurityKey]:
    return list(SecurityKey.objects.filter(manager=manager.pk))


def registration_options(request: HttpRequest, manager: Manager) -> str:
    """The options of a new key's registration (JSON for the browser); the challenge is kept
    in the session."""
    options = generate_registration_options(
        rp_id=rp_id(request),
        rp_name=settings.MAILADMIN_2FA_ISSUER,
        user_name=manager.username,
        user_id=hashlib.sha256(f"mailadmin:{manager.username}".encode()).digest(),
        user_display_name=manager.name or manager.username,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
            for key in keys_of(manager)
        ],
    )
    request.session[REGISTER_CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


@transaction.atomic
def register(
    request: HttpRequest, manager: Manager, *, name: str, credential: dict[str, Any]
) -> SecurityKey:
    """Verify a registration answer against the session's challenge and store the key."""
    challenge = request.session.pop(REGISTER_CHALLENGE, None)
    if not challenge:
        raise KeyRefused("no registration was started")
    if SecurityKey.objects.filter(manager=manager.pk).count() >= MAX_KEYS:
        raise KeyRefused("too many keys")
    try:
        verified = verify_registration_response(
            credential=json.dumps(credential),
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise KeyRefused(str(exc)) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if SecurityKey.objects.filter(credential_hash=credential_hash(credential_id)).exists():
        raise KeyRefused("this key is registered already")
    key = SecurityKey.objects.create(
        manager=manager.pk,
        name=name.strip()[:100] or "Security key",
        credential_id=credential_id,
        credential_hash=credential_hash(credential_id),
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
    )
    audit_record(
        actor=manager,
        action="2fa.key_added",
        request=request,
        object_type="manager",
        object_id=manager.username,
        message=key.name,
    )
    return key


def authentication_options(request: HttpRequest, manager: Manager) -> str:
    options = generate_authentication_options(
        rp_id=rp_id(request),
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(key.credential_id))
            for key in keys_of(manager)
        ],
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    request.session[LOGIN_CHALLENGE] = bytes_to_base64url(options.challenge)
    return options_to_json(options)


def authenticate(request: HttpRequest, manager: Manager, credential: dict[str, Any]) -> SecurityKey:
    """Verify a sign-in answer: one of the manager's keys signed the session's challenge
    (each challenge is used once), and its counter grew."""
    challenge = request.session.pop(LOGIN_CHALLENGE, None)
    if not challenge:
        raise KeyRefused("no sign-in was started")
    raw_id = str(credential.get("rawId") or credential.get("id") or "")
    key = SecurityKey.objects.filter(
        manager=manager.pk, credential_hash=credential_hash(raw_id)
    ).first()
    if key is None:
        raise KeyRefused("not a key of this manager")
    try:
        verified = verify_authentication_response(
            credential=json.dumps(credential),
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            credential_public_key=base64url_to_bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise KeyRefused(str(exc)) from exc
    # The counter moves forward atomically: the same signature is never accepted twice.
    counter_ok = SecurityKey.objects.filter(pk=key.pk)
    if verified.new_sign_count or key.sign_count:
        counter_ok = counter_ok.filter(sign_count__lt=verified.new_sign_count)
    if not counter_ok.update(sign_count=verified.new_sign_count, last_used_at=timezone.now()):
        raise KeyRefused("the key's counter did not grow: a copied key?")
    return key


@transaction.atomic
def remove_key(*, manager: Manager, key_id: int, request: HttpRequest | None = None) -> bool:
    key = SecurityKey.objects.filter(manager=manager.pk, pk=key_id).first()
    if key is None:
        return False
    key.delete()
    audit_record(
        actor=manager,
        action="2fa.key_removed",
        request=request,
        object_type="manager",
        object_id=manager.username,
        message=key.name,
    )
    return True
