"""The trace and graph part of ``manage.py bench_activity``: seeds many messages (host
``bench-trace``, once) and daily counts, then times searches and graph pages."""

from __future__ import annotations

import datetime
import math
import random
import statistics
import time
from collections.abc import Iterator
from typing import Any

from django.db import connection, models, transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import DomainManager, Manager
from activity.ingest import MessageRow, RecipientRow, write_rows
from activity.models import DailyCount, Kind, Message, Recipient
from activity.selectors import TraceQuery, search_messages
from mailadmin.lib.passwords import hash_password

HOST = "bench-trace"
ROOT = "bench-activity-root@bench.test"
ADMIN = "bench-activity-admin@bench.test"
DOMAINS = 50
USERS = 2000
ID_BASE = 1 << 60  # far above the keys the follower makes


def _drop_indexes(cursor: Any, model: type[models.Model]) -> None:
    table = connection.ops.quote_name(model._meta.db_table)
    drops = ", ".join(
        f"DROP INDEX {connection.ops.quote_name(index.name)}" for index in model._meta.indexes
    )
    cursor.execute(f"ALTER TABLE {table} {drops}")


def _add_indexes(cursor: Any, model: type[models.Model]) -> None:
    """The model's indexes again, in one statement: one scan of the table, each index built
    by sorting instead of row by row."""
    quote = connection.ops.quote_name
    adds = ", ".join(
        f"ADD INDEX {quote(index.name)} ("
        + ", ".join(quote(model._meta.get_field(name).column) for name in index.fields)
        + ")"
        for index in model._meta.indexes
    )
    cursor.execute(f"ALTER TABLE {quote(model._meta.db_table)} {adds}")


def seed_in_sql(rows: int) -> None:
    """MariaDB: rows made by the server from its sequence engine (minutes for ten million,
    instead of an hour through Python). The tables are empty: their secondary indexes are
    dropped while the rows go in in key order, then built again from the sorted rows, which
    is several times faster than updating five random-order indexes per row."""
    # 1.3 recipients a message (m + 3 * floor(m / 10) >= 1.3 m - 3): at least ``rows``, so
    # that a second run finds the rows seeded.
    messages = math.ceil((rows + 3) / 1.3)
    when = "UTC_TIMESTAMP() - INTERVAL ((seq * 7919) %% 7776000) SECOND"
    local = "CONCAT('user', (seq * 13) %% 2000, '@d', LPAD(seq %% 50, 3, '0'), '.bench.test')"
    other = "CONCAT('user', (seq * 29) %% 2000, '@d', LPAD(seq %% 50, 3, '0'), '.bench.test')"
    outsider = "CONCAT('p', (seq * 31) %% 200000, '@example', (seq * 17) %% 5000, '.net')"
    inbound = "seq %% 5 < 3"
    sender = f"IF({inbound}, {outsider}, {local})"
    target = f"IF({inbound}, {local}, {outsider})"
    chunk = 500_000
    with connection.cursor() as cursor:
        _drop_indexes(cursor, Message)
        _drop_indexes(cursor, Recipient)
        try:
            for low in range(1, messages + 1, chunk):
                high = min(low + chunk - 1, messages)
                where = f"FROM seq_{low}_to_{high}"
                cursor.execute(
                    "INSERT INTO mailadmin_activity_message (id, host, queue_id, time, sender,"
                    " sender_domain, size, nrcpt, message_id, client, client_ip, origin,"
                    " sasl_username, filter_result, notice_queue_id, removed_at)"
                    f" SELECT %s + seq, %s, LPAD(HEX(seq), 10, '0'), {when}, {sender},"
                    f" SUBSTRING_INDEX({sender}, '@', -1), 1000 + seq %% 90000, 1,"
                    " CONCAT(seq, '@bench.test'), 'mail.example.net[198.51.100.7]', '198.51.100.7',"
                    f" 'smtp', '', '', '', {when} {where}",
                    [ID_BASE, HOST],
                )
                # Both recipients of a message in one statement, in key order: appended to
                # the clustered index instead of splitting its pages.
                address = f"IF(idx = 0, {target}, {other})"
                cursor.execute(
                    "INSERT INTO mailadmin_activity_recipient (id, message_id, time, address,"  # noqa: S608 - constant SQL
                    " domain, orig_to, status, agent, relay, dsn, delay, reason, attempts,"
                    " next_queue_id, updated_at)"
                    f" SELECT %s + seq * 4 + idx, %s + seq, {when}, {address},"
                    f" SUBSTRING_INDEX({address}, '@', -1), '',"
                    " IF(seq %% 20 = 0, 'bounced', 'sent'), 'smtp', 'virtual', '2.0.0', 0.5,"
                    f" '250 2.0.0 Ok', 1, '', {when}"
                    f" FROM (SELECT s.seq AS seq, i.seq AS idx FROM seq_{low}_to_{high} AS s"
                    " JOIN seq_0_to_1 AS i WHERE i.seq = 0 OR s.seq %% 10 < 3) AS pairs"
                    " ORDER BY seq, idx",
                    [ID_BASE, ID_BASE],
                )
        finally:
            _add_indexes(cursor, Message)
            _add_indexes(cursor, Recipient)


def seed(rows: int, out: list[str]) -> None:
    existing = Recipient.objects.filter(message__host=HOST).count()
    if existing >= rows:
        seed_daily()
        out.append(f"trace: {existing:,} recipient rows already seeded")
        return
    if connection.vendor == "mysql" and not existing:
        start = time.perf_counter()
        seed_in_sql(rows)
        seed_daily()
        out.append(
            f"trace: seeded {Recipient.objects.count():,} recipient rows in"
            f" {time.perf_counter() - start:.0f} s (in SQL)"
        )
        return
    rng = random.Random(7)  # noqa: S311 - repeatable data, no secret
    now = timezone.now()
    start = time.perf_counter()
    made = 0
    n = 0
    while made < rows:
        messages, recipients = [], []
        for _ in range(20_000):
            n += 1
            when = now - datetime.timedelta(seconds=rng.randrange(90 * 86400))
            domain = f"d{rng.randrange(DOMAINS):03d}.bench.test"
            local = f"user{rng.randrange(USERS)}@{domain}"
            outsider = f"p{rng.randrange(200_000)}@example{rng.randrange(5000)}.net"
            inbound = rng.random() < 0.6
            sender = outsider if inbound else local
            message = MessageRow(
                id=ID_BASE + n,
                host=HOST,
                queue_id=f"{n:010X}",
                time=when,
                sender=sender,
                sender_domain=sender.partition("@")[2],
                size=rng.randrange(1000, 100_000),
                nrcpt=1,
                message_id=f"{n}@bench.test",
                client="mail.example.net[198.51.100.7]",
                client_ip="198.51.100.7",
                origin="smtp",
                removed_at=when,
            )
            messages.append(message)
            targets = [local] if inbound else [outsider]
            if rng.random() < 0.3:
                targets.append(f"user{rng.randrange(USERS)}@{domain}")
            for index, address in enumerate(targets):
                recipients.append(
                    RecipientRow(
                        id=ID_BASE + n * 4 + index,
                        message_id=message.id,
                        time=when,
                        address=address,
                        domain=address.partition("@")[2],
                        status="sent" if rng.random() < 0.95 else "bounced",
                        agent="virtual" if inbound else "smtp",
                        relay="virtual" if inbound else "mx.example.net[203.0.113.7]:25",
                        dsn="2.0.0",
                        delay=0.5,
                        reason="250 2.0.0 Ok",
                        attempts=1,
                        updated_at=when,
                    )
                )
        with transaction.atomic():
            write_rows(Message, MessageRow, messages)
            write_rows(Recipient, RecipientRow, recipients)
        made += len(recipients)
    seed_daily()
    out.append(
        f"trace: seeded {made:,} recipient rows in {time.perf_counter() - start:.0f} s;"
        f" {Recipient.objects.count():,} in the table"
    )


def seed_daily() -> None:
    """Five years of daily counts for every bench domain and the whole installation."""
    if not DailyCount.objects.filter(domain="d000.bench.test").exists():
        today = timezone.localdate()
        rows_daily = [
            DailyCount(day=today - datetime.timedelta(days=d), domain=name, kind=kind, count=d)
            for d in range(1830)
            for name in ["", *(f"d{i:03d}.bench.test" for i in range(DOMAINS))]
            for kind in Kind.values
        ]
        DailyCount.objects.bulk_create(rows_daily, batch_size=5000)


def managers() -> None:
    if not Manager.objects.filter(pk=ROOT).exists():
        Manager.objects.create(username=ROOT, password=hash_password("x"), type="admin")
    if not Manager.objects.filter(pk=ADMIN).exists():
        Manager.objects.create(username=ADMIN, password=hash_password("x"), type="postmaster")
        DomainManager.objects.create(manager_id=ADMIN, domain_id="d001.bench.test")


def timed(action, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def bench_trace(rows: int, runs: int) -> Iterator[str]:
    out: list[str] = []
    seed(rows, out)
    managers()
    yield from out
    yield f"database: {connection.vendor}"
    sample = Recipient.objects.filter(message__host=HOST, domain="d001.bench.test").first()
    assert sample is not None
    user = sample.address
    outsider = Message.objects.filter(host=HOST, sender__startswith="p").first()
    queries = {
        "recipient address": TraceQuery(address=user),
        "domain": TraceQuery(address="d001.bench.test"),
        "sender (outside) address": TraceQuery(address=outsider.sender),
        "queue id": TraceQuery(queue_id=f"{12345:010X}"),
        "Message-ID": TraceQuery(message_id="12345@bench.test"),
        "domain, last day": TraceQuery(
            address="d001.bench.test", since=timezone.now() - datetime.timedelta(days=1)
        ),
        "latest messages": TraceQuery(),
    }
    yield f"{'trace search':32} {'role':12} {'median ms':>10} {'p95 ms':>8} {'found':>6}"
    for role, username in (("superadmin", ROOT), ("domain admin", ADMIN)):
        actor = Manager.objects.get(pk=username)
        for name, query in queries.items():
            found = len(search_messages(actor, query))
            median, p95 = timed(lambda a=actor, q=query: search_messages(a, q), runs)
            yield f"{name:32} {role:12} {median:10.1f} {p95:8.1f} {found:6}"
    yield f"{'page':32} {'role':12} {'median ms':>10} {'p95 ms':>8}"
    pages = [
        ("trace page, domain", "/activity/?address=d001.bench.test"),
        ("graph per hour", "/activity/graphs/?period=hour"),
        ("graph per day", "/activity/graphs/?period=day"),
        ("graph per month", "/activity/graphs/?period=month"),
        ("graph per year", "/activity/graphs/?period=year"),
    ]
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        for role, username in (("superadmin", ROOT), ("domain admin", ADMIN)):
            client = Client()
            client.force_login(Manager.objects.get(pk=username))
            for name, url in pages:
                assert client.get(url).status_code == 200, url
                median, p95 = timed(lambda c=client, u=url: c.get(u), runs)
                yield f"{name:32} {role:12} {median:10.1f} {p95:8.1f}"
