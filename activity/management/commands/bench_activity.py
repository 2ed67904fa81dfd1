"""``manage.py bench_activity``: how fast the follower stores a mail log, and how fast the
message trace answers with many rows (docs/performance.md, "Mail activity").

Ingestion: writes a generated log shaped like a real Postfix server's (``activity.benchlog``)
and times the follower reading it into the configured database, on one core (CPU time of this
process, and wall time including the database). Trace: seeds ``--rows`` recipient rows (once,
host ``bench-trace``), then times trace searches as a superadmin and as a domain admin.
Run it against a scratch database: ``DATABASE_URL=mysql://.../bench manage.py bench_activity``.
"""

from __future__ import annotations

import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from activity.benchlog import generated_log
from activity.follow import FileFollower
from activity.ingest import Ingestor
from domains.models import Domain

DOMAINS = 50


class Command(BaseCommand):
    help = "Time the mail log follower and the message trace."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--lines", type=int, default=200_000, help="log lines to ingest")
        parser.add_argument(
            "--rows", type=int, default=0, help="recipient rows to seed for the trace (0: none)"
        )
        parser.add_argument("--runs", type=int, default=30, help="searches per trace query")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"database: {connection.vendor}")
        self.ensure_domains()
        if options["lines"]:
            self.bench_ingest(options["lines"])
        if options["rows"]:
            from activity.benchtrace import bench_trace

            for line in bench_trace(options["rows"], options["runs"]):
                self.stdout.write(line)

    def ensure_domains(self) -> None:
        names = [f"d{n:03d}.bench.test" for n in range(DOMAINS)]
        existing = set(Domain.objects.filter(pk__in=names).values_list("pk", flat=True))
        with transaction.atomic():
            for name in names:
                if name not in existing:
                    Domain.objects.create(domain=name, description=f"virtualDomain for {name}")

    def bench_ingest(self, lines: int) -> None:
        with tempfile.TemporaryDirectory() as directory:
            log = Path(directory) / "mail.log"
            with log.open("w") as handle:
                for line in generated_log(lines, domains=DOMAINS):
                    handle.write(line + "\n")
            count = sum(1 for _ in log.open())
            host = f"bench-{int(time.time())}"
            ingestor = Ingestor(host=host, source=str(log))
            follower = FileFollower(log, ingestor, batch_lines=5000)
            follower.resume()
            wall = time.perf_counter()
            cpu = time.process_time()
            follower.read_available()
            follower.flush()
            cpu = time.process_time() - cpu
            wall = time.perf_counter() - wall
            follower.close()
        stats = ingestor.stats
        self.stdout.write(
            f"ingestion: {count:,} lines ({stats['events']:,} events, {stats['skipped']:,}"
            f" skipped, {stats['unknown']:,} unknown) in {wall:.2f} s wall, {cpu:.2f} s CPU"
        )
        self.stdout.write(
            f"ingestion: {count / cpu:,.0f} lines/s on one core (CPU time),"
            f" {count / wall:,.0f} lines/s wall (with the database)"
        )
        self.stdout.write(f"rows stored under host {host}; started {datetime.datetime.now()}")
