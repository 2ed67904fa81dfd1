"""Recording jobs. Carrying them out (workers, routing, retries) is the worker side."""

from __future__ import annotations

from typing import Any

from provisioning.models import Job

PRIVILEGED_QUEUE = "privileged"


def storage_queue(mailhost: str) -> str:
    """The queue of a storage host: ``maildir.<host>``, ``maildir.default`` for ''."""
    return f"maildir.{mailhost or 'default'}"


def job_record(
    *,
    kind: str,
    payload: dict[str, Any],
    domain: str = "",
    object_id: str = "",
    mailhost: str | None = None,
    created_by: Any = None,
) -> Job:
    """Write a job row inside the caller's transaction (it commits with the data change).

    Maildir work goes to its storage host's queue; everything else to the privileged queue.
    """
    if kind.startswith(("maildir.", "domain.")):
        queue = storage_queue(mailhost or "")
    else:
        queue = PRIVILEGED_QUEUE
    return Job.objects.create(
        kind=kind,
        payload=payload,
        domain=domain,
        object_id=object_id,
        queue=queue,
        created_by=str(getattr(created_by, "pk", created_by or ""))[:255],
    )
