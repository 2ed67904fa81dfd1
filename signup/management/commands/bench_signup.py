"""``manage.py bench_signup``: how long an approved applicant waits for a working mailbox.

For ``--rounds`` applicants (20 by default) on a scratch domain: submit the signup (as the
public form does), approve it (as the queue does), then wait until the Maildir job is done.
Prints the server time of both steps and the job latency: from the approval's commit to the
job's end (SPEC 7.1: under 1 s with a running worker). Without a broker the job runs inline,
inside the approval, and the latency is that of the job itself.

Start a storage worker first (docs/jobs.md) and run it against a scratch database.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test.utils import override_settings

from accounts.models import Manager
from audit.models import AuditEntry
from domains.models import Domain
from mailboxes.models import Mailbox
from provisioning.models import Job
from signup.models import SignupRequest
from signup.services import signup_approve, signup_submit

DOMAIN = "signup.bench.test"
PASSWORD = "Applicant-Password-9"  # noqa: S105 - scratch mailboxes, deleted at the end


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return (
        f"median {statistics.median(ordered) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
        f" max {ordered[-1] * 1000:.0f} ms"
    )


class Command(BaseCommand):
    help = "Time signup -> approval -> Maildir job done (the job latency of SPEC 7.1)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rounds", type=int, default=20)
        parser.add_argument("--timeout", type=float, default=30, help="seconds per job")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["rounds"] < 1:
            raise CommandError("--rounds must be at least 1")
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        inline = bool(settings.CELERY_TASK_ALWAYS_EAGER)
        self.cleanup()
        with tempfile.TemporaryDirectory(prefix="mailadmin-bench-") as scratch:
            base = Path(scratch) if inline else settings.MAILADMIN_MAIL_BASE
            with override_settings(MAILADMIN_MAIL_BASE=base, MAILADMIN_SIGNUP_RATE_LIMIT=1_000_000):
                try:
                    self.run(options["rounds"], options["timeout"], inline)
                finally:
                    self.cleanup()

    def run(self, rounds: int, timeout: float, inline: bool) -> None:
        Domain.objects.create(
            domain=DOMAIN, description="benchmark", maxusers=0, maxalias=0, can_signup=1
        )
        approver = Manager(username="bench@localhost", type="admin")
        submits, approvals, latencies = [], [], []
        for n in range(rounds):
            started = time.perf_counter()
            result = signup_submit(domain=DOMAIN, local_part=f"applicant{n:03d}", password=PASSWORD)
            submitted = time.perf_counter()
            mailbox = signup_approve(signup=result.signup, actor=approver)
            approved = time.perf_counter()
            job = Job.objects.get(object_id=mailbox.username, kind=Job.Kind.MAILDIR_CREATE)
            deadline = time.monotonic() + timeout
            while (state := Job.objects.values_list("state", flat=True).get(pk=job.pk)) not in (
                Job.State.DONE,
                Job.State.FAILED,
            ):
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"job {job.pk} not done after {timeout:.0f}s: is a worker up?"
                    )
                time.sleep(0.005)
            done = time.perf_counter()
            if state == Job.State.FAILED:
                raise CommandError(f"job {job.pk} failed: see /jobs/")
            submits.append(submitted - started)
            approvals.append(approved - submitted)
            # Inline, the job ran inside the approval call (after its commit).
            latencies.append(done - submitted if inline else done - approved)
        where = "inline, inside the approval" if inline else "by the running workers"
        self.stdout.write(f"applicants: {rounds}; jobs run {where}")
        self.stdout.write(f"signup (server): {summary(submits)}")
        self.stdout.write(f"approval (server): {summary(approvals)}")
        self.stdout.write(f"approval -> Maildir ready: {summary(latencies)} (SPEC 7.1: < 1 s)")

    def cleanup(self) -> None:
        SignupRequest.objects.filter(domain=DOMAIN).delete()
        Mailbox.objects.filter(domain_id=DOMAIN).delete()
        Domain.objects.filter(pk=DOMAIN).delete()
        Job.objects.filter(domain=DOMAIN).delete()
        AuditEntry.objects.filter(domain=DOMAIN).delete()
