"""The six per-service switches of the extmail tables.

Each is a nullable ``disable<service>`` column where 1 means disabled and NULL or 0 mean
enabled. Forms and code speak of ``enable_<service>``; writes keep an existing NULL/0 as it
is when nothing changes, so untouched legacy rows are written back unchanged.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

SERVICES: tuple[tuple[str, Any], ...] = (
    ("smtpd", _("SMTP auth (sending)")),
    ("smtp", _("SMTP receive")),
    ("webmail", _("Webmail")),
    ("netdisk", _("Netdisk")),
    ("imap", _("IMAP")),
    ("pop3", _("POP3")),
)
SERVICE_NAMES: tuple[str, ...] = tuple(name for name, _label in SERVICES)


class ServiceFlagsMixin:
    """``enable_<service>`` properties over the ``disable<service>`` columns of a model."""

    def service_enabled(self, service: str) -> bool:
        return not getattr(self, f"disable{service}")

    def set_service_enabled(self, service: str, enabled: bool) -> None:
        if service not in SERVICE_NAMES:
            raise ValueError(f"unknown service {service!r}")
        if enabled == self.service_enabled(service):
            return
        setattr(self, f"disable{service}", 0 if enabled else 1)

    @property
    def services(self) -> dict[str, bool]:
        return {name: self.service_enabled(name) for name in SERVICE_NAMES}

    @property
    def enabled_services(self) -> list[str]:
        return [name for name in SERVICE_NAMES if self.service_enabled(name)]


def _service_property(service: str) -> property:
    def getter(self: ServiceFlagsMixin) -> bool:
        return self.service_enabled(service)

    def setter(self: ServiceFlagsMixin, enabled: bool) -> None:
        self.set_service_enabled(service, enabled)

    return property(getter, setter, doc=f"Whether {service} is enabled.")


for _name in SERVICE_NAMES:
    setattr(ServiceFlagsMixin, f"enable_{_name}", _service_property(_name))
