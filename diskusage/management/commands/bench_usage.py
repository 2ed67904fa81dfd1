"""``manage.py bench_usage``: seed Maildirs on disk and time their measurement.

Seeds (once) ``--count`` mailboxes (100,000 by default, 1,000 per domain, on the storage host
``usage-bench`` so that nothing else is measured) into the configured database, and their
Maildirs below ``--base``: each with ``cur/new/tmp``, the standard folders and a
``maildirsize`` as maildrop or Dovecot leave it (a quota line and 1 to 30 size lines); one in
twenty has mail that no deliverer counted (a bare quota line), so it is walked. Then it runs
the storage worker's measurement of the whole host in this one process, as one worker does,
then the quota warnings (mail to the locmem backend), and times the pages that show the
figures. Run it against a scratch database:
``DATABASE_URL=mysql://.../scratch manage.py bench_usage --base <scratch directory>``.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import Manager
from diskusage.measure import measure_mailboxes
from diskusage.warnings import quota_warnings_send
from domains.models import Domain
from mailadmin.lib.fields import local_now
from mailadmin.lib.passwords import hash_password
from mailboxes.models import Mailbox, MailboxDiskUsage

HOST = "usage-bench"
ADMIN = "bench-usage-root@bench.test"
PER_DOMAIN = 1000
FOLDERS = (".Sent", ".Drafts", ".Trash", ".Junk")


def _domain(n: int) -> str:
    return f"u{n:03d}.usage.bench.test"


class Command(BaseCommand):
    help = "Seed Maildirs with maildirsize files and time the disk usage measurement."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=100_000)
        parser.add_argument("--base", required=True, help="the mail base to seed (scratch)")
        parser.add_argument("--runs", type=int, default=10, help="requests per page")

    def handle(self, *args: Any, **options: Any) -> None:
        base = Path(options["base"]).resolve()
        base.mkdir(parents=True, exist_ok=True)
        with override_settings(
            MAILADMIN_MAIL_BASE=base,
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            ALLOWED_HOSTS=["*"],
        ):
            if Mailbox.objects.filter(mailhost=HOST).count() < options["count"]:
                self.seed(base, options["count"])
            total = Mailbox.objects.filter(mailhost=HOST).count()
            self.stdout.write(f"database: {connection.vendor}; mailboxes on {HOST}: {total}")
            started = time.perf_counter()
            result = measure_mailboxes(base, HOST)
            took = time.perf_counter() - started
            self.stdout.write(
                f"measured {total} Maildirs in {took:.1f} s ({total / took:.0f}/s): {result.note()}"
            )
            started = time.perf_counter()
            warned = quota_warnings_send()
            self.stdout.write(
                f"quota warnings: {warned} sent in {time.perf_counter() - started:.1f} s"
            )
            self.time_pages(options["runs"])

    def seed(self, base: Path, count: int) -> None:
        started = time.perf_counter()
        rng = random.Random(10)  # noqa: S311 - sizes of test data, not secrets
        now = local_now()
        password = hash_password("Bench-password-1")
        domains = [_domain(n) for n in range((count + PER_DOMAIN - 1) // PER_DOMAIN)]
        with transaction.atomic():
            Domain.objects.bulk_create(
                [Domain(domain=name, description=name) for name in domains],
                batch_size=1000,
                ignore_conflicts=True,
            )
            Manager.objects.get_or_create(
                username=ADMIN, defaults={"password": password, "type": "admin"}
            )
        batch: list[Mailbox] = []
        for i in range(count):
            domain = domains[i // PER_DOMAIN]
            local = f"user{i % PER_DOMAIN:04d}"
            quota = (rng.choice((50, 100, 200, 500, 1000))) * 1048576
            home = f"{domain}/{local}"
            batch.append(
                Mailbox(
                    username=f"{local}@{domain}",
                    uid=local,
                    password=password,
                    name=f"User {i}",
                    mailhost=HOST,
                    domain_id=domain,
                    homedir=home,
                    maildir=f"{home}/Maildir/",
                    quota=f"{quota}S",
                    netdiskquota="0S",
                    createdate=now,
                )
            )
            self.maildir(base / home / "Maildir", quota, rng, walked=i % 20 == 0)
            if len(batch) >= 5000:
                Mailbox.objects.bulk_create(batch, ignore_conflicts=True)
                batch.clear()
                self.stdout.write(f"  seeded {i + 1} in {time.perf_counter() - started:.0f} s")
        Mailbox.objects.bulk_create(batch, ignore_conflicts=True)
        self.stdout.write(f"seeded in {time.perf_counter() - started:.1f} s")

    def maildir(self, box: Path, quota: int, rng: random.Random, *, walked: bool) -> None:
        for folder in ("", *FOLDERS):
            for sub in ("cur", "new", "tmp"):
                (box / folder / sub).mkdir(parents=True, exist_ok=True)
        # Use between 0 and 110 % of the quota, spread over 1-30 size lines (deliveries and
        # expunges as maildrop and Dovecot append them).
        used = int(quota * rng.random() ** 2 * 1.1)
        lines = [f"{quota}S"]
        if walked:
            for n in range(rng.randint(1, 20)):
                (box / "cur" / f"{n}.bench,S=4096:2,S").write_bytes(b"x" * 64)
        else:
            parts = rng.randint(1, 30)
            for _part in range(parts):
                size = used // parts
                lines.append(f"{size:>12} {max(1, size // 40_000):>12}")
        (box / "maildirsize").write_text("\n".join(lines) + "\n")

    def time_pages(self, runs: int) -> None:
        client = Client()
        client.force_login(Manager.objects.get(pk=ADMIN))
        pages = [
            ("mailboxes of a domain, by use", f"/mailboxes/?domain={_domain(0)}&sort=-used"),
            ("mailboxes over 90 %", f"/mailboxes/?domain={_domain(0)}&usage=over90"),
            ("every mailbox, by use", "/mailboxes/?sort=-used"),
            ("every mailbox over 90 %", "/mailboxes/?usage=over90&sort=-used"),
            ("domain page", f"/domains/{_domain(0)}/"),
            ("report CSV of a domain", f"/usage/domain/{_domain(0)}/report.csv"),
        ]
        for name, url in pages:
            times = []
            queries = 0
            for _ in range(runs):
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    response = client.get(url)
                    if response.streaming:
                        b"".join(response.streaming_content)
                    times.append((time.perf_counter() - started) * 1000)
                queries = len(captured.captured_queries)
                assert response.status_code == 200, (url, response.status_code)
            times.sort()
            self.stdout.write(
                f"{name:34} median {statistics.median(times):7.1f} ms"
                f"  p95 {times[int(len(times) * 0.95) - 1]:7.1f} ms  queries {queries}"
            )
        self.stdout.write(
            f"rows in mailadmin_mailbox_disk_usage: {MailboxDiskUsage.objects.count()}"
        )
