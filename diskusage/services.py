"""Disk usage (docs/disk-usage.md): ask the storage hosts to measure Maildirs, warn mailboxes
that cross a quota threshold, and send the per-domain usage reports. Every write is audited;
measuring is a ``maildir.usage`` job on each storage host's queue, recorded in the caller's
transaction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from audit.services import audit_record
from domains.models import Domain
from mailboxes.models import Mailbox
from provisioning.models import Job
from provisioning.services import job_record, storage_queue

#: The actor of the audit records of the periodic tasks.
SYSTEM_ACTOR = "diskusage"


def _visible(queryset: Any, actor: Any) -> Any:
    """What ``actor`` may act on (a string actor is the system: everything)."""
    return queryset.all() if isinstance(actor, str) else queryset.visible_to(actor)


def _hosts() -> list[str]:
    return ["", *settings.MAILADMIN_STORAGE_HOSTS]


def _measure_job(
    *, mailhost: str, actor: Any, domain: str = "", addresses: list[str] | None = None
) -> Job:
    payload: dict[str, Any] = {}
    if domain:
        payload["domain"] = domain
    if addresses:
        payload["addresses"] = addresses
    return job_record(
        kind=Job.Kind.MAILDIR_USAGE,
        payload=payload,
        domain=domain,
        object_id=addresses[0] if addresses and len(addresses) == 1 else "",
        addresses=addresses or [],
        mailhost=mailhost,
        created_by=actor,
    )


@transaction.atomic
def usage_measure_all(
    *, actor: Any = SYSTEM_ACTOR, request: HttpRequest | None = None
) -> list[Job]:
    """Ask every storage host to measure all its Maildirs. A host whose earlier measurement
    has not finished yet gets no second one (a slow host never piles them up)."""
    if not isinstance(actor, str) and not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("only a superadmin may measure every storage host")
    busy = set(
        Job.objects.open()
        .filter(kind=Job.Kind.MAILDIR_USAGE, domain="", object_id="")
        .exclude(state=Job.State.FAILED)
        .values_list("queue", flat=True)
    )
    jobs = [
        _measure_job(mailhost=host, actor=actor)
        for host in _hosts()
        if storage_queue(host) not in busy
    ]
    if jobs and not isinstance(actor, str):
        audit_record(
            actor=actor,
            action="usage.measure",
            request=request,
            message=_("disk usage of every storage host measured (jobs %(jobs)s)")
            % {"jobs": ", ".join(f"#{job.pk}" for job in jobs)},
        )
    return jobs


@transaction.atomic
def usage_measure_domain(
    *, domain: Domain, actor: Any, request: HttpRequest | None = None
) -> list[Job]:
    """Measure the Maildirs of one domain now: one job per storage host that holds some."""
    if not _visible(Domain.objects, actor).filter(pk=domain.pk).exists():
        raise PermissionDenied(f"{actor} may not measure {domain.pk}")
    # The distinct hosts by the database (not every mailbox's row brought here).
    rows = Mailbox.objects.filter(domain_id=domain.pk).order_by()
    hosts = sorted(set(rows.values_list("mailhost", flat=True).distinct()))
    jobs = [_measure_job(mailhost=host, actor=actor, domain=domain.pk) for host in hosts]
    audit_record(
        actor=actor,
        action="usage.measure",
        request=request,
        object_type="domain",
        object_id=domain.pk,
        domain=domain.pk,
        message=_("disk usage of %(domain)s measured (jobs %(jobs)s)")
        % {"domain": domain.pk, "jobs": ", ".join(f"#{job.pk}" for job in jobs) or "-"},
    )
    return jobs


@transaction.atomic
def usage_measure_mailbox(
    *, mailbox: Mailbox, actor: Any, request: HttpRequest | None = None
) -> Job:
    """Measure one mailbox's Maildir now (after its earlier jobs: same address, in order)."""
    if not _visible(Mailbox.objects, actor).filter(pk=mailbox.pk).exists():
        raise PermissionDenied(f"{actor} may not measure {mailbox.pk}")
    job = _measure_job(
        mailhost=mailbox.mailhost,
        actor=actor,
        domain=mailbox.domain_id,
        addresses=[mailbox.pk],
    )
    audit_record(
        actor=actor,
        action="usage.measure",
        request=request,
        object_type="mailbox",
        object_id=mailbox.pk,
        domain=mailbox.domain_id,
        message=_("disk usage of %(address)s measured (job #%(job)s)")
        % {"address": mailbox.pk, "job": job.pk},
    )
    return job
