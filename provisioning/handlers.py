"""What each kind of job does. Handlers are idempotent; paths come from the payload and are
confined to the mail base by mailadmin.lib.maildir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from mailadmin.lib import maildir
from provisioning.models import Job


def _base() -> Path:
    return Path(settings.MAILADMIN_MAIL_BASE)


def maildir_create(job: Job) -> None:
    p = job.payload
    maildir.create_maildir(
        _base(), p["homedir"], p["maildir"], p.get("quota", "0"), int(p["uid"]), int(p["gid"])
    )


def maildir_create_batch(job: Job) -> None:
    """The Maildirs of an import, one after the other; each creation is idempotent, so a
    retried job redoes nothing that an earlier run finished."""
    base = _base()
    for p in job.payload["mailboxes"]:
        maildir.create_maildir(
            base, p["homedir"], p["maildir"], p.get("quota", "0"), int(p["uid"]), int(p["gid"])
        )


def maildir_quota(job: Job) -> None:
    p = job.payload
    maildir.set_quota(_base(), p["maildir"], p["quota"], int(p["uid"]), int(p["gid"]))


def maildir_move(job: Job) -> None:
    p = job.payload
    maildir.move(_base(), p["old_homedir"], p["new_homedir"])


def _archive_target(job: Job, homedir: str) -> str:
    # Fixed by the job's creation time, so that a retry finds what an earlier run did.
    return maildir.archive_path(homedir, timezone.localtime(job.created_at))


def maildir_archive(job: Job) -> None:
    homedir = job.payload["homedir"]
    maildir.archive(_base(), homedir, _archive_target(job, homedir))


def maildir_purge(job: Job) -> None:
    maildir.purge(_base(), job.payload["homedir"])


def domain_move(job: Job) -> None:
    p = job.payload
    prefix = p.get("hashdirpath", "").strip("/")
    old = f"{prefix}/{p['old']}" if prefix else p["old"]
    new = f"{prefix}/{p['new']}" if prefix else p["new"]
    base = _base()
    if not maildir.safe_path(base, old).exists() and not maildir.safe_path(base, new).exists():
        return  # the domain never had data on this host
    maildir.move(base, old, new)


def domain_archive(job: Job) -> None:
    for homedir in job.payload.get("homedirs", []):
        maildir.archive(_base(), homedir, _archive_target(job, homedir))


HANDLERS: dict[str, Callable[[Job], None]] = {
    Job.Kind.MAILDIR_CREATE: maildir_create,
    Job.Kind.MAILDIR_CREATE_BATCH: maildir_create_batch,
    Job.Kind.MAILDIR_QUOTA: maildir_quota,
    Job.Kind.MAILDIR_MOVE: maildir_move,
    Job.Kind.MAILDIR_ARCHIVE: maildir_archive,
    Job.Kind.MAILDIR_PURGE: maildir_purge,
    Job.Kind.DOMAIN_MOVE: domain_move,
    Job.Kind.DOMAIN_ARCHIVE: domain_archive,
}
