"""``manage.py bench_ui``: seed realistic volumes by bulk SQL and time the list, search and
detail pages at their first, middle and last page.

Seeds (once, when ``big.bench.test`` is missing) one domain of ``--largest`` mailboxes and as
many aliases, plus ``--domains`` domains of ``--per-domain`` mailboxes and 10 aliases each,
named ``*.bench.test``: INSERT ... SELECT statements over a generated sequence of numbers, so
that 1,000,000 rows take minutes, not hours. Display names are drawn from Latin and Chinese
names, and the panel's indexes (display-name words, sort keys, alias targets, usage rows) are
filled too.

Then it requests every page through Django's test client as a superadmin and as the admin of
the largest domain, and prints a table of the median and 95th percentile server time, the
median time spent in SQL and the number of SQL queries of each; ``--explain`` adds MariaDB's
plan of the deep pages and of every query of a millisecond or more of the search pages (with
``--only``: of the pages it selects).
Run it against a scratch database: ``DATABASE_URL=mysql://.../bench manage.py bench_ui``.

``--writes`` adds the timings of add, edit and delete of a mailbox in the largest domain,
through the pages' own views (the add checks the domain's limits under its row lock, as every
add does); the run deletes what it added, so it leaves the data as it found it.

``--concurrent N --duration S`` serves the panel with gunicorn (production settings: DEBUG off,
as ``scripts/run.sh``) on a free local port against the same database, signs in a superadmin
and the largest domain's admin, and has N clients (alternately one and the other) fetch the
first mailbox page of the largest domain, then the first alias page, for S seconds each over
HTTP: requests per second, median and 99th percentile, errors.

``--export`` times the downloads of the lists instead (``/export/<table>/``, streamed) and the
command line's ``mailbox list --csv``: total time, time to the first byte, rows, size, queries
and the peak of Python memory allocated while streaming (``tracemalloc``), which stays flat
whatever the number of rows.
"""

# ruff: noqa: S608 (the seeding SQL is built from this command's own constants and numbers)
from __future__ import annotations

import http.client
import io
import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from domains import pagemarks
from domains.models import Domain
from domains.usage import fill_missing
from mailadmin.lib.fields import local_now
from mailadmin.lib.listing import encode_position
from mailadmin.lib.passwords import hash_password
from mailboxes.forms import MailboxForm
from mailboxes.models import Mailbox, MailboxDiskUsage, MailboxSortKey
from mailboxes.sortkeys import fill_missing_sql
from provisioning.models import Job

BIG = "big.bench.test"
ADMIN = "bench-root@bench.test"
DOMAIN_ADMIN = "bench-admin@bench.test"
FIRST = ["Wei", "Anna", "James", "Maria", "Kenji", "Olga", "Ahmed", "Sofia"]
LAST = ["Chen", "Smith", "Garcia", "Tanaka", "Ivanova", "Khan", "Rossi", "Novak", "Kim", "Lopez"]
CJK_FAMILY = ["陈", "王", "李", "张", "刘"]
CJK_GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊"]
#: The local parts of the mailboxes ``--writes`` adds (and deletes again).
WRITE_PREFIX = "bench-write-"
PASSWORD = "Bench-password-1"  # noqa: S105 (the benchmark's own accounts)


def _with_params(sql: str) -> str:
    """``sql`` for a statement with parameters: a literal ``%`` (modulo) doubled."""
    return sql.replace("%", "%%").replace("%%s", "%s")


def _case(expression: str, values: list[str]) -> str:
    """``CASE expression % len(values) WHEN 0 THEN values[0] ... END``."""
    whens = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE ({expression}) % {len(values)} {whens} END)"


class Sql:
    """The few expressions that differ between MariaDB and SQLite."""

    def __init__(self) -> None:
        self.mysql = connection.vendor == "mysql"

    def concat(self, *parts: str) -> str:
        return f"CONCAT({', '.join(parts)})" if self.mysql else f"({' || '.join(parts)})"

    def div(self, a: str, b: int) -> str:
        return f"({a} DIV {b})" if self.mysql else f"({a} / {b})"

    def padded(self, expression: str, width: int) -> str:
        return f"SUBSTR({self.concat(repr('0' * width), f'{expression}')}, -{width})"

    def numbers(self, count: int) -> str:
        """A subquery of the numbers 0 .. count-1 in column ``n``."""
        digits = max(1, math.ceil(math.log10(max(count, 2))))
        unit = " UNION ALL ".join(f"SELECT {d} AS d" for d in range(10))
        joins = ", ".join(f"({unit}) d{i}" for i in range(digits))
        n = " + ".join(f"d{i}.d * {10**i}" for i in range(digits))
        return f"(SELECT {n} AS n FROM {joins} WHERE {n} < {count})"


class Command(BaseCommand):
    help = "Seed one large domain and many small ones by bulk SQL and time the list pages."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--largest", type=int, default=100_000, help="mailboxes in one domain")
        parser.add_argument("--domains", type=int, default=1000, help="small domains")
        parser.add_argument("--per-domain", type=int, default=100, help="mailboxes in each")
        parser.add_argument("--runs", type=int, default=15, help="requests per page")
        parser.add_argument("--explain", action="store_true", help="print the plans (MariaDB)")
        parser.add_argument("--only", default="", help="time only pages whose name has this")
        parser.add_argument(
            "--export", action="store_true", help="time the CSV/JSON downloads instead"
        )
        parser.add_argument(
            "--writes", action="store_true", help="also time add, edit and delete of a mailbox"
        )
        parser.add_argument(
            "--concurrent",
            type=int,
            default=0,
            metavar="N",
            help="N clients over HTTP against gunicorn (instead of the pages)",
        )
        parser.add_argument(
            "--duration", type=float, default=20, help="seconds of each --concurrent page"
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help="gunicorn workers of --concurrent (default: 2 x cores + 1)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not Domain.objects.filter(pk=BIG).exists():
            self.seed(options)
        big = Mailbox.objects.filter(domain_id=BIG).count()
        self.stdout.write(
            f"database: {connection.vendor}; domains={Domain.objects.count()}"
            f" mailboxes={Mailbox.objects.count()} (largest domain: {big})"
            f" aliases={Alias.objects.count()}"
        )
        if options["export"]:
            with override_settings(
                ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False
            ):
                self.time_exports()
            return
        if options["concurrent"]:
            self.time_concurrent(
                options["concurrent"],
                options["duration"],
                options["workers"] or 2 * (os.cpu_count() or 1) + 1,
            )
            return
        pages = self.pages(big)
        if options["only"]:
            pages = [p for p in pages if options["only"] in p[0]]
        header = (
            f"| {'page':44} | {'role':12} | {'median ms':>9} | {'p95 ms':>7}"
            f" | {'SQL ms':>7} | {'queries':>7} |"
        )
        self.stdout.write(header)
        self.stdout.write("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
        # The test client's host and plain HTTP, whatever the production settings say.
        with override_settings(
            ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False
        ):
            self.time_pages(pages, options["runs"])
            if options["writes"]:
                self.time_writes(options["runs"])
        if options["explain"] and connection.vendor == "mysql":
            self.explain(big, options["only"])

    def pages(self, big: int) -> list[tuple[str, str]]:
        per_page = 25
        middle = max(1, big // per_page // 2)
        base = f"/mailboxes/?domain={BIG}"

        def row_before(order: list[str], number: int) -> Any:
            offset = (number - 1) * per_page
            rows = Mailbox.objects.filter(domain_id=BIG).order_by(*order)
            return rows.values_list(*order)[offset - 1] if offset else None

        by_address = row_before(["username"], middle)
        by_name = row_before(["name", "username"], middle)
        after_address = encode_position(by_address[0], by_address[0]) if by_address else ""
        after_name = encode_position(*by_name) if by_name else ""
        # the first row of page ``middle + 1``: its "previous" link reads page ``middle``
        next_address = row_before(["username"], middle + 1)
        next_name = row_before(["name", "username"], middle + 1)
        before_address = encode_position(next_address[0], next_address[0]) if next_address else ""
        before_name = encode_position(*next_name) if next_name else ""
        # the quota order (largest first) from the sort key table, as the list reads it
        by_quota = MailboxSortKey.objects.filter(domain=BIG).order_by("-quota_bytes", "-address")
        quota_rows = by_quota.values_list("quota_bytes", "address")
        offset = (middle - 1) * per_page
        after_quota = encode_position(*quota_rows[offset - 1]) if offset else ""
        before_quota = encode_position(*quota_rows[offset + per_page]) if big > offset else ""
        # the order by use (largest first) from the disk usage table, as the list reads it
        by_used = MailboxDiskUsage.objects.filter(domain=BIG, used_bytes__isnull=False)
        used_rows = by_used.order_by("-used_bytes", "-mailbox_id")
        used_row = used_rows.values_list("used_bytes", "mailbox_id")[max(0, offset - 1) : offset]
        after_used = encode_position(*used_row[0]) if used_row else ""
        n_domains = Domain.objects.count()
        domains_middle = max(1, n_domains // per_page // 2)
        first_domain = Domain.objects.order_by("domain").values_list("pk", flat=True)
        domain_row = first_domain[(domains_middle - 1) * per_page - 1] if domains_middle > 1 else ""
        after_domain = encode_position(domain_row, domain_row) if domain_row else ""
        alias_row = (
            Alias.objects.filter(domain_id=BIG)
            .order_by("address")
            .values_list("address", flat=True)[max(0, (middle - 1) * per_page - 1)]
        )
        after_alias = encode_position(alias_row, alias_row)
        detail = (
            Mailbox.objects.filter(domain_id=BIG)
            .order_by("username")
            .values_list("username", flat=True)[min(big - 1, 12345)]
        )
        return [
            ("overview", "/"),
            ("domains, first page", "/domains/"),
            (
                f"domains, page {domains_middle} (next link)",
                f"/domains/?page={domains_middle}&after={after_domain}",
            ),
            (f"domains, page {domains_middle} (number)", f"/domains/?page={domains_middle}"),
            ("domains, last page", "/domains/?last=1"),
            ("domains, sorted by users, first", "/domains/?sort=-users"),
            (
                f"domains, sorted by users, page {domains_middle} (number)",
                f"/domains/?sort=-users&page={domains_middle}",
            ),
            ("domains, sorted by users, last page", "/domains/?sort=-users&last=1"),
            ("domains search", "/domains/?q=bench-09"),
            ("mailboxes all, first page", "/mailboxes/"),
            ("mailboxes of largest, first page", base),
            (
                f"mailboxes of largest, page {middle} (next link)",
                f"{base}&page={middle}&after={after_address}",
            ),
            (
                f"mailboxes of largest, page {middle} (prev. link)",
                f"{base}&page={middle}&before={before_address}",
            ),
            (f"mailboxes of largest, page {middle} (number)", f"{base}&page={middle}"),
            ("mailboxes of largest, last page", f"{base}&last=1"),
            ("mailboxes by name, first page", f"{base}&sort=name"),
            (
                f"mailboxes by name, page {middle} (next link)",
                f"{base}&sort=name&page={middle}&after={after_name}",
            ),
            (
                f"mailboxes by name, page {middle} (prev. link)",
                f"{base}&sort=name&page={middle}&before={before_name}",
            ),
            (f"mailboxes by name, page {middle} (number)", f"{base}&sort=name&page={middle}"),
            ("mailboxes by name, last page", f"{base}&sort=name&last=1"),
            ("mailboxes by quota, first page", f"{base}&sort=-quota"),
            (
                f"mailboxes by quota, page {middle} (next link)",
                f"{base}&sort=-quota&page={middle}&after={after_quota}",
            ),
            (
                f"mailboxes by quota, page {middle} (prev. link)",
                f"{base}&sort=-quota&page={middle}&before={before_quota}",
            ),
            (f"mailboxes by quota, page {middle} (number)", f"{base}&sort=-quota&page={middle}"),
            ("mailboxes by quota, last page", f"{base}&sort=-quota&last=1"),
            # Prefixes that find the same 100 rows at any size (user0000500 to user0000599).
            ("mailbox search, address prefix", f"{base}&q=user00005"),
            ("mailbox search, name word (chen)", f"{base}&q=chen"),
            ("mailbox search, two words", f"{base}&q=wei+chen"),
            ("mailbox search, CJK (伟)", f"{base}&q=伟"),
            ("mailbox search, contains", f"{base}&q=01234&match=contains"),
            ("mailbox search everywhere, name word", "/mailboxes/?q=tanaka"),
            ("mailbox detail", f"/mailboxes/{detail}/"),
            ("domain detail (largest)", f"/domains/{BIG}/"),
            ("aliases of largest, first page", f"/aliases/?domain={BIG}"),
            (
                f"aliases of largest, page {middle} (next link)",
                f"/aliases/?domain={BIG}&page={middle}&after={after_alias}",
            ),
            (
                f"aliases of largest, page {middle} (number)",
                f"/aliases/?domain={BIG}&page={middle}",
            ),
            ("aliases of largest, last page", f"/aliases/?domain={BIG}&last=1"),
            ("aliases search", f"/aliases/?domain={BIG}&q=list-00005"),
            ("aliases search, contains", f"/aliases/?domain={BIG}&q=00077&match=contains"),
            ("top bar search (chen)", "/search/?q=chen"),
            ("top bar search (address)", "/search/?q=user00077"),
            ("managers", "/managers/"),
            ("audit log", "/audit/"),
            ("audit log, last page", "/audit/?last=1"),
            ("jobs", "/jobs/"),
            # The REST API's lists (with the session; docs/api.md): the pages' own listings.
            ("api domains", "/api/v1/domains/"),
            ("api mailboxes of largest domain", f"/api/v1/mailboxes/?domain={BIG}"),
            ("api mailboxes search", f"/api/v1/mailboxes/?domain={BIG}&q=user00005"),
            ("api aliases of largest domain", f"/api/v1/aliases/?domain={BIG}"),
            ("api audit log", "/api/v1/audit/"),
            # The order by measured disk use, from the disk usage table's index.
            ("mailboxes by used, first page", f"{base}&sort=-used"),
            (
                f"mailboxes by used, page {middle} (next link)",
                f"{base}&sort=-used&page={middle}&after={after_used}",
            ),
            (f"mailboxes by used, page {middle} (number)", f"{base}&sort=-used&page={middle}"),
            ("mailboxes by used, last page", f"{base}&sort=-used&last=1"),
            ("mailboxes all by used, first page", "/mailboxes/?sort=-used"),
            ("expiry", "/expiry/"),
        ]

    def time_pages(self, pages: list[tuple[str, str]], runs: int) -> None:
        for role, username in (("superadmin", ADMIN), ("domain admin", DOMAIN_ADMIN)):
            client = Client()
            client.force_login(Manager.objects.get(pk=username))
            for name, url in pages:
                if role == "domain admin" and (name == "managers" or "everywhere" in name):
                    continue
                self.time_page(client, name, role, url, runs)

    def time_page(self, client: Client, name: str, role: str, url: str, runs: int) -> None:
        timings = []
        sql_times = []
        queries = 0
        client.get(url)  # warm
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.get(url)
                timings.append((time.perf_counter() - start) * 1000)
            queries = len(captured)
            sql_times.append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)
            if response.status_code != 200:
                self.stdout.write(f"| {name:44} | {role:12} | HTTP {response.status_code} |")
                return
        timings.sort()
        p95 = timings[max(0, math.ceil(len(timings) * 0.95) - 1)]
        self.stdout.write(
            f"| {name:44} | {role:12} | {statistics.median(timings):9.1f} | {p95:7.1f}"
            f" | {statistics.median(sql_times):7.1f} | {queries:7d} |"
        )

    def time_writes(self, runs: int) -> None:
        """Add, edit and delete ``runs`` mailboxes of the largest domain through the views, as
        its admin (POST and redirect, as a browser does). The Maildir and archive jobs are
        recorded but not sent (behind a broker a request only queues them); the run deletes
        its jobs with its mailboxes."""
        client = Client()
        client.force_login(Manager.objects.get(pk=DOMAIN_ADMIN))
        actor = Manager.objects.get(pk=DOMAIN_ADMIN)
        domain = Domain.objects.get(pk=BIG)
        self._forget_writes()
        addresses = [f"{WRITE_PREFIX}{n:03d}@{BIG}" for n in range(runs)]
        rows: dict[str, list[float]] = {"add": [], "edit": [], "delete": []}
        queries: dict[str, int] = {}
        sql_times: dict[str, list[float]] = {"add": [], "edit": [], "delete": []}

        def post(kind: str, url: str, data: dict[str, Any]) -> None:
            with CaptureQueriesContext(connection) as captured:
                start = time.perf_counter()
                response = client.post(url, data)
                rows[kind].append((time.perf_counter() - start) * 1000)
            if response.status_code != 302:
                raise CommandError(f"{kind} {url}: HTTP {response.status_code}, no redirect")
            queries[kind] = len(captured)
            sql_times[kind].append(sum(float(q["time"]) for q in captured.captured_queries) * 1000)

        try:
            with mock.patch("provisioning.dispatch.send"):
                for address in addresses:
                    data = _form_data(MailboxForm(actor=actor, domain=domain))
                    data.update(
                        local_part=address.split("@")[0],
                        domain=BIG,
                        password1=PASSWORD,
                        password2=PASSWORD,
                    )
                    post("add", f"/mailboxes/add/?domain={BIG}", data)
                for address in addresses:
                    mailbox = Mailbox.objects.select_related("domain").get(pk=address)
                    data = _form_data(MailboxForm(actor=actor, mailbox=mailbox))
                    data["name"] = "Bench Edited"
                    post("edit", f"/mailboxes/{address}/edit/", data)
                for address in addresses:
                    post("delete", f"/mailboxes/{address}/delete/", {})
        finally:
            self._forget_writes()
        for kind, label in (
            ("add", "add mailbox (largest domain)"),
            ("edit", "edit mailbox (largest domain)"),
            ("delete", "delete mailbox (largest domain)"),
        ):
            timings = sorted(rows[kind])
            if not timings:
                continue
            p95 = timings[max(0, math.ceil(len(timings) * 0.95) - 1)]
            self.stdout.write(
                f"| {label:44} | {'domain admin':12} | {statistics.median(timings):9.1f}"
                f" | {p95:7.1f} | {statistics.median(sql_times[kind]):7.1f}"
                f" | {queries[kind]:7d} |"
            )

    def _forget_writes(self) -> None:
        """Delete what ``time_writes`` added (also after an interrupted run): its mailboxes
        through the service, so the usage rows and indexes follow, and their jobs."""
        from mailboxes.services import mailbox_delete

        actor = Manager.objects.get(pk=ADMIN)
        with mock.patch("provisioning.dispatch.send"):
            for mailbox in Mailbox.objects.filter(domain_id=BIG, username__startswith=WRITE_PREFIX):
                mailbox_delete(mailbox=mailbox, actor=actor)
        Job.objects.filter(domain=BIG, object_id__startswith=WRITE_PREFIX).delete()

    def time_concurrent(self, clients: int, duration: float, workers: int) -> None:
        """``clients`` threads fetching a page over HTTP from gunicorn for ``duration`` s."""
        cookies = {}
        for username in (ADMIN, DOMAIN_ADMIN):
            client = Client()
            client.force_login(Manager.objects.get(pk=username))
            cookies[username] = client.cookies[settings.SESSION_COOKIE_NAME].value
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {
            **os.environ,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "MAILADMIN_SECURE_COOKIES": "0",
            "MAILADMIN_SSL_REDIRECT": "0",
        }
        gunicorn = [
            str(Path(sys.executable).with_name("gunicorn")),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "30",
            "mailadmin.wsgi:application",
        ]
        server = subprocess.Popen(  # noqa: S603 (this command's own arguments)
            gunicorn, env=env, cwd=settings.BASE_DIR, stderr=subprocess.DEVNULL
        )
        try:
            self._wait_for(port, server)
            self.stdout.write(
                f"gunicorn (PID {server.pid}): {workers} workers on port {port};"
                f" {clients} clients, {duration:.0f} s per page"
            )
            header = (
                f"| {'page':44} | {'clients':12} | {'req/s':>9} | {'p50 ms':>7}"
                f" | {'p99 ms':>7} | {'errors':>7} |"
            )
            self.stdout.write(header)
            self.stdout.write("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
            sessions = [cookies[ADMIN if n % 2 == 0 else DOMAIN_ADMIN] for n in range(clients)]
            for name, path in (
                ("mailboxes of largest, first page", f"/mailboxes/?domain={BIG}"),
                ("aliases of largest, first page", f"/aliases/?domain={BIG}"),
            ):
                # Not counted: every worker's first requests (templates, URL resolvers).
                self._load(name, port, path, sessions, min(3.0, duration), show=False)
                self._load(name, port, path, sessions, duration)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    @staticmethod
    def _wait_for(port: int, server: subprocess.Popen) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise CommandError(f"gunicorn stopped (exit status {server.returncode})")
            try:
                connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection_.request("GET", "/accounts/login/")
                connection_.getresponse().read()
                connection_.close()
                return
            except OSError:
                time.sleep(0.2)
        raise CommandError("gunicorn did not answer within 60 s")

    def _load(
        self,
        name: str,
        port: int,
        path: str,
        sessions: list[str],
        duration: float,
        *,
        show: bool = True,
    ) -> None:
        timings: list[float] = []
        errors = [0]
        lock = threading.Lock()
        cookie_name = settings.SESSION_COOKIE_NAME

        def run(session: str, until: float) -> None:
            mine: list[float] = []
            failed = 0
            headers = {"Cookie": f"{cookie_name}={session}", "Host": "127.0.0.1"}
            while time.monotonic() < until:
                start = time.perf_counter()
                try:
                    # A new connection each time: gunicorn's sync workers close it anyway.
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    conn.close()
                    ok = response.status == 200
                except OSError:
                    ok = False
                if ok:
                    mine.append((time.perf_counter() - start) * 1000)
                else:
                    failed += 1
            with lock:
                timings.extend(mine)
                errors[0] += failed

        started = time.monotonic()
        threads = [
            threading.Thread(target=run, args=(session, started + duration)) for session in sessions
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        if not show:
            return
        timings.sort()
        if not timings:
            self.stdout.write(
                f"| {name:44} | {len(sessions):12d} | no answer, {errors[0]} errors |"
            )
            return
        p99 = timings[max(0, math.ceil(len(timings) * 0.99) - 1)]
        self.stdout.write(
            f"| {name:44} | {len(sessions):12d} | {len(timings) / elapsed:9.1f}"
            f" | {statistics.median(timings):7.1f} | {p99:7.1f} | {errors[0]:7d} |"
        )

    def explain(self, big: int, only: str = "") -> None:
        """The plans of the deep pages (a seek reads 26 rows by the primary key's order) and of
        the searches: every query of a search page that took a millisecond or more, with its
        time, as the superadmin and as the largest domain's admin."""
        client = Client()
        client.force_login(Manager.objects.get(pk=DOMAIN_ADMIN))
        with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
            for name, url in self.pages(big):
                if only and only not in name:
                    continue
                if "search" in name:
                    self.explain_search(name, url)
                    continue
                deep = ("link", "last page", "(number)", "quota", "sorted by")
                if not any(word in name for word in deep):
                    continue
                with CaptureQueriesContext(connection) as captured:
                    client.get(url)
                # the page itself: the last ordered, limited read
                sql = next(
                    q["sql"]
                    for q in reversed(captured.captured_queries)
                    if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]
                )
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN {sql}")
                    columns = [c[0] for c in cursor.description]
                    self.stdout.write(f"\n{name}:")
                    for row in cursor.fetchall():
                        plan = dict(zip(columns, row, strict=True))
                        self.stdout.write(
                            f"  {plan['table']}: type={plan['type']} key={plan['key']}"
                            f" rows={plan['rows']} extra={plan['Extra']}"
                        )

    def explain_search(self, name: str, url: str) -> None:
        for role, username in (("superadmin", ADMIN), ("domain admin", DOMAIN_ADMIN)):
            if role == "domain admin" and "everywhere" in name:
                continue
            client = Client()
            client.force_login(Manager.objects.get(pk=username))
            client.get(url)  # warm
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            self.stdout.write(f"\n{name} ({role}):")
            for query in captured.captured_queries:
                sql = query["sql"]
                if float(query["time"]) < 0.002 or not sql.lstrip().upper().startswith("SELECT"):
                    continue
                shown = sql if len(sql) < 800 else f"{sql[:200]} ... {sql[-600:]}"
                self.stdout.write(f"  {float(query['time']) * 1000:.1f} ms: {shown}")
                with connection.cursor() as cursor:
                    cursor.execute(f"EXPLAIN {sql}")
                    columns = [c[0] for c in cursor.description]
                    for row in cursor.fetchall():
                        plan = dict(zip(columns, row, strict=True))
                        self.stdout.write(
                            f"    {plan['select_type']} {plan['table']}: type={plan['type']}"
                            f" key={plan['key']} rows={plan['rows']} extra={plan['Extra']}"
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
        sql = Sql()
        password = hash_password(PASSWORD)
        now = local_now().isoformat(sep=" ")
        n_small, per_domain, largest = options["domains"], options["per_domain"], options["largest"]
        names = [BIG] + [f"bench-{i:05d}.bench.test" for i in range(n_small)]
        with transaction.atomic():
            Domain.objects.bulk_create(
                [Domain(domain=name, description=f"virtualDomain for {name}") for name in names],
                batch_size=1000,
            )
            for username, kind in ((ADMIN, "admin"), (DOMAIN_ADMIN, "postmaster")):
                Manager.objects.create(username=username, password=password, type=kind)
            DomainManager.objects.create(manager_id=DOMAIN_ADMIN, domain_id=BIG)
        plans = [
            # (rows, local part, domain, number within the domain)
            (largest, sql.concat("'user'", sql.padded("n", 7)), f"'{BIG}'", "n"),
            (
                n_small * per_domain,
                sql.concat("'user'", sql.padded(f"(n % {per_domain})", 5)),
                sql.concat("'bench-'", sql.padded(sql.div("n", per_domain), 5), "'.bench.test'"),
                f"(n % {per_domain})",
            ),
        ]
        cjk = "n % 10 = 9"
        latin_name = sql.concat(_case("n", FIRST), "' '", _case(sql.div("n", 8), LAST))
        cjk_name = sql.concat(_case("n", CJK_FAMILY), _case(sql.div("n", 5), CJK_GIVEN))
        with connection.cursor() as cursor:
            for count, local, domain, _number in plans:
                if not count:
                    continue
                address = sql.concat(local, "'@'", domain)
                home = sql.concat(domain, "'/'", local)
                rows = sql.numbers(count)
                maildir = sql.concat(home, "'/Maildir/'")
                quota = sql.concat("((n % 50) + 1) * 1048576", "'S'")
                cursor.execute(
                    _with_params(
                        "INSERT INTO mailbox (username, uid, password, clearpwd, name, mailhost,"
                        " maildir, homedir, quota, netdiskquota, domain, createdate, expiredate,"
                        " active, question, answer)"
                        f" SELECT {address}, {local}, %s, '',"
                        f" CASE WHEN {cjk} THEN {cjk_name} ELSE {latin_name} END, '',"
                        f" {maildir}, {home},"
                        f" {quota}, '0S', {domain},"
                        f" %s, '0000-00-00', 1, '', '' FROM {rows} seq"
                    ),
                    [password, now],
                )
                # The word index of the names (mailboxes.names), in the same words.
                words = [
                    (f"NOT ({cjk})", _case("n", [w.lower() for w in FIRST])),
                    (f"NOT ({cjk})", _case(sql.div("n", 8), [w.lower() for w in LAST])),
                    (cjk, cjk_name),
                    (cjk, _case(sql.div("n", 5), CJK_GIVEN)),
                ]
                for where, word in words:
                    cursor.execute(
                        "INSERT INTO mailadmin_name_word (word, address, domain)"
                        f" SELECT {word}, {address}, {domain} FROM {rows} seq WHERE {where}"
                    )
                # Their pairs (mailboxes.names): each name has two words, paired both ways.
                for (where, one), (_where, other) in (words[:2], words[2:]):
                    for first, second in ((one, other), (other, one)):
                        cursor.execute(
                            "INSERT INTO mailadmin_name_pair (first, second, address, domain)"
                            f" SELECT {first}, {second}, {address}, {domain} FROM {rows} seq"
                            f" WHERE {where}"
                        )
                # Aliases: as many as mailboxes in the largest domain, 10 in each small one.
                alias_count = count if domain == f"'{BIG}'" else n_small * 10
                alias_rows = sql.numbers(alias_count)
                if domain == f"'{BIG}'":
                    alias_local = sql.concat("'list-'", sql.padded("n", 7))
                    alias_domain, target_n = domain, "n"
                else:
                    alias_local = sql.concat("'list-'", sql.padded("(n % 10)", 2))
                    alias_domain = sql.concat(
                        "'bench-'", sql.padded(sql.div("n", 10), 5), "'.bench.test'"
                    )
                    target_n = "(n % 10)"
                alias_address = sql.concat(alias_local, "'@'", alias_domain)
                outside = "',partner@outside.example'"
                width = 7 if domain == f"'{BIG}'" else 5
                target = sql.concat("'user'", sql.padded(target_n, width), "'@'", alias_domain)
                cursor.execute(
                    _with_params(
                        "INSERT INTO alias (address, goto, domain, createdate, active)"
                        f" SELECT {alias_address}, {sql.concat(target, outside)},"
                        f" {alias_domain}, %s, 1 FROM {alias_rows} seq"
                    ),
                    [now],
                )
                for target_expr, target_domain in (
                    (target, alias_domain),
                    ("'partner@outside.example'", "'outside.example'"),
                ):
                    cursor.execute(
                        "INSERT INTO mailadmin_alias_target (alias, alias_domain, target,"
                        f" target_domain) SELECT {alias_address}, {alias_domain}, {target_expr},"
                        f" {target_domain} FROM {alias_rows} seq"
                    )
        fill_missing_sql(connection)  # the sort keys, by the database (mailboxes.sortkeys)
        fill_missing(names)
        # Fresh statistics, as a server has them after a while; not inside a caller's
        # transaction (a test's): MariaDB commits it before ANALYZE.
        if sql.mysql and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE TABLE mailbox, alias, domain, mailadmin_name_word,"
                    " mailadmin_name_pair, mailadmin_alias_target, mailadmin_mailbox_sort_key,"
                    " mailadmin_domain_usage"
                )
                cursor.fetchall()
        marked = time.perf_counter()
        pagemarks.refresh_all()  # what the periodic recompute does
        self.stdout.write(f"page marks in {time.perf_counter() - marked:.1f} s")
        self.stdout.write(f"seeded in {time.perf_counter() - started:.1f} s")


def _form_data(form: Any) -> dict[str, Any]:
    """What a browser posts back of ``form`` unchanged: each field's initial value (a ticked
    box as "on", an unticked one left out)."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form.get_initial_for_field(field, name)
        if field.disabled:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    return data


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
