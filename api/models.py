"""API tokens of managers (issue 13): named, expiring, read-only or read-write, stored hashed."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Manager

#: Every token starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "mat_"  # noqa: S105 - a marker, not a secret
#: Length of the public lookup part after TOKEN_PREFIX.
LOOKUP_LENGTH = 12
#: Usage (time, client address) is written at most once per this many seconds per token.
USAGE_WRITE_INTERVAL = datetime.timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def usable(self) -> ApiTokenQuerySet:
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A manager's token for scripts. Only ``lookup`` (public) and the SHA-256 of the whole
    token are stored; the token itself is shown once, when it is made."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    manager = models.ForeignKey(
        Manager,
        on_delete=models.CASCADE,
        db_constraint=False,  # the legacy manager table may be MyISAM
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    lookup = models.CharField(max_length=LOOKUP_LENGTH, unique=True)
    token_hash = models.CharField(max_length=64)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        db_table = "mailadmin_api_token"
        ordering = ["-created_at", "-id"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({TOKEN_PREFIX}{self.lookup}…)"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new token as ``(token, lookup, hash)``."""
        lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
        token = f"{TOKEN_PREFIX}{lookup}_{secrets.token_urlsafe(32)}"
        return token, lookup, hash_secret(token)

    @staticmethod
    def split(token: str) -> str | None:
        """The lookup part of a well-formed token, else None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        lookup, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
        if not sep or len(lookup) != LOOKUP_LENGTH or not secret or not token.isascii():
            return None
        return lookup

    def matches(self, token: str) -> bool:
        return hmac.compare_digest(self.token_hash, hash_secret(token))

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "active"

    @property
    def is_usable(self) -> bool:
        return self.state == "active"

    @property
    def read_only(self) -> bool:
        return self.scope != self.Scope.WRITE
