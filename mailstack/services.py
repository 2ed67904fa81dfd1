"""Write paths for the Postfix/Dovecot side: internal-only marks, table rebuilds, service
actions, the hosts' status reports and Postfix queue actions.

The mailbox, alias and domain services call these inside their own transactions, so a mark
and the job that publishes it commit together with the change that needs them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from mailstack import status
from mailstack.actions import ACTIONS
from mailstack.models import HostStatus, InternalOnly, StatusCollection
from provisioning.models import Job
from provisioning.services import job_record


def postfix_tables_request(*, actor: Any = None) -> Job:
    """Ask for the managed Postfix tables to be rebuilt and Postfix reloaded.

    Coalesced: while a rebuild is still pending, it will read this change too, so no second
    job is recorded. The handler rebuilds everything from the database.
    """
    pending = (
        Job.objects.filter(kind=Job.Kind.POSTFIX_TABLES, state=Job.State.PENDING)
        .order_by("id")
        .first()
    )
    if pending is not None:
        return pending
    return job_record(kind=Job.Kind.POSTFIX_TABLES, payload={}, created_by=actor)


def is_internal_only(address: str) -> bool:
    return InternalOnly.objects.filter(pk=address).exists()


def internal_only_set(*, address: str, domain: str, value: bool, actor: Any) -> bool:
    """Mark or unmark ``address``; True when that changed something (the caller audits it as
    part of its own record). Call inside the caller's transaction, after its access checks."""
    if value:
        _entry, created = InternalOnly.objects.get_or_create(
            address=address,
            defaults={"domain": domain, "created_by": str(getattr(actor, "pk", actor or ""))},
        )
        changed = created
    else:
        changed = InternalOnly.objects.filter(pk=address).delete()[0] > 0
    if changed:
        postfix_tables_request(actor=actor)
    return changed


def internal_only_forget(*, address: str, actor: Any) -> None:
    """The address is gone (deleted mailbox or alias): drop its mark."""
    if InternalOnly.objects.filter(pk=address).delete()[0]:
        postfix_tables_request(actor=actor)


def internal_only_rename(*, old: str, new: str, domain: str, actor: Any) -> None:
    """The address was renamed: its mark follows it."""
    if InternalOnly.objects.filter(pk=old).delete()[0]:
        InternalOnly.objects.update_or_create(address=new, defaults={"domain": domain})
        postfix_tables_request(actor=actor)


def internal_only_rename_domain(*, old: str, new: str, actor: Any) -> None:
    """A domain was renamed: the marks of its addresses follow it."""
    entries = list(InternalOnly.objects.filter(domain=old))
    for entry in entries:
        local = entry.address.rpartition("@")[0]
        InternalOnly.objects.filter(pk=entry.address).delete()
        InternalOnly.objects.update_or_create(
            address=f"{local}@{new}", defaults={"domain": new, "created_by": entry.created_by}
        )
    postfix_tables_request(actor=actor)


def internal_only_forget_domain(*, domain: str, actor: Any) -> None:
    """A domain was deleted: drop the marks of its addresses; its ``local_sender`` entry goes."""
    InternalOnly.objects.filter(domain=domain).delete()
    postfix_tables_request(actor=actor)


def domain_tables_changed(*, changes: dict[str, Any] | None = None, actor: Any) -> None:
    """A domain was created, deleted, renamed, or (given ``changes``) had its ``active`` flag or
    ``transport`` changed: ``local_sender`` and ``transport`` follow the domain list."""
    if changes is None or {"active", "transport"} & set(changes):
        postfix_tables_request(actor=actor)


@transaction.atomic
def service_action_request(*, action: str, actor: Any, request: HttpRequest | None = None) -> Job:
    """Queue one allow-listed service action (superadmin only) on the privileged queue."""
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied
    if action not in ACTIONS:
        raise KeyError(action)
    job = job_record(
        kind=Job.Kind.SERVICE_ACTION, payload={"action": action}, object_id=action, created_by=actor
    )
    audit_record(
        actor=actor,
        action="mailstack.service_action",
        request=request,
        object_type="service",
        object_id=action,
        message=f"job #{job.pk}",
    )
    return job


# --- status and queue ----------------------------------------------------------------------
#: Queue actions: name -> (postsuper option, or None for ``postqueue -f``).
QUEUE_ACTIONS: dict[str, str | None] = {
    "flush": None,
    "hold": "-h",
    "release": "-H",
    "requeue": "-r",
    "delete": "-d",
}


def store_host_status(
    host_status: dict[str, Any], workers: list[dict[str, Any]] | None = None
) -> HostStatus:
    """Store one host's report; ``workers`` (those that answered the collection) are kept as
    they were when not given (a report made after a queue action)."""
    defaults: dict[str, Any] = {"data": host_status, "reported_at": timezone.now()}
    if workers is not None:
        defaults["workers"] = workers
    row, _created = HostStatus.objects.update_or_create(
        host=str(host_status.get("host") or "")[:255], defaults=defaults
    )
    return row


def collect_status() -> int:
    """Ask every worker for its host's status (the ``mailadmin_status`` broadcast) and store
    the answers per host; without a broker (jobs run inline) this host reports itself.
    Returns the number of workers that answered."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        store_host_status(status.local_status(), [])
        answered = 0
    else:
        from mailadmin.celery import app

        replies = app.control.broadcast(
            "mailadmin_status", reply=True, timeout=settings.MAILADMIN_STATUS_TIMEOUT
        )
        by_host: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        answered = 0
        for reply in replies or []:
            for worker, answer in reply.items():
                if not isinstance(answer, dict) or "status" not in answer:
                    continue
                answered += 1
                host_status = answer["status"]
                entry = by_host.setdefault(str(host_status.get("host", "")), (host_status, []))
                entry[1].append({"name": worker, "queues": answer.get("queues", [])})
        for host_status, workers in by_host.values():
            store_host_status(host_status, sorted(workers, key=lambda w: w["name"]))
    StatusCollection.objects.update_or_create(
        pk=1, defaults={"ran_at": timezone.now(), "answered": answered}
    )
    return answered


@transaction.atomic
def queue_action_request(
    *,
    action: str,
    queue_id: str = "",
    arrival: int | None = None,
    actor: Any,
    request: HttpRequest | None = None,
) -> Job:
    """Queue one Postfix queue action (superadmin only) on the privileged queue: ``flush``
    the whole queue, or ``hold``/``release``/``requeue``/``delete`` one message by its id.
    ``arrival`` (the message's arrival time as the queue page showed it) lets the job refuse
    a queue id that Postfix has given to another message since."""
    if not getattr(actor, "is_superadmin", False):
        raise PermissionDenied
    if action not in QUEUE_ACTIONS:
        raise ValidationError({"action": _("Choose one of the listed actions.")})
    if action == "flush":
        queue_id = ""
    elif not status.valid_queue_id(queue_id):
        raise ValidationError({"queue_id": _("Enter the queue id of one message.")})
    job = job_record(
        kind=Job.Kind.POSTFIX_QUEUE,
        payload={"action": action, "queue_id": queue_id, "arrival": arrival},
        object_id=queue_id or action,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="mailstack.queue_action",
        request=request,
        object_type="queue",
        object_id=queue_id or action,
        message=f"{action} (job #{job.pk})",
    )
    return job
