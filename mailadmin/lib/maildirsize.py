"""What a Maildir holds: bytes and messages, from its Maildir++ ``maildirsize`` file when that
is valid, else by walking its folders (docs/disk-usage.md).

``maildirsize`` (written by maildrop, Courier's deliverquota and Dovecot's Maildir++ quota) is
a quota line (``10485760S,1000C``) followed by lines of ``<bytes> <messages>`` whose sums are
the Maildir's use. It is trusted only when every line parses, the sums are not negative, the
file is not larger than :data:`MAX_MAILDIRSIZE_BYTES`, and it is not a bare quota line in
front of a Maildir that holds mail (a file no deliverer keeps up to date).

The walk looks only where Maildir++ keeps messages: ``cur/`` and ``new/`` of the Maildir and of
its folders (``.Name`` directly below it). No symbolic link is followed or counted, nothing
deeper is entered, and a message's size is read from its name (``,S=<bytes>``) when it carries
one, as the quota code of maildrop and Dovecot does.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

#: A larger file is not read (the Maildir++ specification has deliverers rewrite it past 5 KiB).
MAX_MAILDIRSIZE_BYTES = 64 * 1024
MAILDIRSIZE = "maildirsize"
FROM_FILE = "maildirsize"
FROM_WALK = "walk"

_QUOTA_PART = re.compile(r"^\d+[SC]$")
_SIZE_IN_NAME = re.compile(r",S=(\d+)")


@dataclass(frozen=True)
class Measurement:
    bytes: int
    messages: int
    #: :data:`FROM_FILE` or :data:`FROM_WALK`.
    source: str


def _valid_quota_line(line: str) -> bool:
    line = line.strip()
    return line in ("", "0") or all(_QUOTA_PART.match(part) for part in line.split(","))


def parse_maildirsize(content: bytes) -> tuple[int, int, int] | None:
    """``(bytes, messages, size lines)`` of a ``maildirsize`` content, or None when it is not
    valid (then the Maildir has to be walked)."""
    try:
        text = content.decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = text.split("\n")
    if not _valid_quota_line(lines[0]):
        return None
    used = messages = counted = 0
    for line in lines[1:]:
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            return None
        try:
            used += int(parts[0])
            messages += int(parts[1])
        except ValueError:
            return None
        counted += 1
    if used < 0 or messages < 0:
        return None
    return used, messages, counted


def _is_dir(entry: os.DirEntry) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _any_message(box: Path) -> bool:
    for sub in ("cur", "new"):
        try:
            with os.scandir(box / sub) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        return True
        except (FileNotFoundError, NotADirectoryError):
            continue
    return False


def _count(directory: str) -> tuple[int, int]:
    used = messages = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if not entry.is_file(follow_symlinks=False):
                    continue  # links, sub-directories, sockets: not messages
                found = _SIZE_IN_NAME.search(entry.name)
                if found:
                    used += int(found.group(1))
                else:
                    try:
                        used += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue  # expunged meanwhile
                messages += 1
    except (FileNotFoundError, NotADirectoryError):
        pass
    return used, messages


def walk(box: Path) -> tuple[int, int]:
    """``(bytes, messages)`` of the messages in ``cur/`` and ``new/`` of the Maildir ``box``
    and of its ``.Folder`` folders."""
    folders = [str(box)]
    with os.scandir(box) as entries:
        for entry in entries:
            if entry.name.startswith(".") and entry.name not in (".", "..") and _is_dir(entry):
                folders.append(entry.path)
    used = messages = 0
    for folder in folders:
        for sub in ("cur", "new"):
            more_bytes, more_messages = _count(os.path.join(folder, sub))
            used += more_bytes
            messages += more_messages
    return used, messages


def measure(box: Path) -> Measurement | None:
    """What the Maildir ``box`` holds, or None when there is no Maildir there. ``box`` must be
    a checked path (``mailadmin.lib.maildir.safe_path``): it is not followed if it is a link."""
    try:
        mode = os.lstat(box).st_mode
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(mode):
        return None
    sizefile = box / MAILDIRSIZE
    try:
        info = os.lstat(sizefile)
    except FileNotFoundError:
        info = None
    if info is not None and stat.S_ISREG(info.st_mode) and info.st_size <= MAX_MAILDIRSIZE_BYTES:
        try:
            fd = os.open(sizefile, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as handle:
                parsed = parse_maildirsize(handle.read(MAX_MAILDIRSIZE_BYTES + 1))
        except OSError:
            parsed = None
        if parsed is not None:
            used, messages, counted = parsed
            if counted or not _any_message(box):
                return Measurement(used, messages, FROM_FILE)
    used, messages = walk(box)
    return Measurement(used, messages, FROM_WALK)
