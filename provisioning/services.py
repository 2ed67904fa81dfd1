"""Recording jobs: a row in the caller's transaction, a message to a worker after commit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from provisioning.dispatch import dispatch
from provisioning.models import Job, JobKey

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


def mailbox_key(address: str) -> str:
    return f"mailbox:{address.strip().lower()}"


def domain_key(domain: str) -> str:
    return f"domain:{domain.strip().lower()}"


def keys_for(
    kind: str,
    *,
    domain: str,
    object_id: str,
    addresses: Iterable[str] = (),
    domains: Iterable[str] = (),
) -> dict[str, bool]:
    """``{key: exclusive}`` of a job (see :class:`provisioning.models.JobKey`).

    Mailbox jobs hold each address they touch exclusively and their domain shared; domain
    jobs hold every domain they touch exclusively. Postfix and service jobs rebuild from the
    database as a whole and need no order.
    """
    keys: dict[str, bool] = {}
    if kind.startswith("maildir."):
        for address in list(addresses) or [object_id]:
            if address:
                keys[mailbox_key(address)] = True
        if domain:
            keys[domain_key(domain)] = False
    elif kind.startswith("domain."):
        for name in (domain, *domains):
            if name:
                keys[domain_key(name)] = True
    return keys


def job_record(
    *,
    kind: str,
    payload: dict[str, Any],
    domain: str = "",
    object_id: str = "",
    mailhost: str | None = None,
    created_by: Any = None,
    addresses: Iterable[str] = (),
    domains: Iterable[str] = (),
) -> Job:
    """Write a job row inside the caller's transaction (it commits with the data change) and
    send it to its queue once that transaction has committed.

    If the transaction rolls back, neither the row nor the message exists. If the broker is
    down at commit time, the row stays pending and the sweeper sends it later.

    ``addresses`` (mailbox jobs: every address the job touches, default ``object_id``) and
    ``domains`` (domain jobs: other domains it touches, e.g. the old name of a rename) give
    the job's place in the order of jobs of those objects.
    """
    job = Job.objects.create(
        kind=kind,
        payload=payload,
        domain=domain,
        object_id=object_id[:255],
        queue=queue_for(kind, mailhost),
        created_by=str(getattr(created_by, "pk", created_by or ""))[:255],
    )
    keys = keys_for(
        kind, domain=domain, object_id=object_id, addresses=list(addresses), domains=domains
    )
    JobKey.objects.bulk_create(
        [JobKey(job=job, key=key[:300], exclusive=exclusive) for key, exclusive in keys.items()],
        batch_size=1000,
    )
    dispatch(job)
    return job
