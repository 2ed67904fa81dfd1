"""The archive jobs on the storage host: restore an archive into a new mailbox's home, delete
an archive, and measure a host's archives. Each acts only on the directory its ``Archive`` row
names, checked to lie inside ``.archive`` (``mailadmin.lib.maildir.archive_relative``); a path
in a payload is never trusted."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from mailadmin.lib import maildir
from mailadmin.lib.maildir import MaildirConflictError, UnsafePathError
from mailboxes.handlers import check_home
from provisioning.archives import mailhost_of, relative_maildir, scan
from provisioning.handlers import register
from provisioning.models import Archive, Job


def _base() -> Path:
    return Path(settings.MAILADMIN_MAIL_BASE)


def _archive(job: Job) -> Archive:
    archive = Archive.objects.filter(pk=int(job.payload["archive"])).first()
    if archive is None:
        raise MaildirConflictError(f"archive #{job.payload['archive']} is no longer listed.")
    if archive.mailhost != mailhost_of(job):
        raise MaildirConflictError(
            f"archive #{archive.pk} lies on the storage host {archive.mailhost or 'default'},"
            f" not on the one of this queue ({job.queue})."
        )
    return archive


def _set_state(archive: Archive, state: str, **fields: Any) -> None:
    Archive.objects.filter(pk=archive.pk).update(state=state, updated_at=timezone.now(), **fields)


def maildir_restore(job: Job) -> str:
    """Move the archive into the new mailbox's home. Restoring never overwrites mail: the home
    may only be missing or hold the empty Maildir its creation job made; anything with a
    message in it fails the job and changes nothing. A refused restore lists the archive as
    restorable again."""
    try:
        return _restore(job)
    except (MaildirConflictError, UnsafePathError):
        archive = Archive.objects.filter(pk=int(job.payload["archive"])).first()
        if archive is not None and archive.state == Archive.State.RESTORING:
            source = maildir.safe_path(_base(), archive.path)
            if source.is_dir():
                _set_state(archive, Archive.State.PRESENT, restored_to="")
        raise


def _restore(job: Job) -> str:
    p = job.payload
    base = _base()
    address, homedir, box = job.object_id, p["homedir"], p["maildir"]
    uid, gid = int(p["uid"]), int(p["gid"])
    archive = _archive(job)
    home = maildir.safe_path(base, homedir)
    if archive.state == Archive.State.RESTORED:
        marker = maildir.read_marker(home) if home.exists() else None
        if marker is not None and marker["job"] == job.pk:
            return ""  # restored by an earlier run of this job
        raise MaildirConflictError(f"archive #{archive.pk} was restored already.")
    if archive.state not in (Archive.State.PRESENT, Archive.State.RESTORING):
        raise MaildirConflictError(
            f"archive #{archive.pk} is {archive.state}; nothing was restored."
        )
    source = maildir.safe_path(base, maildir.archive_relative(archive.path))
    check_home(job, p, address=address, homedir=homedir, maildir_path=box)
    if not source.is_dir():
        raise MaildirConflictError(f"{archive.path} is no longer on disk; nothing was changed.")
    maildir.check_can_own(uid)
    old_rel = archive.maildir
    new_rel = relative_maildir(homedir, box)
    if old_rel != new_rel and old_rel != "":
        raise MaildirConflictError(
            f"{archive.path} keeps its Maildir in {old_rel!r}, the new mailbox in {new_rel!r}:"
            " restore it by hand. Nothing was changed."
        )
    if home.exists():
        if maildir.holds_mail(home):
            raise MaildirConflictError(
                f"{homedir} already holds mail: restoring never overwrites a Maildir."
                " Nothing was changed."
            )
        # The empty Maildir of the mailbox's creation: moved aside, checked again (mail may
        # have arrived meanwhile), then removed.
        aside = f"{archive.path}.empty-{job.pk}"
        maildir.move(base, homedir, aside)
        moved = maildir.safe_path(base, aside)
        if maildir.holds_mail(moved):
            maildir.move(base, aside, homedir)
            raise MaildirConflictError(
                f"{homedir} received mail while it was restored: restoring never overwrites a"
                " Maildir. Nothing was changed."
            )
        shutil.rmtree(moved)
    if old_rel == new_rel:
        maildir.move(base, archive.path, homedir)
    else:  # the archived home was its Maildir
        maildir.move(base, archive.path, box.rstrip("/"))
    maildir.own_tree(maildir.safe_path(base, homedir), uid, gid)
    maildir.create_maildir(base, homedir, box, p.get("quota", "0"), uid, gid)
    maildir.set_quota(base, box, p.get("quota", "0"), uid, gid)
    maildir.write_marker(home, job.pk, address, uid, gid)
    _set_state(archive, Archive.State.RESTORED, restored_to=address)
    return f"{address}: the mail of {archive.path} was restored into {homedir}."


def maildir_archive_purge(job: Job) -> str:
    """Delete the archive the row names (inside ``.archive`` only)."""
    archive = _archive(job)
    if archive.state in (Archive.State.PURGED, Archive.State.RESTORED):
        return ""
    removed = maildir.purge_archive(_base(), archive.path)
    _set_state(archive, Archive.State.PURGED)
    return "" if removed else f"{archive.path} was no longer on disk."


def maildir_archive_scan(job: Job) -> str:
    return scan(job, _base())


def register_handlers() -> None:
    register(Job.Kind.MAILDIR_RESTORE, maildir_restore)
    register(Job.Kind.MAILDIR_ARCHIVE_PURGE, maildir_archive_purge)
    register(Job.Kind.MAILDIR_ARCHIVE_SCAN, maildir_archive_scan)
