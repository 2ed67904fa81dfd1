"""``manage.py follow_maillog``: read the mail log into the activity tables, and go on reading
(docs/activity.md). Run as a service on every mail host (contrib/systemd)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from activity.follow import FileFollower, JournalFollower
from activity.ingest import Ingestor


class Command(BaseCommand):
    help = "Follow the mail log (a file or the journal) into the mail activity tables."

    def add_arguments(self, parser: Any) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--file", help="the mail log, e.g. /var/log/mail.log")
        source.add_argument("--journal", action="store_true", help="the systemd journal")
        parser.add_argument(
            "--host",
            default="",
            help="the name rows are stored under (MAILADMIN_ACTIVITY_HOST, else the host name)",
        )
        parser.add_argument(
            "--from-end",
            action="store_true",
            help="on the very first start, skip what the file holds already",
        )
        parser.add_argument("--once", action="store_true", help="read what there is now, then stop")
        parser.add_argument("--journalctl", default="journalctl", help="journalctl to run (tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"] or settings.MAILADMIN_ACTIVITY_HOST or socket.gethostname()
        stopping = False

        def stop_now(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop_now)
        signal.signal(signal.SIGINT, stop_now)
        batch = {
            "batch_lines": settings.MAILADMIN_ACTIVITY_BATCH_LINES,
            "batch_seconds": float(settings.MAILADMIN_ACTIVITY_BATCH_SECONDS),
        }
        if options["journal"]:
            ingestor = Ingestor(host=host, source="journal")
            JournalFollower(
                ingestor,
                journalctl=options["journalctl"],
                follow=not options["once"],
                **batch,
            ).run(stop=lambda: stopping)
        else:
            path = Path(options["file"])
            if not path.is_absolute():
                raise CommandError("--file: give an absolute path")
            ingestor = Ingestor(host=host, source=str(path))
            follower = FileFollower(
                path,
                ingestor,
                from_end=options["from_end"],
                batch_lines=settings.MAILADMIN_ACTIVITY_BATCH_LINES,
            )
            if options["once"]:
                follower.resume()
                follower.read_available()
                if ingestor.pending:
                    follower.flush()
                follower.close()
            else:
                follower.run(stop=lambda: stopping)
        stats = ingestor.stats
        self.stdout.write(
            f"{stats['lines']} lines: {stats['events']} events, {stats['skipped']} skipped,"
            f" {stats['unknown']} unknown"
        )
