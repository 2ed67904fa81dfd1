"""Writing audit records; every service calls ``audit_record`` in its own transaction."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.http import HttpRequest

from audit.models import AuditEntry
from mailadmin.lib.clientip import client_ip

# Fields whose values never reach the log: only the fact that they changed.
SECRET_FIELDS = frozenset({"password", "clearpwd", "answer", "password1", "password2"})
CHANGED = "(changed)"

#: Where the actions of this context come from when it is not a web request (the command line):
#: ``(actor_kind, note)``, see :func:`audit_origin`.
_origin: ContextVar[tuple[str, str] | None] = ContextVar("audit_origin", default=None)


@contextlib.contextmanager
def audit_origin(kind: str, note: str) -> Iterator[None]:
    """Mark every entry recorded inside as coming from ``kind`` (e.g. ``cli``) with ``note``
    (e.g. the operating-system user) at the start of its message; the actor stays the manager
    whose rights applied."""
    token = _origin.set((kind, note))
    try:
        yield
    finally:
        _origin.reset(token)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, set | frozenset | tuple):
        return sorted(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def snapshot(obj: models.Model, fields: Iterable[str] | None = None) -> dict[str, Any]:
    """The audited values of ``obj`` (attnames, so foreign keys give their stored key)."""
    names = fields or [f.attname for f in obj._meta.concrete_fields]
    return {name: _plain(getattr(obj, name)) for name in names}


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the fields that differ, secrets masked."""
    changes: dict[str, list[Any]] = {}
    for field in sorted(set(before) | set(after)):
        old, new = _plain(before.get(field)), _plain(after.get(field))
        if old == new:
            continue
        if field in SECRET_FIELDS:
            changes[field] = ["", CHANGED]
        else:
            changes[field] = [old, new]
    return changes


def audit_record(
    *,
    actor: Any,
    action: str,
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str = "",
    domain: str = "",
    changes: Mapping[str, list[Any]] | None = None,
    message: str = "",
    actor_kind: str | None = None,
) -> AuditEntry:
    """Record one action. ``actor`` is a Manager, a Mailbox, a string or None (system)."""
    entry = audit_entry(
        actor=actor,
        action=action,
        request=request,
        object_type=object_type,
        object_id=object_id,
        domain=domain,
        changes=changes,
        message=message,
        actor_kind=actor_kind,
    )
    entry.save(force_insert=True)
    return entry


def audit_entry(
    *,
    actor: Any,
    action: str,
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str = "",
    domain: str = "",
    changes: Mapping[str, list[Any]] | None = None,
    message: str = "",
    actor_kind: str | None = None,
) -> AuditEntry:
    """The unsaved entry :func:`audit_record` writes: for ``AuditEntry.objects.bulk_create``
    when one action records many objects (a mailbox import)."""
    if actor is None or not getattr(actor, "is_authenticated", True):
        name, kind = "", actor_kind or "anonymous"
    elif isinstance(actor, str):
        name, kind = actor, actor_kind or "system"
    else:
        name = str(actor.pk)
        kind = actor_kind or actor._meta.model_name
    origin = _origin.get()
    if origin is not None and request is None:
        kind = actor_kind or origin[0]
        message = f"[{origin[1]}] {message}".strip()
    for field, pair in (changes or {}).items():
        if field in SECRET_FIELDS and pair[1] != CHANGED:
            raise ValueError(f"refusing to log the value of {field}")
    return AuditEntry(
        actor=name[:255],
        actor_kind=kind[:16],
        ip=client_ip(request) if request is not None else None,
        action=action,
        object_type=object_type,
        object_id=object_id[:255],
        domain=domain,
        changes=dict(changes or {}),
        message=message[:500],
    )
