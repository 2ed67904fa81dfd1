"""The Maildir jobs (``maildir.*``), registered with the provisioning runner.

Every handler is idempotent and trusts nothing it was given: before it creates over, changes,
moves, archives or deletes a directory it checks that the directory is the mailbox's own
(``mailboxes.homes``), and a destructive or moving job acts only on a home created before it
was recorded (the home's marker names the job that created it). Paths stay confined to the
mail base by ``mailadmin.lib.maildir``.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from domains.models import Domain
from mailadmin.lib import maildir
from mailadmin.lib.maildir import MaildirConflictError, NotOwnHomeError
from mailboxes.homes import home_problem
from provisioning.archives import record_archive
from provisioning.handlers import register
from provisioning.models import Archive, Job

#: Mail changed this long before a creation was recorded is an earlier owner's (clock skew
#: between the panel and the storage host is allowed for).
LEFTOVER_SLACK = datetime.timedelta(seconds=60)


def _base() -> Path:
    return Path(settings.MAILADMIN_MAIL_BASE)


def _hashdirpath(payload: dict[str, Any], domain: str) -> str:
    if "hashdirpath" in payload:
        return payload["hashdirpath"] or ""
    # Jobs recorded before the payload carried it.
    stored = Domain.objects.filter(pk=domain).values_list("hashdirpath", flat=True).first()
    return stored or ""


def check_home(
    job: Job,
    payload: dict[str, Any],
    *,
    address: str,
    homedir: str,
    maildir_path: str,
    others: bool = True,
    also_excluded: tuple[str, ...] = (),
) -> None:
    """Raise :class:`NotOwnHomeError` when ``homedir`` is not the mailbox's own."""
    domain = payload.get("domain") or job.domain
    problem = home_problem(
        address=address,
        domain=domain,
        hashdirpath=_hashdirpath(payload, domain),
        homedir=homedir,
        maildir=maildir_path,
        others=others,
        also_excluded=also_excluded,
    )
    if problem:
        raise NotOwnHomeError(f"{address}: {problem} Nothing was changed on disk.")


def _owner(path: Path, payload: dict[str, Any]) -> tuple[int, int]:
    """uid/gid from the payload, or (jobs recorded without them) from the directory itself."""
    if "uid" in payload and "gid" in payload:
        return int(payload["uid"]), int(payload["gid"])
    info = os.stat(path, follow_symlinks=False)
    return info.st_uid, info.st_gid


# --- create -------------------------------------------------------------------------------------
def create_one(job: Job, p: dict[str, Any], address: str) -> str:
    """Create one mailbox's Maildir; returns a note when the home was already there."""
    base = _base()
    homedir, box = p["homedir"], p["maildir"]
    uid, gid = int(p["uid"]), int(p["gid"])
    home = maildir.safe_path(base, homedir)
    note = ""
    adopted = False
    if home.exists():
        marker = maildir.read_marker(home)
        if marker is None or marker["job"] != job.pk:
            # Someone's directory is in the way: make sure no other mailbox's mail is in it.
            check_home(job, p, address=address, homedir=homedir, maildir_path=box)
            recorded = timezone.localtime(job.created_at)
            if marker is not None or maildir.holds_anything_older(home, recorded - LEFTOVER_SLACK):
                target = maildir.leftover_path(homedir, recorded, job.pk)
                maildir.move(base, homedir, target)
                record_archive(
                    job,
                    base,
                    path=target,
                    homedir=homedir,
                    maildir_path=box,
                    address=str(marker.get("address") or address) if marker else address,
                    domain=p.get("domain") or job.domain,
                    kind=Archive.Kind.LEFTOVER,
                )
                note = (
                    f"{address}: mail left at {homedir} by an earlier mailbox was moved aside"
                    f" to {target}; the new mailbox starts empty."
                )
            else:
                adopted = True
                note = (
                    f"{address}: {homedir} already held mail delivered after the mailbox was"
                    " created; it was kept and completed."
                )
    else:
        check_home(job, p, address=address, homedir=homedir, maildir_path=box, others=False)
    maildir.create_maildir(base, homedir, box, p.get("quota", "0"), uid, gid)
    maildir.write_marker(home, job.pk, address, uid, gid)
    if adopted:
        maildir.set_quota(base, box, p.get("quota", "0"), uid, gid)
    return note


def maildir_create(job: Job) -> str:
    return create_one(job, job.payload, job.object_id)


def maildir_create_batch(job: Job) -> str:
    """The Maildirs of an import, one after the other; each creation is idempotent, so a
    retried job redoes nothing that an earlier run finished. A mailbox whose home is not its
    own is left out and named in the job's error, after all the others were made."""
    notes, refused = each_home(lambda p: create_one(job, p, p["address"]), job.payload["mailboxes"])
    if refused:
        raise NotOwnHomeError(" ".join(refused + notes))
    return " ".join(notes)


def each_home(work: Callable[[Any], str], items: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Do ``work`` for each of ``items`` (one mailbox's home each), going on past a home that
    is not its mailbox's own: ``(notes, refusals)`` for the job to report at the end."""
    notes: list[str] = []
    refused: list[str] = []
    for item in items:
        try:
            note = work(item)
        except NotOwnHomeError as exc:
            refused.append(str(exc))
            continue
        if note:
            notes.append(note)
    return notes, refused


# --- quota --------------------------------------------------------------------------------------
def maildir_quota(job: Job) -> None:
    p = job.payload
    base = _base()
    check_home(
        job,
        p,
        address=job.object_id,
        homedir=p.get("homedir") or p["maildir"],
        maildir_path=p["maildir"],
    )
    box = maildir.safe_path(base, p["maildir"])
    if not box.is_dir():
        raise MaildirConflictError(f"{box} does not exist; create the Maildir first")
    uid, gid = _owner(box, p)
    maildir.set_quota(base, p["maildir"], p["quota"], uid, gid)


# --- move, archive, purge -----------------------------------------------------------------------
def _refuse_newer(job: Job, home: Path) -> None:
    newer = maildir.created_after(home, job.pk)
    if newer is not None:
        raise MaildirConflictError(
            f"{home} was created by job #{newer}, recorded after this one: it belongs to a"
            " newer mailbox and was left alone."
        )


def maildir_move(job: Job) -> None:
    """A rename's move. The old address may already belong to a new mailbox whose creation
    waits for this move: both addresses are this mailbox's for the check."""
    p = job.payload
    base = _base()
    old_address = p.get("old_address", "")
    for homedir, box in (
        (p["old_homedir"], p.get("old_maildir")),
        (p["new_homedir"], p.get("new_maildir")),
    ):
        check_home(
            job,
            p,
            address=job.object_id,
            homedir=homedir,
            maildir_path=box or homedir,
            also_excluded=(old_address,) if old_address else (),
        )
    source = maildir.safe_path(base, p["old_homedir"])
    if source.exists():
        _refuse_newer(job, source)
    maildir.move(base, p["old_homedir"], p["new_homedir"])
    target = maildir.safe_path(base, p["new_homedir"])
    marker = maildir.read_marker(target)
    if marker is not None and marker.get("address") != job.object_id:
        uid, gid = _owner(target, p)
        maildir.write_marker(target, marker["job"], job.object_id, uid, gid)


def _archive_target(job: Job, homedir: str) -> str:
    # Fixed by the job's creation time, so that a retry finds what an earlier run did.
    return maildir.archive_path(homedir, timezone.localtime(job.created_at))


def remove_home(
    job: Job, p: dict[str, Any], address: str, *, purge: bool, others: bool = True
) -> str:
    """Archive (or delete) one mailbox's home; a note when there was nothing to do.
    ``others=False``: the caller has checked the other mailboxes already."""
    base = _base()
    homedir = p["homedir"]
    check_home(
        job,
        p,
        address=address,
        homedir=homedir,
        maildir_path=p.get("maildir") or homedir,
        others=others,
    )
    home = maildir.safe_path(base, homedir)
    target = _archive_target(job, homedir)
    if not home.exists():
        if not purge and maildir.safe_path(base, target).exists():
            _record(job, base, p, address, target)  # moved by an earlier run of this job
        return ""
    newer = maildir.created_after(home, job.pk)
    if newer is not None:
        return (
            f"{address}: {homedir} belongs to a newer mailbox (created by job #{newer}) and was"
            " left alone."
        )
    if purge:
        maildir.purge(base, homedir)
    else:
        maildir.archive(base, homedir, target)
        _record(job, base, p, address, target)
    return ""


def _record(job: Job, base: Path, p: dict[str, Any], address: str, target: str) -> None:
    """The archive in the table, for the archives page (the web host may not see this disk)."""
    record_archive(
        job,
        base,
        path=target,
        homedir=p["homedir"],
        maildir_path=p.get("maildir") or p["homedir"],
        address=address if "@" in address else "",
        domain=p.get("domain") or job.domain,
    )


def maildir_archive(job: Job) -> str:
    return remove_home(job, job.payload, job.object_id, purge=False)


def maildir_purge(job: Job) -> str:
    return remove_home(job, job.payload, job.object_id, purge=True)


def register_handlers() -> None:
    register(Job.Kind.MAILDIR_CREATE, maildir_create)
    register(Job.Kind.MAILDIR_CREATE_BATCH, maildir_create_batch)
    register(Job.Kind.MAILDIR_QUOTA, maildir_quota)
    register(Job.Kind.MAILDIR_MOVE, maildir_move)
    register(Job.Kind.MAILDIR_ARCHIVE, maildir_archive)
    register(Job.Kind.MAILDIR_PURGE, maildir_purge)
