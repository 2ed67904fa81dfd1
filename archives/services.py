"""Archives of deleted mail (docs/jobs.md, "Archives"): restore one into a new mailbox, delete
them after the retention time or on request, and ask the storage hosts to measure theirs.
Every write is a job on the storage host's queue, recorded and audited in the caller's
transaction; nothing here touches a disk."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from audit.services import audit_record
from domains.models import Domain
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_create
from provisioning.models import Archive, Job
from provisioning.services import job_record

#: The actor of the audit records of the periodic tasks.
SYSTEM_ACTOR = "archives"


def _locked(archive: Archive, actor: Any) -> Archive:
    """The archive row, locked, if ``actor`` may see it (a string actor is the system)."""
    rows = Archive.objects.all() if isinstance(actor, str) else Archive.objects.visible_to(actor)
    locked = rows.select_for_update().filter(pk=archive.pk).first()
    if locked is None:
        raise PermissionDenied(f"{actor} may not act on archive {archive.pk}")
    return locked


@transaction.atomic
def archive_restore(
    *,
    archive: Archive,
    domain: str,
    local_part: str,
    password: str,
    actor: Any,
    request: HttpRequest | None = None,
) -> Mailbox:
    """Create a new mailbox ``local_part@domain`` on the archive's storage host and queue the
    restore of the archive into its home, after its creation job (the same address's jobs run
    in order). The address must be free: restoring never overwrites a mailbox or its Maildir
    (the storage worker refuses a home that holds mail)."""
    locked = _locked(archive, actor)
    if locked.state != Archive.State.PRESENT:
        raise ValidationError(
            {
                "__all__": _("This archive is %(state)s; it cannot be restored.")
                % {"state": locked.get_state_display()}
            }
        )
    mailbox = mailbox_create(
        domain=domain,
        local_part=local_part,
        password=password,
        actor=actor,
        request=request,
        mailhost=locked.mailhost,
    )
    hashdirpath = (
        Domain.objects.filter(pk=mailbox.domain_id).values_list("hashdirpath", flat=True).first()
    )
    job = job_record(
        kind=Job.Kind.MAILDIR_RESTORE,
        payload={
            "archive": locked.pk,
            "domain": mailbox.domain_id,
            "homedir": mailbox.homedir,
            "maildir": mailbox.maildir,
            "quota": mailbox.quota,
            "uid": mailbox.uidnumber,
            "gid": mailbox.gidnumber,
            "hashdirpath": hashdirpath or "",
        },
        domain=mailbox.domain_id,
        object_id=mailbox.username,
        mailhost=mailbox.mailhost,
        created_by=actor,
    )
    Archive.objects.filter(pk=locked.pk).update(
        state=Archive.State.RESTORING, restored_to=mailbox.username, updated_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="archive.restore",
        request=request,
        object_type="archive",
        object_id=str(locked.pk),
        domain=mailbox.domain_id,
        changes={"restored_to": ["", mailbox.username]},
        message=gettext_noop("%(path)s of %(address)s restored into %(target)s (job #%(job)s)"),
        message_args={
            "path": locked.path,
            "address": locked.address or "-",
            "target": mailbox.username,
            "job": job.pk,
        },
    )
    return mailbox


def _purge(archive: Archive, *, actor: Any, request: HttpRequest | None, reason: str) -> Job:
    job = job_record(
        kind=Job.Kind.MAILDIR_ARCHIVE_PURGE,
        payload={"archive": archive.pk},
        domain=archive.domain,
        object_id=archive.address or f"archive:{archive.pk}",
        addresses=[archive.address] if archive.address else [f"archive:{archive.pk}"],
        mailhost=archive.mailhost,
        created_by=actor,
    )
    Archive.objects.filter(pk=archive.pk).update(
        state=Archive.State.PURGING, updated_at=timezone.now()
    )
    audit_record(
        actor=actor,
        action="archive.purge",
        request=request,
        object_type="archive",
        object_id=str(archive.pk),
        domain=archive.domain,
        message=gettext_noop("%(path)s of %(address)s deleted (%(reason)s, job #%(job)s)"),
        message_args={
            "path": archive.path,
            "address": archive.address or "-",
            "reason": reason,
            "job": job.pk,
        },
    )
    return job


@transaction.atomic
def archive_delete(*, archive: Archive, actor: Any, request: HttpRequest | None = None) -> Job:
    """Delete one archive now (a manager's request)."""
    locked = _locked(archive, actor)
    if locked.state != Archive.State.PRESENT:
        raise ValidationError(
            {
                "__all__": _("This archive is %(state)s; it cannot be deleted.")
                % {"state": locked.get_state_display()}
            }
        )
    return _purge(locked, actor=actor, request=request, reason=_("by request"))


def archives_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Queue the deletion of every archive older than ``MAILADMIN_ARCHIVE_RETENTION_DAYS``
    (0 keeps them); returns how many. Each is its own transaction."""
    days = settings.MAILADMIN_ARCHIVE_RETENTION_DAYS
    if not days:
        return 0
    before = (now or timezone.now()) - datetime.timedelta(days=days)
    count = 0
    for pk in Archive.objects.filter(
        state=Archive.State.PRESENT, archived_at__lt=before
    ).values_list("pk", flat=True):
        with transaction.atomic():
            locked = (
                Archive.objects.select_for_update()
                .filter(pk=pk, state=Archive.State.PRESENT)
                .first()
            )
            if locked is None:
                continue
            _purge(
                locked,
                actor=SYSTEM_ACTOR,
                request=None,
                reason=_("older than %(days)s days") % {"days": days},
            )
            count += 1
    return count


@transaction.atomic
def archives_scan_request(*, actor: Any, request: HttpRequest | None = None) -> list[Job]:
    """Ask every storage host to measure its archives and list those the table lacks."""
    if not isinstance(actor, str) and not getattr(actor, "is_superadmin", False):
        raise PermissionDenied("only a superadmin may scan the storage hosts")
    jobs = [
        job_record(
            kind=Job.Kind.MAILDIR_ARCHIVE_SCAN,
            payload={},
            mailhost=host,
            created_by=actor,
        )
        for host in ("", *settings.MAILADMIN_STORAGE_HOSTS)
    ]
    audit_record(
        actor=actor,
        action="archive.scan",
        request=request,
        message=gettext_noop("archives of %(count)s storage hosts measured (jobs %(jobs)s)"),
        message_args={"count": len(jobs), "jobs": ", ".join(f"#{job.pk}" for job in jobs)},
    )
    return jobs
