"""``manage.py bench_ui``: seed realistic volumes and time the list and search pages.

Seeds (once) 1,000 domains, 100,000 mailboxes (20,000 in the largest domain) and 100,000
aliases named ``*.bench.test`` into the configured database, then requests every list and
search page through Django's test client as a superadmin and as a domain admin, and prints
the median and 95th percentile server time and the number of SQL queries of each.
Run it against a scratch database: ``DATABASE_URL=mysql://.../bench manage.py bench_ui``.

``--export`` times the downloads of the lists instead (``/export/<table>/``, streamed) and the
command line's ``mailbox list --csv``: total time, time to the first byte, rows, size, queries
and the peak of Python memory allocated while streaming (``tracemalloc``), which stays flat
whatever the number of rows.
"""

from __future__ import annotations

import io
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from domains.models import Domain
from mailadmin.lib.fields import local_now
from mailadmin.lib.passwords import hash_password
from mailboxes.models import Mailbox

BIG = "big.bench.test"
ADMIN = "bench-root@bench.test"
DOMAIN_ADMIN = "bench-admin@bench.test"


class Command(BaseCommand):
    help = "Seed 1,000 domains / 100,000 mailboxes / 100,000 aliases and time the list pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--domains", type=int, default=1000)
        parser.add_argument("--mailboxes", type=int, default=100_000)
        parser.add_argument("--aliases", type=int, default=100_000)
        parser.add_argument("--largest", type=int, default=20_000, help="mailboxes in one domain")
        parser.add_argument("--runs", type=int, default=20, help="requests per page")
        parser.add_argument(
            "--export", action="store_true", help="time the CSV/JSON downloads instead"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not Domain.objects.filter(pk=BIG).exists():
            self.seed(options)
        self.stdout.write(
            f"database: {connection.vendor}; domains={Domain.objects.count()}"
            f" mailboxes={Mailbox.objects.count()} aliases={Alias.objects.count()}"
        )
        if options["export"]:
            with override_settings(
                ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False
            ):
                self.time_exports()
            return
        pages = [
            ("overview", "/"),
            ("domains", "/domains/"),
            ("domains search", "/domains/?q=bench-09"),
            ("mailboxes all", "/mailboxes/"),
            ("mailboxes of largest domain", f"/mailboxes/?domain={BIG}"),
            ("mailboxes of largest, page 100", f"/mailboxes/?domain={BIG}&page=100"),
            ("mailboxes search", f"/mailboxes/?domain={BIG}&q=user1234"),
            ("mailboxes search, contains", f"/mailboxes/?domain={BIG}&q=user1234&match=contains"),
            ("mailboxes sorted by quota", f"/mailboxes/?domain={BIG}&sort=-quota"),
            ("aliases all", "/aliases/"),
            ("aliases of largest domain", f"/aliases/?domain={BIG}"),
            ("aliases search", "/aliases/?q=list-77"),
            ("aliases search, contains", "/aliases/?q=list-77&match=contains"),
            ("managers", "/managers/"),
            ("audit log", "/audit/"),
        ]
        self.stdout.write(f"{'page':40} {'role':12} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
        # The test client's host and plain HTTP, whatever the production settings say.
        with override_settings(
            ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False
        ):
            self.time_pages(pages, options["runs"])

    def time_pages(self, pages: list[tuple[str, str]], runs: int) -> None:
        for role, username in (("superadmin", ADMIN), ("domain admin", DOMAIN_ADMIN)):
            client = Client()
            client.force_login(Manager.objects.get(pk=username))
            for name, url in pages:
                if role == "domain admin" and name == "managers":
                    continue
                self.time_page(client, name, role, url, runs)

    def time_page(self, client: Client, name: str, role: str, url: str, runs: int) -> None:
        timings = []
        queries = 0
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            queries = len(captured)
            if response.status_code != 200:
                self.stdout.write(f"{name:40} {role:12} HTTP {response.status_code}")
                return
        timings.sort()
        p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
        self.stdout.write(
            f"{name:40} {role:12} {statistics.median(timings):10.1f} {p95:8.1f} {queries:8d}"
        )

    def time_exports(self) -> None:
        downloads = [
            ("mailboxes, all, CSV", ADMIN, "/export/mailboxes/?format=csv"),
            ("mailboxes, all, JSON", ADMIN, "/export/mailboxes/?format=json"),
            ("mailboxes, largest domain, CSV", DOMAIN_ADMIN, f"/export/mailboxes/?domain={BIG}"),
            ("mailboxes, search, CSV", ADMIN, "/export/mailboxes/?q=user1&format=csv"),
            ("aliases, all, CSV", ADMIN, "/export/aliases/?format=csv"),
            ("domains, all, CSV", ADMIN, "/export/domains/?format=csv"),
        ]
        self.stdout.write(
            f"{'export':34} {'s':>6} {'first ms':>9} {'rows':>8} {'MB':>6} {'queries':>8}"
            f" {'peak MB':>8}"
        )
        for name, username, url in downloads:
            client = Client()
            client.force_login(Manager.objects.get(pk=username))

            def pieces(client: Client = client, url: str = url) -> Iterator[bytes]:
                response = client.get(url)
                assert response.status_code == 200, response.status_code
                yield from response.streaming_content

            self.time_export(name, pieces)
        for name, args in (
            ("manage.py mailbox list --csv", ["--csv"]),
            ("manage.py mailbox list --json", ["--json"]),
        ):

            def command(args: list[str] = args) -> Iterator[Any]:
                out = _Counting()
                call_command("mailbox", "list", "--as", ADMIN, *args, stdout=out)
                yield _Written(out.size, out.lines)  # its size, without holding the text

            self.time_export(name, command, command=True)

    def time_export(
        self, name: str, pieces: Callable[[], Iterator[Any]], *, command: bool = False
    ) -> None:
        # Time and queries in one pass, memory in a second (tracemalloc slows allocation).
        queries = []

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            start = time.perf_counter()
            first = None
            size = rows = 0
            for piece in pieces():
                if first is None:
                    first = (time.perf_counter() - start) * 1000
                size += len(piece)
                rows += piece.count(b"\n")
            seconds = time.perf_counter() - start
        tracemalloc.start()
        for _piece in pieces():
            pass
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        shown_first = "-" if command else f"{first or 0:.1f}"
        self.stdout.write(
            f"{name:34} {seconds:6.2f} {shown_first:>9} {rows:8d} {size / 1e6:6.1f}"
            f" {len(queries):8d} {peak / 1e6:8.1f}"
        )

    def seed(self, options: dict[str, Any]) -> None:
        started = time.perf_counter()
        password = hash_password("Bench-password-1")
        now = local_now()
        n_domains = options["domains"]
        names = [BIG] + [f"bench-{i:04d}.bench.test" for i in range(1, n_domains)]
        with transaction.atomic():
            Domain.objects.bulk_create(
                [Domain(domain=name, description=f"virtualDomain for {name}") for name in names],
                batch_size=1000,
            )
            for username, kind in ((ADMIN, "admin"), (DOMAIN_ADMIN, "postmaster")):
                Manager.objects.create(username=username, password=password, type=kind)
            DomainManager.objects.create(manager_id=DOMAIN_ADMIN, domain_id=BIG)
        rest = options["mailboxes"] - options["largest"]
        per_domain = max(1, rest // max(1, n_domains - 1))
        plan = [(BIG, options["largest"])] + [(name, per_domain) for name in names[1:]]
        batch: list[Mailbox] = []
        for domain, count in plan:
            for i in range(count):
                local = f"user{i:05d}"
                batch.append(
                    Mailbox(
                        username=f"{local}@{domain}",
                        uid=local,
                        password=password,
                        name=f"User {i}",
                        domain_id=domain,
                        homedir=f"{domain}/{local}",
                        maildir=f"{domain}/{local}/Maildir/",
                        quota=f"{(i % 50 + 1) * 1048576}S",
                        netdiskquota="0S",
                        createdate=now,
                    )
                )
                if len(batch) >= 5000:
                    Mailbox.objects.bulk_create(batch)
                    batch.clear()
        Mailbox.objects.bulk_create(batch)
        aliases = []
        per_alias_domain = max(1, options["aliases"] // n_domains)
        for domain in names:
            for i in range(per_alias_domain):
                aliases.append(
                    Alias(
                        address=f"list-{i:04d}@{domain}",
                        goto=f"user{i % 10:05d}@{domain},outside{i}@partner.example",
                        domain_id=domain,
                        createdate=now,
                    )
                )
                if len(aliases) >= 5000:
                    Alias.objects.bulk_create(aliases)
                    aliases.clear()
        Alias.objects.bulk_create(aliases)
        self.stdout.write(f"seeded in {time.perf_counter() - started:.1f} s")


class _Counting(io.StringIO):
    """A stdout that counts what is written to it and keeps none of it."""

    def __init__(self) -> None:
        super().__init__()
        self.size = self.lines = 0

    def write(self, value: str) -> int:
        self.size += len(value.encode())
        self.lines += value.count("\n")
        return len(value)


class _Written:
    """The size and line count of a command's output, as a piece of it."""

    def __init__(self, size: int, lines: int) -> None:
        self.size, self.lines = size, lines

    def __len__(self) -> int:
        return self.size

    def count(self, _line: bytes) -> int:
        return self.lines
