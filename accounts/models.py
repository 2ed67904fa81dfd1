"""Managers (the ``manager`` and ``domain_manager`` tables) and the panel's sessions.

``Manager`` is Django's user model, so the panel's login, sessions and CSRF handling are
Django's own; its password column keeps the mail stack's hash formats (never Django's).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils.translation import gettext_lazy as _

from mailadmin.lib import dates, passwords
from mailadmin.lib.fields import ZeroDateField, ZeroDateTimeField, local_now


class ManagerQuerySet(models.QuerySet):
    def visible_to(self, manager: Manager | None) -> ManagerQuerySet:
        """All managers for a superadmin; only themselves for anyone else."""
        if manager is None or not manager.is_authenticated:
            return self.none()
        if manager.is_superadmin:
            return self.all()
        return self.filter(pk=manager.pk)

    def superadmins(self) -> ManagerQuerySet:
        return self.filter(type=Manager.Role.SUPERADMIN)


class ManagerManager(BaseUserManager.from_queryset(ManagerQuerySet)):  # type: ignore[misc]
    def get_by_natural_key(self, username: str) -> Manager:
        return self.get(username=username.strip().lower())


class Manager(AbstractBaseUser):
    """A panel administrator: ``type='admin'`` is a superadmin, any other type a domain admin.

    ``active = 0`` or a past ``expiredate`` refuse login and end open sessions.
    """

    class Role(models.TextChoices):
        SUPERADMIN = "admin", _("Superadmin")
        DOMAIN_ADMIN = "postmaster", _("Domain admin")

    username = models.CharField(_("username"), max_length=255, primary_key=True)
    password = models.CharField(_("password"), max_length=255, default="")
    type = models.CharField(_("role"), max_length=64, default=Role.DOMAIN_ADMIN)
    uid = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(_("name"), max_length=255, blank=True, default="")
    question = models.TextField(blank=True, default="")
    answer = models.TextField(blank=True, default="")
    disablepwdchange = models.SmallIntegerField(null=True, blank=True)
    createdate = ZeroDateTimeField(_("created"), default=local_now)
    expiredate = ZeroDateField(_("expires"), null=True, blank=True, default=None)
    active = models.BooleanField(_("active"), default=True)

    # The legacy table has no last_login column.
    last_login = None

    objects = ManagerManager()

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        managed = False  # created by mailadmin.lib.schema when missing, never altered
        db_table = "manager"
        ordering = ["username"]
        verbose_name = _("manager")
        verbose_name_plural = _("managers")

    def __str__(self) -> str:
        return self.username

    @property
    def is_superadmin(self) -> bool:
        return self.type == self.Role.SUPERADMIN

    @property
    def role_label(self) -> str:
        return str(
            self.Role.SUPERADMIN.label if self.is_superadmin else self.Role.DOMAIN_ADMIN.label
        )

    @property
    def is_expired(self) -> bool:
        return dates.is_expired(self.expiredate)

    @property
    def is_active(self) -> bool:  # type: ignore[override]
        """May log in and keep a session: active and not past the expiry date."""
        return bool(self.active) and not self.is_expired

    @property
    def password_change_disabled(self) -> bool:
        return bool(self.disablepwdchange)

    def set_password(self, raw_password: str | None) -> None:
        if not raw_password:
            raise ValueError("a manager password cannot be empty")
        self.password = passwords.hash_password(raw_password)
        self._password = raw_password

    def check_password(self, raw_password: str) -> bool:
        return passwords.verify_password(raw_password, self.password)

    def set_unusable_password(self) -> None:
        # An empty stored value never verifies, and it is what ExtMan itself would store.
        self.password = ""

    def has_usable_password(self) -> bool:
        return bool(self.password)

    def domain_names(self) -> list[str]:
        """The existing domains this manager administers (every domain for a superadmin)."""
        from domains.models import Domain

        return list(Domain.objects.visible_to(self).values_list("domain", flat=True))


class DomainManagerQuerySet(models.QuerySet):
    def domain_names_of(self, manager: Any) -> models.QuerySet:
        """A subquery of the domain names an (active) assignment gives ``manager``."""
        return self.filter(manager_id=manager.pk, active=True).values("domain_id")


class DomainManager(models.Model):
    """Which domains a domain admin manages. Legacy tables have no key and may hold duplicate
    rows or rows of deleted domains: both are harmless here."""

    pk = models.CompositePrimaryKey("manager", "domain")
    manager = models.ForeignKey(
        Manager,
        db_column="username",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="domain_links",
    )
    domain = models.ForeignKey(
        "domains.Domain",
        db_column="domain",
        db_constraint=False,
        on_delete=models.DO_NOTHING,
        related_name="manager_links",
    )
    createdate = ZeroDateTimeField(default=local_now)
    active = models.BooleanField(default=True)

    objects = DomainManagerQuerySet.as_manager()

    class Meta:
        managed = False  # created by mailadmin.lib.schema when missing, never altered
        db_table = "domain_manager"
        verbose_name = _("domain assignment")
        verbose_name_plural = _("domain assignments")

    def __str__(self) -> str:
        return f"{self.manager_id} -> {self.domain_id}"


class PanelSession(AbstractBaseSession):
    """The panel's login sessions, in its own prefixed table."""

    class Meta:
        db_table = "mailadmin_session"
        verbose_name = _("session")
        verbose_name_plural = _("sessions")

    @classmethod
    def get_session_store_class(cls) -> type:
        from accounts.sessions import SessionStore

        return SessionStore


class SecondFactor(models.Model):
    """A manager's TOTP authenticator (accounts.twofactor). The secret is sealed
    (mailadmin.lib.sealing); ``last_step`` is the time step of the last accepted code, so that
    a code is never accepted twice. The manager is referenced by name, without a foreign key:
    the legacy ``manager`` table may be MyISAM, which cannot take one."""

    manager = models.CharField(max_length=255, unique=True)
    secret = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_step = models.BigIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mailadmin_second_factor"
        verbose_name = _("authenticator")
        verbose_name_plural = _("authenticators")

    def __str__(self) -> str:
        return self.manager


class RecoveryCode(models.Model):
    """A one-time recovery code of a manager's two-factor sign-in, stored as a SHA-256 hash
    (the codes are random, so a plain hash is enough to make a copy of the table useless)."""

    manager = models.CharField(max_length=255, db_index=True)
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mailadmin_recovery_code"
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")

    def __str__(self) -> str:
        return f"{self.manager} ({'used' if self.used_at else 'unused'})"


class SecurityKey(models.Model):
    """A manager's security key (WebAuthn credential) for two-factor sign-in
    (accounts.securitykeys): its credential id and public key (base64url), and the signature
    counter the key last reported. A credential id may be up to 1,023 bytes: it is looked up
    by its SHA-256 (``credential_hash``), which an index can hold on any engine."""

    manager = models.CharField(max_length=255, db_index=True)
    name = models.CharField(_("name"), max_length=100)
    credential_id = models.TextField()
    credential_hash = models.CharField(max_length=64, unique=True)
    public_key = models.TextField()
    sign_count = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(_("added"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        db_table = "mailadmin_security_key"
        ordering = ["created_at", "id"]
        verbose_name = _("security key")
        verbose_name_plural = _("security keys")

    def __str__(self) -> str:
        return f"{self.manager}: {self.name}"
