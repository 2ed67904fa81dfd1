"""The domain-directory jobs (``domain.*``), registered with the provisioning runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from mailadmin.lib import maildir
from mailadmin.lib.maildir import NotOwnHomeError
from mailboxes.handlers import each_home, remove_home
from mailboxes.homes import NAMED, domain_directory, foreign_paths, segments, shares_with
from provisioning.handlers import register
from provisioning.models import Job


def _base() -> Path:
    return Path(settings.MAILADMIN_MAIL_BASE)


def _moves(p: dict[str, Any]) -> list[tuple[str, str]]:
    if "moves" in p:
        return [(old, new) for old, new in p["moves"]]
    # Jobs recorded before the payload listed the directories: the hashdirpath layout only.
    prefix = p.get("hashdirpath", "").strip("/")

    def place(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    return [(place(p["old"]), place(p["new"]))]


def domain_move(job: Job) -> str:
    """Move each directory of the domain (``<domain>`` and, for ISP-layout homes,
    ``<hash prefix>/<domain>``) to the new name, unless it holds another domain's mail."""
    p = job.payload
    base = _base()
    for old, new in _moves(p):
        old_parts, new_parts = segments(old), segments(new)
        if (
            old_parts is None
            or new_parts is None
            or old_parts[:-1] != new_parts[:-1]
            or old_parts[-1].lower() != str(p["old"]).lower()
            or new_parts[-1].lower() != str(p["new"]).lower()
        ):
            raise NotOwnHomeError(f"{old} -> {new} is not the move of a domain directory.")
        foreign = sorted({address for address, _path in foreign_paths(old, p["new"])})
        if foreign:
            raise NotOwnHomeError(
                f"{old} holds mail of other domains' mailboxes ({', '.join(foreign[:NAMED])}):"
                " it was not moved. Move their data out first, then retry."
            )
        if not maildir.safe_path(base, old).exists() and not maildir.safe_path(base, new).exists():
            continue  # the domain never had data there on this host
        maildir.move(base, old, new)
    return ""


def domain_archive(job: Job) -> str:
    """Archive every home of the deleted domain's mailboxes; a home that is not its mailbox's
    own is left alone and named in the job's error, after all the others were archived.

    The domain's rows are gone: only other domains' mailboxes can share a home, and they are
    looked up once per domain directory rather than once per home."""
    p = job.payload
    domain = p.get("domain") or job.domain
    hashdirpath = p.get("hashdirpath", "")
    entries = p.get("mailboxes") or [
        {"address": "", "homedir": homedir} for homedir in p.get("homedirs", [])
    ]
    foreign: dict[str, list] = {}

    def archive(entry: dict[str, str]) -> str:
        homedir = entry["homedir"]
        address = entry.get("address") or homedir
        directory = domain_directory(homedir, domain, hashdirpath)
        if directory is not None:
            if directory not in foreign:
                foreign[directory] = foreign_paths(directory, domain)
            shared = shares_with(homedir, foreign[directory])
            if shared:
                raise NotOwnHomeError(
                    f"{address}: {homedir} holds mail of other domains' mailboxes"
                    f" ({', '.join(shared[:NAMED])})."
                )
        one = {
            "domain": domain,
            "hashdirpath": hashdirpath,
            "homedir": homedir,
            "maildir": entry.get("maildir") or homedir,
        }
        return remove_home(job, one, address, purge=False, others=False)

    notes, refused = each_home(archive, entries)
    if refused:
        raise NotOwnHomeError(
            f"{len(entries) - len(refused)} of {len(entries)} homes archived; left on disk: "
            + " ".join(refused)
        )
    return " ".join(notes)


def register_handlers() -> None:
    register(Job.Kind.DOMAIN_MOVE, domain_move)
    register(Job.Kind.DOMAIN_ARCHIVE, domain_archive)
