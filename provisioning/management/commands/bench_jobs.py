"""``manage.py bench_jobs``: how fast mailboxes and their Maildirs are created.

Creates ``--count`` mailboxes (10,000 by default) in a scratch domain through the same service
an import uses (validation, limits under the domain lock, audit, job rows), in one
transaction, then measures how the Maildir jobs are carried out:

- without a broker (``CELERY_BROKER_URL`` unset), the jobs run in this process after the
  commit, exactly as one worker runs them (claim, handler, finish): the figure is what one
  worker process does per second, on a temporary mail base;
- with a broker, the jobs are sent to the running workers and the command waits until all
  are done: start one storage worker first to measure "one worker".

With ``--import`` the mailboxes are made as a CSV import makes them
(:func:`mailboxes.bulk.mailbox_import`: the whole batch checked at once, rows and audit
entries inserted in bulk, one ``maildir.create_batch`` job per 500 Maildirs), the path SPEC
§7.1 measures.

The scratch domain, its rows and jobs are removed at the end (and before, after a run that
was interrupted). Run it against a scratch database.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test.utils import override_settings

from accounts.models import Manager
from audit.models import AuditEntry
from domains.models import Domain
from mailboxes.bulk import mailbox_import
from mailboxes.models import Mailbox
from mailboxes.services import MAILDIR_BATCH_SIZE, mailbox_create
from provisioning.models import Job

DOMAIN = "jobs.bench.test"
PASSWORD = "Bench-Password-9"  # noqa: S105 - scratch mailboxes, deleted at the end


class Command(BaseCommand):
    help = "Create mailboxes with their Maildirs and print how many per second one worker makes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=10_000)
        parser.add_argument(
            "--import",
            dest="bulk",
            action="store_true",
            help="create the mailboxes as a CSV import does (one call for the whole batch)",
        )
        parser.add_argument(
            "--timeout", type=float, default=600, help="seconds to wait for the workers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if count < 1:
            raise CommandError("--count must be at least 1")
        inline = bool(settings.CELERY_TASK_ALWAYS_EAGER)
        # One log line per job would be most of what this command prints.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        self.cleanup()
        with tempfile.TemporaryDirectory(prefix="mailadmin-bench-") as scratch:
            base = Path(scratch) if inline else settings.MAILADMIN_MAIL_BASE
            with override_settings(MAILADMIN_MAIL_BASE=base):
                try:
                    self.run(count, inline, options["timeout"], bulk=options["bulk"])
                    if inline:
                        made = sum(1 for _ in (base / DOMAIN).glob("*/Maildir/maildirsize"))
                        self.stdout.write(f"Maildirs on disk: {made}")
                finally:
                    self.cleanup()

    def run(self, count: int, inline: bool, timeout: float, *, bulk: bool = False) -> None:
        # A user limit, as most domains have: every creation counts the domain's mailboxes
        # under its row lock.
        Domain.objects.create(
            domain=DOMAIN, description="benchmark", maxusers=count, maxalias=0, maxquota="0"
        )
        actor = Manager(username="bench@localhost", type="admin")
        started = time.perf_counter()
        with transaction.atomic():
            if bulk:
                rows = [
                    {"local_part": f"user{n:05d}", "name": f"User {n}", "password": PASSWORD}
                    for n in range(count)
                ]
                mailbox_import(domain=DOMAIN, rows=rows, actor=actor)
            else:
                for n in range(count):
                    mailbox_create(
                        domain=DOMAIN, local_part=f"user{n:05d}", password=PASSWORD, actor=actor
                    )
            recorded = time.perf_counter()
            # Leaving the block commits; inline, the jobs then run here, one after the other.
        committed = time.perf_counter()
        if not inline:
            deadline = time.monotonic() + timeout
            while Job.objects.filter(domain=DOMAIN).exclude(state=Job.State.DONE).exists():
                if Job.objects.filter(domain=DOMAIN, state=Job.State.FAILED).exists():
                    raise CommandError("a job failed: see /jobs/")
                if time.monotonic() > deadline:
                    raise CommandError(f"the workers did not finish within {timeout:.0f}s")
                time.sleep(0.1)
        finished = time.perf_counter()
        done = Job.objects.filter(domain=DOMAIN, state=Job.State.DONE).count()
        jobs = math.ceil(count / MAILDIR_BATCH_SIZE) if bulk else count
        if done != jobs:
            raise CommandError(f"{done} of {jobs} Maildir jobs are done")

        maildir_seconds = finished - recorded
        where = "in this process (one worker)" if inline else "by the running workers"
        how = "import (one batch)" if bulk else "one creation after another"
        self.stdout.write(f"database: {connection.vendor}; mailboxes: {count}; {how}")
        self.stdout.write(
            f"mailbox rows + job rows: {recorded - started:.1f} s"
            f" ({count / (recorded - started):.0f} mailboxes/s)"
        )
        self.stdout.write(
            f"Maildirs {where}: {maildir_seconds:.1f} s ({count / maildir_seconds:.0f} Maildirs/s)"
        )
        if not inline:
            self.stdout.write(f"  of which sending the messages: {committed - recorded:.1f} s")
        self.stdout.write(f"total: {finished - started:.1f} s (SPEC 7.1: under 30 s for 10,000)")

    def cleanup(self) -> None:
        Mailbox.objects.filter(domain_id=DOMAIN).delete()
        Domain.objects.filter(pk=DOMAIN).delete()
        Job.objects.filter(domain=DOMAIN).delete()
        AuditEntry.objects.filter(domain=DOMAIN).delete()
