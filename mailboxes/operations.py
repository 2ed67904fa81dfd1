"""Bulk actions and imports as background operations (docs/jobs.md, "Background operations").

Above ``MAILADMIN_BACKGROUND_BULK_OVER`` mailboxes, or ``MAILADMIN_BACKGROUND_IMPORT_OVER``
lines, the views start an operation here instead of calling the service within the request.
The runners call the very same services (:func:`mailboxes.bulk.mailbox_bulk`,
:func:`mailboxes.bulk.mailbox_import`), all or nothing, with a progress callback: the rules
live in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _

from mailboxes import bulk
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Operation
from provisioning.operations import OperationRun, Outcome

if TYPE_CHECKING:
    from accounts.models import Manager

#: The columns of an import's line kept in the operation's payload (its password is sealed).
_IMPORT_FIELDS = ("line", "local_part", "name", "quota")


def _single_domain(addresses: list[str]) -> str:
    domains = {address.rpartition("@")[2] for address in addresses}
    return domains.pop() if len(domains) == 1 else ""


def mailbox_bulk_start(
    *,
    action: str,
    addresses: list[str],
    actor: Manager,
    request: HttpRequest | None = None,
    quota: int | None = None,
    purge: bool = False,
) -> Operation:
    """Record a bulk action to run in the background; the caller redirects to its page."""
    wanted = sorted(set(addresses))
    return operations.operation_start(
        kind=Operation.Kind.MAILBOX_BULK,
        actor=actor,
        total=len(wanted),
        domain=_single_domain(wanted),
        payload={"action": action, "addresses": wanted, "quota": quota, "purge": purge},
        request=request,
    )


def mailbox_import_start(
    *,
    domain: str,
    rows: list[dict[str, Any]],
    actor: Manager,
    request: HttpRequest | None = None,
    dry_run: bool = False,
) -> Operation:
    """Record an import (or its ``dry_run``) to run in the background. The lines' passwords
    and password hashes are not kept in the payload: they are sealed apart and wiped when the
    operation ends."""
    return operations.operation_start(
        kind=Operation.Kind.MAILBOX_IMPORT,
        actor=actor,
        total=len(rows),
        domain=domain,
        payload={
            "domain": domain,
            "dry_run": dry_run,
            "rows": [{key: row.get(key) for key in _IMPORT_FIELDS} for row in rows],
        },
        secret={
            "passwords": [str(row.get("password") or "") for row in rows],
            "hashes": [str(row.get("password_hash") or "") for row in rows],
        },
        request=request,
    )


def run_bulk(run: OperationRun) -> Outcome:
    payload = run.operation.payload
    try:
        result = bulk.mailbox_bulk(
            action=payload["action"],
            addresses=payload["addresses"],
            quota=payload.get("quota"),
            purge=bool(payload.get("purge")),
            actor=run.actor,
            request=run.request,
            progress=run.progress,
        )
    except Mailbox.DoesNotExist as exc:
        raise ValidationError(
            _("Some of the selected mailboxes no longer exist or are no longer yours.")
        ) from exc
    return Outcome(
        result={
            "action": result.action,
            "count": len(result.addresses),
            "domain": run.operation.domain,
            "changed_aliases": result.changed_aliases,
            "deleted_aliases": result.deleted_aliases,
            "passwords": len(result.passwords),
        },
        secret=sorted(result.passwords.items()) or None,
    )


def run_import(run: OperationRun) -> Outcome:
    payload = run.operation.payload
    passwords = (run.secret or {}).get("passwords", [])
    rows = payload["rows"]
    hashes = (run.secret or {}).get("hashes") or [""] * len(rows)
    if len(passwords) != len(rows) or len(hashes) != len(rows):
        raise ValidationError(_("The operation's input is incomplete: nothing was changed."))
    dry_run = bool(payload.get("dry_run"))
    created = bulk.mailbox_import(
        domain=payload["domain"],
        rows=[
            {**row, "password": password, "password_hash": stored}
            for row, password, stored in zip(rows, passwords, hashes, strict=True)
        ],
        actor=run.actor,
        request=run.request,
        progress=run.progress,
        dry_run=dry_run,
    )
    return Outcome(result={"count": len(created), "domain": payload["domain"], "dry_run": dry_run})


def register() -> None:
    """Called from ``MailboxesConfig.ready``."""
    operations.register(
        Operation.Kind.MAILBOX_BULK, run_bulk, result_template="mailboxes/_operation_bulk.html"
    )
    operations.register(
        Operation.Kind.MAILBOX_IMPORT,
        run_import,
        result_template="mailboxes/_operation_import.html",
    )
