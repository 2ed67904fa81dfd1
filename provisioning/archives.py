"""The table of archives (``provisioning.models.Archive``), written by the storage workers:
the jobs that move mail aside record what they moved, and the scan job measures what is on
its host's disk. Runs on the storage host, so every path comes from that host's mail base."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from django.utils import timezone

from mailadmin.lib import maildir
from provisioning.models import Archive, Job, archive_key
from provisioning.services import STORAGE_QUEUE_PREFIX


def mailhost_of(job: Job) -> str:
    """The storage host a Maildir job runs on (its queue ``maildir.<host>``; '' for the
    default host)."""
    host = job.queue.removeprefix(STORAGE_QUEUE_PREFIX)
    return "" if host == "default" else host


def relative_maildir(homedir: str, maildir_path: str) -> str:
    """The Maildir relative to its home: ``Maildir/``, or '' when the home is the Maildir."""
    home = homedir.strip("/")
    box = (maildir_path or homedir).strip("/")
    rest = box[len(home) :].strip("/") if box.startswith(home) else "Maildir"
    return f"{rest}/" if rest else ""


def record_archive(
    job: Job,
    base: Path,
    *,
    path: str,
    homedir: str,
    maildir_path: str,
    address: str,
    domain: str,
    kind: str = Archive.Kind.ARCHIVE,
) -> Archive:
    """Record (or update) the archive ``path`` that ``job`` made, measured now."""
    target = maildir.safe_path(base, path)
    info = os.lstat(target)
    mailhost = mailhost_of(job)
    values = {
        "mailhost": mailhost,
        "path": path,
        "homedir": homedir,
        "maildir": relative_maildir(homedir, maildir_path),
        "address": address,
        "domain": domain,
        "kind": kind,
        "state": Archive.State.PRESENT,
        "size_bytes": maildir.tree_size(target),
        "uid": info.st_uid,
        "gid": info.st_gid,
        "archived_at": job.created_at,
        "measured_at": timezone.now(),
        "job": job.pk,
    }
    archive, _created = Archive.objects.update_or_create(
        key=archive_key(mailhost, path), defaults=values
    )
    return archive


def _archived_at(when: str) -> datetime.datetime:
    naive = datetime.datetime.strptime(when, "%Y%m%dT%H%M%S")
    return timezone.make_aware(naive)


def scan(job: Job, base: Path) -> str:
    """Measure every archive of this host, add those the table does not know (made before it
    existed, or by a job that stopped before recording), and mark rows whose directory is gone.
    Returns the job's note."""
    mailhost = mailhost_of(job)
    started = timezone.now()
    seen: set[str] = set()
    added = 0
    for path, match in maildir.find_archives(base):
        seen.add(path)
        target = maildir.safe_path(base, path)
        info = os.lstat(target)
        size = maildir.tree_size(target)
        key = archive_key(mailhost, path)
        updated = Archive.objects.filter(key=key).update(
            size_bytes=size, measured_at=timezone.now(), updated_at=timezone.now()
        )
        Archive.objects.filter(key=key, state=Archive.State.MISSING).update(
            state=Archive.State.PRESENT
        )
        if updated:
            continue
        parts = path.split("/")[1:]
        homedir = "/".join([*parts[:-1], match.group("name")])
        domain = parts[-2] if len(parts) >= 2 else ""
        marker = maildir.read_marker(target)
        address = str(marker.get("address", "")) if marker else ""
        if not address and domain:
            address = f"{match.group('name')}@{domain}"
        maildir_path = homedir if (target / "cur").is_dir() else f"{homedir}/Maildir/"
        Archive.objects.create(
            mailhost=mailhost,
            path=path,
            homedir=homedir,
            maildir=relative_maildir(homedir, maildir_path),
            address=address[:255],
            domain=(address.rpartition("@")[2] if "@" in address else domain)[:255],
            kind=Archive.Kind.LEFTOVER if match.group("job") else Archive.Kind.ARCHIVE,
            size_bytes=size,
            uid=info.st_uid,
            gid=info.st_gid,
            archived_at=_archived_at(match.group("when")),
            measured_at=timezone.now(),
        )
        added += 1
    gone = (
        # Not those recorded while the scan ran: their directory may be newer than the walk.
        Archive.objects.filter(
            mailhost=mailhost, state=Archive.State.PRESENT, updated_at__lt=started
        )
        .exclude(path__in=seen)
        .update(state=Archive.State.MISSING, updated_at=timezone.now())
    )
    return f"{len(seen)} archives measured, {added} added to the list, {gone} no longer on disk."
