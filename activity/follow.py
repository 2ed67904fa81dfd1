"""Following a mail log: a file (rotated by rename or by copytruncate) or the journal.

The position after the last line stored is written with the rows of the lines before it
(``Ingestor.flush``), so a follower that stops, crashes or is restarted goes on exactly there.
A log rotated by rename while the follower was stopped is found again by its inode in the same
directory (``mail.log.1``) and read to its end before the new file.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from activity.ingest import BEYOND_BMP, Ingestor

log = logging.getLogger("mailadmin.activity")

CHUNK = 1 << 20


class FileFollower:
    """Reads ``path`` line by line into ``ingestor`` and follows it across rotations."""

    def __init__(
        self,
        path: Path,
        ingestor: Ingestor,
        *,
        batch_lines: int = 5000,
        from_end: bool = False,
        rotate_grace: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.rotate_grace = rotate_grace
        self.quiet_since = 0.0
        self.ingestor = ingestor
        self.batch_lines = batch_lines
        self.from_end = from_end
        self.file: BinaryIO | None = None
        self.inode = 0
        self.offset = 0  # after the last complete line read
        self.rest = b""

    # --- opening -----------------------------------------------------------------------
    def _open(self, path: Path, offset: int) -> None:
        self.close()
        self.file = path.open("rb")
        self.inode = os.fstat(self.file.fileno()).st_ino
        self.file.seek(offset)
        self.offset = offset
        self.rest = b""
        self.quiet_since = 0.0

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def _rotated_copy(self, inode: int) -> Path | None:
        """The file of the same directory with ``inode``: the log as it was renamed."""
        directory = self.path.parent
        for candidate in sorted(directory.glob(self.path.name + "*")):
            try:
                if candidate.is_file() and candidate.stat().st_ino == inode:
                    return candidate
            except OSError:
                continue
        return None

    def resume(self) -> None:
        """Open the log where the stored position says, after what a rotation left behind."""
        position = self.ingestor.position
        try:
            current = self.path.stat()
        except FileNotFoundError:
            current = None
        if position.inode and current is not None and position.inode == current.st_ino:
            if current.st_size >= position.offset:
                self._open(self.path, position.offset)
            else:  # truncated (copytruncate) while we were stopped
                self._open(self.path, 0)
            return
        if position.inode:
            old = self._rotated_copy(position.inode)
            if old is not None:
                log.info("reading the rest of %s (rotated) from %s", old, position.offset)
                self._open(old, min(position.offset, old.stat().st_size))
                self.read_available()
                self.flush()
            else:
                log.warning(
                    "%s was rotated and its old file is gone: lines after offset %s are lost",
                    self.path,
                    position.offset,
                )
        if current is None:
            self.close()
            return
        self._open(self.path, current.st_size if self.from_end and not position.inode else 0)

    # --- reading -----------------------------------------------------------------------
    def read_available(self) -> int:
        """Read and store every complete line there is now; the number of lines."""
        if self.file is None:
            return 0
        count = 0
        ingestor = self.ingestor
        while True:
            chunk = self.file.read(CHUNK)
            if not chunk:
                return count
            data = self.rest + chunk
            end = data.rfind(b"\n")
            if end < 0:
                self.rest = data
                continue
            self.rest = data[end + 1 :]
            lines = data[:end].split(b"\n")
            start_offset = self.offset
            consumed = 0
            for line in lines:
                consumed += len(line) + 1
                ingestor.feed(line.decode("utf-8", "replace"))
                count += 1
                if ingestor.pending >= self.batch_lines:
                    self.offset = start_offset + consumed
                    self.flush()
            self.offset = start_offset + consumed

    def flush(self) -> None:
        self.ingestor.flush(inode=self.inode, offset=self.offset)

    def check_rotation(self) -> bool:
        """Follow a rename (a new file at the path) or a truncation; True when either happened."""
        try:
            current = self.path.stat()
        except FileNotFoundError:
            return False  # renamed, the new one not created yet: the old one may still grow
        if self.file is None:
            self._open(self.path, 0)
            return True
        if current.st_ino != self.inode:
            # logrotate creates the new file before the syslog daemon reopens its log: the old
            # file may still get lines for a moment. Switch once it has been quiet that long.
            now = time.monotonic()
            if self.read_available() or not self.quiet_since:
                self.quiet_since = now
            if now - self.quiet_since < self.rotate_grace:
                return False
            if self.ingestor.pending:
                self.flush()
            self._open(self.path, 0)
            return True
        if current.st_size < self.offset:
            if self.ingestor.pending:
                self.flush()
            self._open(self.path, 0)
            return True
        return False

    def poll(self) -> int:
        """One round: new lines, rotation, and a write of what was read (at the end of what
        the file holds: batches are as large as the lines that came since the last round, up
        to ``batch_lines``). The lines read."""
        count = self.read_available()
        if self.check_rotation():
            count += self.read_available()
        if self.ingestor.pending:
            self.flush()
        return count

    def run(self, *, interval: float = 0.5, stop: Callable[[], bool] = lambda: False) -> None:
        self.resume()
        while not stop():
            if self.poll() == 0:
                time.sleep(interval)
        if self.ingestor.pending:
            self.flush()
        self.close()


class JournalFollower:
    """Reads the mail facility of the systemd journal (``journalctl --follow --output=json``)
    from the cursor stored after the last entry."""

    def __init__(
        self,
        ingestor: Ingestor,
        *,
        journalctl: str = "journalctl",
        batch_lines: int = 5000,
        batch_seconds: float = 2.0,
        follow: bool = True,
    ) -> None:
        self.ingestor = ingestor
        self.journalctl = journalctl
        self.batch_lines = batch_lines
        self.batch_seconds = batch_seconds
        self.follow = follow
        self.cursor = ingestor.position.cursor

    def command(self) -> list[str]:
        args = [self.journalctl, "--output=json", "--no-pager", "SYSLOG_FACILITY=2"]
        if self.follow:
            args.append("--follow")
        if self.cursor:
            args.append(f"--after-cursor={self.cursor}")
        else:
            args.append("--lines=all")
        return args

    def feed_entry(self, raw: bytes) -> None:
        import datetime

        ingestor = self.ingestor
        ingestor.pending += 1
        ingestor.stats["lines"] += 1
        try:
            entry = json.loads(raw)
            message = entry.get("MESSAGE", "")
            if isinstance(message, list):  # not valid UTF-8: an array of bytes
                message = bytes(message).decode("utf-8", "replace")
            if not message.isascii():
                message = BEYOND_BMP.sub("\ufffd", message)
            when = datetime.datetime.fromtimestamp(
                int(entry["__REALTIME_TIMESTAMP"]) / 1e6, tz=datetime.UTC
            )
            program = entry.get("SYSLOG_IDENTIFIER", "")
            self.cursor = entry.get("__CURSOR", self.cursor)
        except (ValueError, KeyError, TypeError):
            ingestor.stats["unknown"] += 1
            return
        ingestor.apply(ingestor.parser.parse_message(program, message, when))

    def run(self, *, stop: Callable[[], bool] = lambda: False) -> None:
        process = subprocess.Popen(self.command(), stdout=subprocess.PIPE)  # noqa: S603 - a fixed argument list
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        first = 0.0
        try:
            while not stop():
                ready = selector.select(timeout=0.5)
                if ready:
                    raw = process.stdout.readline()
                    if not raw:
                        break  # journalctl ended (without --follow: at the end)
                    if not first:
                        first = time.monotonic()
                    self.feed_entry(raw)
                pending = self.ingestor.pending
                if pending and (
                    pending >= self.batch_lines
                    or not ready
                    or time.monotonic() - first >= self.batch_seconds
                ):
                    self.ingestor.flush(cursor=self.cursor)
                    first = 0.0
        finally:
            if self.ingestor.pending:
                self.ingestor.flush(cursor=self.cursor)
            process.terminate()
            process.wait(timeout=10)
