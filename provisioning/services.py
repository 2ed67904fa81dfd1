"""Recording jobs: a row in the caller's transaction, a message to a worker after commit."""

from __future__ import annotations

from typing import Any

from provisioning.dispatch import dispatch
from provisioning.models import Job

PRIVILEGED_QUEUE = "privileged"
STORAGE_QUEUE_PREFIX = "maildir."


def storage_queue(mailhost: str) -> str:
    """The queue of a storage host: ``maildir.<host>``, ``maildir.default`` for ''."""
    return f"{STORAGE_QUEUE_PREFIX}{mailhost or 'default'}"


def queue_for(kind: str, mailhost: str | None) -> str:
    """Maildir and domain-directory work runs on the storage host that holds the data;
    everything else (Postfix tables, service reloads) on the privileged queue."""
    if kind.startswith(("maildir.", "domain.")):
        return storage_queue(mailhost or "")
    return PRIVILEGED_QUEUE


def job_record(
    *,
    kind: str,
    payload: dict[str, Any],
    domain: str = "",
    object_id: str = "",
    mailhost: str | None = None,
    created_by: Any = None,
) -> Job:
    """Write a job row inside the caller's transaction (it commits with the data change) and
    send it to its queue once that transaction has committed.

    If the transaction rolls back, neither the row nor the message exists. If the broker is
    down at commit time, the row stays pending and the sweeper sends it later.
    """
    job = Job.objects.create(
        kind=kind,
        payload=payload,
        domain=domain,
        object_id=object_id,
        queue=queue_for(kind, mailhost),
        created_by=str(getattr(created_by, "pk", created_by or ""))[:255],
    )
    dispatch(job)
    return job
