"""Maildir++ work on the mail store, confined to the mail base (SPEC §4.2, EXTMAIL.md).

Every operation is idempotent: run twice, or again after a crash half-way, it ends in the same
state. Paths come from the database (relative to the mail base) and are checked component by
component: no absolute paths, no ``..``, and no symbolic link anywhere below the mail base is
ever followed, so a planted link cannot lead a job out of it.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

STANDARD_FOLDERS = (".Sent", ".Drafts", ".Trash", ".Junk")
ARCHIVE_DIR = ".archive"
#: The file in a home directory that names the job that created it (see :func:`write_marker`).
MARKER = "mailadmin-owner"
#: At most this many entries are looked at to tell leftover mail from new mail.
SCAN_LIMIT = 10_000
DIR_MODE = 0o700
FILE_MODE = 0o600


class UnsafePathError(ValueError):
    """A stored path that would leave the mail base or pass through a symbolic link."""


class OwnershipError(PermissionError):
    """The worker's user cannot own files for the mailbox's uid."""


class MaildirConflictError(RuntimeError):
    """The disk is in a state the job cannot settle by itself (e.g. both old and new exist)."""


class NotOwnHomeError(UnsafePathError):
    """A home directory that is not its mailbox's alone (another domain's directory, the
    domain directory itself, or one that holds other mailboxes' mail)."""


def safe_path(base: Path, relative: str) -> Path:
    """``base / relative`` after checking that it stays inside ``base`` without links.

    Components that do not exist yet are fine; existing ones must be real directories or
    files, never symbolic links.
    """
    if not relative or "\x00" in relative:
        raise UnsafePathError(f"empty or invalid path {relative!r}")
    if relative.startswith("/") or relative.startswith("\\"):
        raise UnsafePathError(
            f"absolute path {relative!r} refused: paths are relative to the mail base"
        )
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if not parts or any(part == ".." for part in parts):
        raise UnsafePathError(f"path {relative!r} refused: it would leave the mail base")
    base = Path(os.path.abspath(base))
    _refuse_link(base)
    current = base
    for part in parts:
        current = current / part
        _refuse_link(current)
    return current


def _refuse_link(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise UnsafePathError(f"{path} is a symbolic link; refusing to follow it")


def _makedirs(base: Path, path: Path, uid: int, gid: int) -> None:
    """Create ``path`` and its missing parents below ``base`` with mode 0700, owned by uid/gid."""
    missing = []
    current = path
    while current != base and not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
        _refuse_link(directory)
        _own(directory, uid, gid)


def check_can_own(uid: int) -> None:
    """A worker running as the mail storage user can only give files to its own uid; anything
    else would leave files the mail server cannot write, so it is refused, with the remedy,
    before anything is created."""
    if os.geteuid() != 0 and os.geteuid() != uid:
        raise OwnershipError(
            f"this worker runs as uid {os.geteuid()} and cannot give files to uid {uid}:"
            f" run the storage worker as uid {uid} (the mail storage user) or as root"
        )


def _own(path: Path, uid: int, gid: int) -> None:
    check_can_own(uid)
    os.chown(path, uid, gid, follow_symlinks=False)


def _write_atomically(path: Path, content: str, uid: int, gid: int, *, sync: bool = True) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".mailadmin-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(content)
            handle.flush()
            if sync:
                os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        _own(Path(tmp), uid, gid)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def create_maildir(base: Path, homedir: str, maildir: str, quota: str, uid: int, gid: int) -> None:
    """Home directory, Maildir with cur/new/tmp, the standard folders, and ``maildirsize``.

    Existing content is never touched: an existing ``maildirsize`` keeps its lines.
    """
    home = safe_path(base, homedir)
    box = safe_path(base, maildir)
    if home != box and home not in box.parents:
        raise UnsafePathError(f"maildir {maildir!r} is not inside homedir {homedir!r}")
    check_can_own(uid)
    _makedirs(Path(os.path.abspath(base)), home, uid, gid)
    for folder in ("", *STANDARD_FOLDERS):
        directory = box / folder if folder else box
        for sub in ("cur", "new", "tmp"):
            _makedirs(home, directory / sub, uid, gid)
        if folder:
            marker = directory / "maildirfolder"
            _refuse_link(marker)
            if not marker.exists():
                marker.touch(mode=FILE_MODE)
                _own(marker, uid, gid)
    sizefile = box / "maildirsize"
    _refuse_link(sizefile)
    if not sizefile.exists():
        _write_atomically(sizefile, f"{quota}\n", uid, gid)


def set_quota(base: Path, maildir: str, quota: str, uid: int, gid: int) -> None:
    """Replace the first line of ``maildirsize`` (keeping the size lines) so that maildrop
    and Dovecot enforce the new quota at once."""
    box = safe_path(base, maildir)
    if not box.is_dir():
        raise MaildirConflictError(f"{box} does not exist; create the Maildir first")
    sizefile = box / "maildirsize"
    _refuse_link(sizefile)
    rest = ""
    if sizefile.exists():
        _, _, rest = sizefile.read_text(encoding="ascii", errors="replace").partition("\n")
    _write_atomically(sizefile, f"{quota}\n{rest}", uid, gid)


def read_quota_line(base: Path, maildir: str) -> str:
    sizefile = safe_path(base, maildir) / "maildirsize"
    _refuse_link(sizefile)
    return sizefile.read_text(encoding="ascii").partition("\n")[0]


def move(base: Path, old: str, new: str) -> None:
    """Move a home (or a domain) directory; done already when only the new one exists."""
    source = safe_path(base, old)
    target = safe_path(base, new)
    if target == source or target in source.parents or source in target.parents:
        raise UnsafePathError(f"cannot move {old!r} into or onto itself ({new!r})")
    if not source.exists():
        if target.exists():
            return  # moved by an earlier run
        raise MaildirConflictError(f"neither {source} nor {target} exists")
    if target.exists():
        raise MaildirConflictError(f"both {source} and {target} exist; resolve by hand")
    target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    safe_path(base, new)  # the parents just made are checked again
    os.rename(source, target)


def archive_path(homedir: str, when: datetime.datetime) -> str:
    """Where ``homedir`` is moved aside: ``.archive/<homedir>.<YYYYmmddTHHMMSS>``."""
    return f"{ARCHIVE_DIR}/{homedir.strip('/')}.{when:%Y%m%dT%H%M%S}"


def archive(base: Path, homedir: str, target: str) -> None:
    """Move a home directory aside into the archive (``target`` from :func:`archive_path`,
    fixed when the job was recorded so that a re-run finds its own earlier result)."""
    safe_path(base, target)
    if not safe_path(base, homedir).exists():
        return  # archived by an earlier run, or never created: nothing to do
    move(base, homedir, target)


def purge(base: Path, homedir: str) -> None:
    """Delete a home directory and everything in it (links inside are removed, not followed)."""
    home = safe_path(base, homedir)
    if not home.exists():
        return
    if not home.is_dir():
        raise MaildirConflictError(f"{home} is not a directory")
    shutil.rmtree(home)


# --- whose directory is it ---------------------------------------------------------------------
def write_marker(home: Path, job_id: int, address: str, uid: int, gid: int) -> None:
    """Record in ``home`` which job created it, for whom: a later archive, purge or move acts
    only on a home created before it was recorded (job ids grow with time)."""
    marker = home / MARKER
    _refuse_link(marker)
    content = json.dumps({"job": job_id, "address": address}, ensure_ascii=True) + "\n"
    # Not synced: after a crash an empty marker reads as none, which is what a home made by
    # ExtMan has, and the job that wrote it runs again.
    _write_atomically(marker, content, uid, gid, sync=False)


def read_marker(home: Path) -> dict | None:
    """The marker of ``home`` (``{"job": id, "address": ...}``), or None when there is none
    (a home made by ExtMan, by the mail server, or by hand) or it cannot be read."""
    marker = home / MARKER
    try:
        if os.path.islink(marker):
            return None
        data = json.loads(marker.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("job"), int) else None


def created_after(home: Path, job_id: int) -> int | None:
    """The id of the job that created ``home`` when it was recorded after job ``job_id``
    (the home belongs to a newer mailbox of the same address); else None."""
    marker = read_marker(home)
    if marker is not None and marker["job"] > job_id:
        return marker["job"]
    return None


def holds_anything_older(home: Path, when: datetime.datetime) -> bool:
    """Whether anything in ``home`` (the directory itself excluded) was last changed before
    ``when``: mail of an earlier owner, as opposed to mail the server delivered after the
    mailbox was created. Links are not followed; beyond :data:`SCAN_LIMIT` entries the answer
    is yes (a home that large did not appear in minutes)."""
    limit = when.timestamp()
    seen = 0
    for root, dirs, files in os.walk(home, followlinks=False):
        for name in (*dirs, *files):
            seen += 1
            if seen > SCAN_LIMIT:
                return True
            try:
                if os.lstat(os.path.join(root, name)).st_mtime < limit:
                    return True
            except FileNotFoundError:
                continue
    return False


def leftover_path(homedir: str, when: datetime.datetime, job_id: int) -> str:
    """Where mail found in the way of a new mailbox is moved aside:
    ``.archive/<homedir>.<YYYYmmddTHHMMSS>.leftover-<job>``."""
    return f"{archive_path(homedir, when)}.leftover-{job_id}"


# --- archives ----------------------------------------------------------------------------------
#: The name of an archived home: ``<name>.<YYYYmmddTHHMMSS>``, a leftover's with
#: ``.leftover-<job>`` after it (see :func:`archive_path`, :func:`leftover_path`).
ARCHIVE_NAME = re.compile(r"^(?P<name>.+)\.(?P<when>\d{8}T\d{6})(?:\.leftover-(?P<job>\d+))?$")
#: How deep below ``.archive`` a scan looks for archives (an ISP-layout home has 4 levels).
SCAN_DEPTH = 8


def archive_relative(relative: str) -> str:
    """``relative`` when it names a directory strictly inside the archive directory, with no
    ``..``; raises :class:`UnsafePathError` otherwise (a purge or restore acts on nothing
    else)."""
    parts = [part for part in (relative or "").split("/") if part not in ("", ".")]
    if (
        relative.startswith(("/", "\\"))
        or len(parts) < 2
        or parts[0] != ARCHIVE_DIR
        or ".." in parts
        or not ARCHIVE_NAME.match(parts[-1])
    ):
        raise UnsafePathError(f"{relative!r} is not an archive inside {ARCHIVE_DIR}/")
    return "/".join(parts)


def tree_size(path: Path) -> int:
    """Bytes of the files below ``path`` (links are counted, not followed)."""
    total = 0
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in (*dirs, *files):
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def holds_mail(home: Path) -> bool:
    """Whether any ``cur`` or ``new`` directory below ``home`` holds a message."""
    for root, dirs, files in os.walk(home, followlinks=False):
        if files and os.path.basename(root) in ("cur", "new"):
            return True
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]
    return False


def own_tree(path: Path, uid: int, gid: int) -> None:
    """Give every file and directory below ``path`` (and itself) to uid/gid; links are
    changed themselves, never followed."""
    check_can_own(uid)
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in (*dirs, *files):
            entry = os.path.join(root, name)
            info = os.lstat(entry)
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.chown(entry, uid, gid, follow_symlinks=False)
    info = os.lstat(path)
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid, follow_symlinks=False)


def find_archives(base: Path) -> list[tuple[str, re.Match[str]]]:
    """``(relative path, name match)`` of every archive below ``<base>/.archive``."""
    found: list[tuple[str, re.Match[str]]] = []
    top = safe_path(base, ARCHIVE_DIR)
    if not top.is_dir():
        return found
    for root, dirs, _files in os.walk(top, followlinks=False):
        depth = len(Path(root).relative_to(top).parts)
        keep = []
        for name in sorted(dirs):
            if os.path.islink(os.path.join(root, name)):
                continue
            match = ARCHIVE_NAME.match(name)
            if match:
                found.append((str(Path(root, name).relative_to(base)), match))
            elif depth < SCAN_DEPTH:
                keep.append(name)
        dirs[:] = keep
    return found


def purge_archive(base: Path, relative: str) -> bool:
    """Delete one archive (``relative`` as :func:`archive_relative` accepts it) and the
    directories above it inside ``.archive`` that it leaves empty; False when it was gone."""
    target = safe_path(base, archive_relative(relative))
    if not target.exists():
        return False
    if not target.is_dir():
        raise MaildirConflictError(f"{target} is not a directory")
    shutil.rmtree(target)
    top = safe_path(base, ARCHIVE_DIR)
    parent = target.parent
    while parent != top and top in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break  # not empty: other archives live there
        parent = parent.parent
    return True
