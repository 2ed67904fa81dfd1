"""Write paths of API tokens: create, revoke, record use. Audited like every change."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from api.models import USAGE_WRITE_INTERVAL, ApiToken
from audit.services import audit_record
from mailadmin.lib.storable import is_storable

#: A token lives at most this long (a forgotten token should not work for ever).
MAX_LIFETIME = datetime.timedelta(days=366)
#: Tokens one manager may have that are not revoked (expired ones count until revoked).
MAX_TOKENS_PER_MANAGER = 50


@transaction.atomic
def token_create(
    *,
    actor: Any,
    name: str,
    scope: str,
    expires_at: datetime.datetime,
    request: HttpRequest | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for ``actor`` (a manager makes only their own). Returns the row and the
    token, which is never stored and must be shown to the manager now or never."""
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name or len(name) > 100 or not name.isprintable() or not is_storable(name):
        errors["name"] = _("Give the token a name of at most 100 characters on one line.")
    if scope not in ApiToken.Scope.values:
        errors["scope"] = _("Choose read only or read and write.")
    now = timezone.now()
    if expires_at <= now:
        errors["expires_at"] = _("The expiry must be in the future.")
    elif expires_at > now + MAX_LIFETIME:
        errors["expires_at"] = _("A token can live at most a year.")
    if errors:
        raise ValidationError(errors)
    count = ApiToken.objects.filter(manager_id=actor.pk, revoked_at__isnull=True).count()
    if count >= MAX_TOKENS_PER_MANAGER:
        raise ValidationError(
            {"name": _("You have %(count)d tokens: revoke some first.") % {"count": count}}
        )
    token, lookup, token_hash = ApiToken.generate()
    row = ApiToken.objects.create(
        manager_id=actor.pk,
        name=name,
        lookup=lookup,
        token_hash=token_hash,
        scope=scope,
        expires_at=expires_at,
    )
    audit_record(
        actor=actor,
        action="api_token.create",
        request=request,
        object_type="api_token",
        object_id=str(row.pk),
        changes={
            "name": [None, name],
            "scope": [None, scope],
            "expires_at": [None, expires_at.isoformat()],
        },
    )
    return row, token


@transaction.atomic
def token_revoke(*, actor: Any, token: ApiToken, request: HttpRequest | None = None) -> None:
    """Revoke one of ``actor``'s tokens (a superadmin may revoke anyone's)."""
    if token.manager_id != actor.pk and not actor.is_superadmin:
        raise ApiToken.DoesNotExist
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if changed:
        audit_record(
            actor=actor,
            action="api_token.revoke",
            request=request,
            object_type="api_token",
            object_id=str(token.pk),
            changes={"revoked": [False, True]},
            message=gettext_noop("%(name)s of %(manager)s"),
            message_args={"name": token.name, "manager": token.manager_id},
        )


def token_record_use(token: ApiToken, ip: str | None) -> None:
    """Note when and from where a token was used: at most one UPDATE a minute per token, not
    a write per request (the condition in SQL keeps concurrent requests to one write)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < USAGE_WRITE_INTERVAL:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - USAGE_WRITE_INTERVAL)
    ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip
