"""Events into rows: the state the follower keeps between lines, and the batched writes.

An :class:`Ingestor` reads lines (``feed``), keeps each message still in a queue in memory,
and ``flush`` writes what changed (new rows with ``bulk_create``, changed ones with
``bulk_update``), adds to the hourly and daily counts, and stores the follower's position, all
in one transaction: after a crash the follower starts again from the last position stored, and
nothing is lost or counted twice.
"""

from __future__ import annotations

import datetime
import logging
import re
import time as clock
import zoneinfo
from collections import Counter
from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from activity.ids import KeyMaker
from activity.models import (
    DailyCount,
    FollowerPosition,
    HourlyCount,
    Kind,
    Login,
    Message,
    Recipient,
)
from activity.parsing import UNKNOWN, Event, LineParser, domain_of

log = logging.getLogger("mailadmin.activity")

BEYOND_BMP = re.compile("[\ud800-\udfff\U00010000-\U0010ffff]")


class Row:
    """A row in memory: attributes named as the table's columns. Much cheaper than a model
    instance, and written with one ``executemany`` per table (``write_rows``)."""

    DEFAULTS: dict[str, Any] = {}

    def __init__(self, **fields: Any) -> None:
        values = self.__dict__
        values.update(self.DEFAULTS)
        values.update(fields)


class MessageRow(Row):
    DEFAULTS = {
        "id": 0,
        "host": "",
        "queue_id": "",
        "time": None,
        "sender": "",
        "sender_domain": "",
        "size": None,
        "nrcpt": None,
        "message_id": "",
        "client": "",
        "client_ip": "",
        "origin": "",
        "sasl_username": "",
        "filter_result": "",
        "notice_queue_id": "",
        "removed_at": None,
    }


class RecipientRow(Row):
    DEFAULTS = {
        "id": 0,
        "message_id": 0,
        "time": None,
        "address": "",
        "domain": "",
        "orig_to": "",
        "status": "",
        "agent": "",
        "relay": "",
        "dsn": "",
        "delay": None,
        "reason": "",
        "attempts": 0,
        "next_queue_id": "",
        "updated_at": None,
    }


class LoginRow(Row):
    DEFAULTS = {
        "time": None,
        "host": "",
        "service": "",
        "address": "",
        "domain": "",
        "client_ip": "",
        "success": False,
        "detail": "",
    }


def row_from_model(row_class: type[Row], instance: Any) -> Any:
    return row_class(**{name: getattr(instance, name) for name in row_class.DEFAULTS})


MESSAGE_FIELDS = [
    "sender",
    "sender_domain",
    "size",
    "nrcpt",
    "message_id",
    "client",
    "client_ip",
    "origin",
    "sasl_username",
    "filter_result",
    "notice_queue_id",
    "removed_at",
]
RECIPIENT_FIELDS = [
    "status",
    "agent",
    "relay",
    "dsn",
    "delay",
    "reason",
    "attempts",
    "next_queue_id",
    "updated_at",
]
#: How far back a line of a message whose start the follower did not see looks for it.
REOPEN_WINDOW = datetime.timedelta(days=6)
#: Messages kept in memory at most; older ones are read back from the table when needed.
OPEN_LIMIT = 50_000
DOMAINS_REFRESH = 300.0
STATUS_KIND = {"sent": Kind.SENT, "bounced": Kind.BOUNCED, "deferred": Kind.DEFERRED}
REJECT_STATUS = {
    "reject": Recipient.Status.REJECTED,
    "discard": Recipient.Status.DISCARDED,
    "hold": Recipient.Status.HELD,
}
FINAL = frozenset({"sent", "bounced", "expired"})
STATUSES = frozenset(Recipient.Status.values)


def is_loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip == "::1"


def filter_hop(relay: str, reason: str) -> bool:
    """A hand-over to a content filter on this host (amavis on 127.0.0.1:10024), which queues
    the message again: not a delivery."""
    return ("[127." in relay or "[::1]" in relay) and "queued as" in reason


class OpenMessage:
    __slots__ = ("closed", "domains_received", "received", "recipients", "row")

    def __init__(self, row: MessageRow, received: bool = False) -> None:
        self.row = row
        self.recipients: dict[tuple[str, str], RecipientRow] = {}
        self.closed = False
        self.received = received
        self.domains_received: set[str] = set()


class Ingestor:
    """Turns the lines of one source (a file or the journal) of one host into rows."""

    def __init__(
        self,
        *,
        host: str,
        source: str,
        parser: LineParser | None = None,
    ) -> None:
        self.host = host[:64]
        self.source = source[:255]
        self.parser = parser or LineParser(settings.MAILADMIN_ACTIVITY_LOG_TIME_ZONE)
        self.zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        self.position, _ = FollowerPosition.objects.get_or_create(
            host=self.host, source=self.source
        )
        self.key = KeyMaker(self.position.pk)
        self.open: dict[str, OpenMessage] = {}
        self.new_messages: dict[int, MessageRow] = {}
        self.changed_messages: dict[int, MessageRow] = {}
        self.new_recipients: dict[int, RecipientRow] = {}
        self.changed_recipients: dict[int, RecipientRow] = {}
        self.logins: list[LoginRow] = []
        self.counts: Counter[tuple[datetime.datetime, datetime.date, str, str]] = Counter()
        self._buckets: dict[datetime.datetime, tuple[datetime.datetime, datetime.date]] = {}
        self.local_domains: frozenset[str] = frozenset()
        self._domains_read = 0.0
        self.pending = 0  # lines since the last flush
        self.stats: Counter[str] = Counter()
        self.refresh_domains()

    # --- reading -----------------------------------------------------------------------
    def refresh_domains(self) -> None:
        from domains.models import Domain

        names = Domain.objects.values_list("pk", flat=True)
        self.local_domains = frozenset(name.lower() for name in names)
        self._domains_read = clock.monotonic()

    def feed(self, line: str) -> None:
        self.pending += 1
        self.stats["lines"] += 1
        if not line.isascii():
            # An adopted ExtMan database is utf8 (three bytes): no character beyond them.
            line = BEYOND_BMP.sub("\ufffd", line)
        event = self.parser.parse_line(line)
        self.apply(event)

    def apply(self, event: Event | None) -> None:
        if event is None:
            self.stats["skipped"] += 1
            return
        if event.kind == UNKNOWN:
            self.stats["unknown"] += 1
            return
        self.stats["events"] += 1
        getattr(self, f"on_{event.kind}")(event)

    # --- messages ------------------------------------------------------------------------
    def new_message(self, queue_id: str, time: datetime.datetime, **fields: Any) -> OpenMessage:
        row = MessageRow(id=self.key(), host=self.host, queue_id=queue_id, time=time, **fields)
        self.new_messages[row.id] = row
        message = OpenMessage(row)
        if queue_id:
            if len(self.open) >= OPEN_LIMIT:
                self._forget_oldest()
            self.open[queue_id] = message
        return message

    def _forget_oldest(self) -> None:
        # Only what is stored already may be forgotten: it can be read back.
        pending = self.new_recipients.keys() | self.changed_recipients.keys()
        for queue_id, message in list(self.open.items())[: OPEN_LIMIT // 10]:
            row_id = message.row.id
            stored = row_id not in self.new_messages and row_id not in self.changed_messages
            if stored and not any(r.id in pending for r in message.recipients.values()):
                del self.open[queue_id]

    def message(self, queue_id: str, time: datetime.datetime) -> OpenMessage:
        """The message in the queue under ``queue_id``: in memory, else stored, else new."""
        message = self.open.get(queue_id)
        if message is not None:
            return message
        stored = (
            Message.objects.filter(
                host=self.host,
                queue_id=queue_id,
                removed_at__isnull=True,
                time__gte=time - REOPEN_WINDOW,
                time__lte=time,
            )
            .order_by("-time", "-id")
            .first()
        )
        if stored is None:
            return self.new_message(queue_id, time)
        row = row_from_model(MessageRow, stored)
        received = row.origin == Message.Origin.LOCAL or (
            row.origin == Message.Origin.SMTP and not is_loopback(row.client_ip)
        )
        message = OpenMessage(row, received=received)
        for recipient in stored.recipients.all():
            message.recipients[(recipient.address, recipient.orig_to)] = row_from_model(
                RecipientRow, recipient
            )
        self.open[queue_id] = message
        return message

    def changed(self, message: OpenMessage) -> None:
        row = message.row
        if row.id not in self.new_messages:
            self.changed_messages[row.id] = row

    def recipient(
        self, message: OpenMessage, address: str, orig_to: str, time: datetime.datetime
    ) -> tuple[RecipientRow, bool]:
        key = (address, orig_to)
        recipient = message.recipients.get(key)
        if recipient is not None:
            if recipient.id not in self.new_recipients:
                self.changed_recipients[recipient.id] = recipient
            return recipient, False
        recipient = RecipientRow(
            id=self.key(),
            message_id=message.row.id,
            time=message.row.time,
            address=address[:255],
            domain=domain_of(address)[:255],
            orig_to=orig_to[:255],
            attempts=0,
            updated_at=time,
        )
        message.recipients[key] = recipient
        self.new_recipients[recipient.id] = recipient
        return recipient, True

    def on_client(self, event: Event) -> None:
        data = event.data
        origin = data["origin"]
        sender = data.get("sender", "")
        message = self.new_message(
            event.queue_id,
            event.time,
            origin=origin,
            client=data.get("client", "")[:255],
            client_ip=data.get("client_ip", "")[:45],
            sasl_username=data.get("sasl_username", "")[:255],
            sender=sender[:255],
            sender_domain=domain_of(sender)[:255],
        )
        if origin == "local" or not is_loopback(data.get("client_ip", "")):
            message.received = True
            self.count(event.time, Kind.RECEIVED, ())
        if data.get("sasl_username"):
            self.add_login(event.time, "smtp", data["sasl_username"], data["client_ip"], True, "")

    def on_message_id(self, event: Event) -> None:
        message = self.message(event.queue_id, event.time)
        message.row.message_id = event.data["message_id"]
        self.changed(message)

    def on_queued(self, event: Event) -> None:
        message = self.message(event.queue_id, event.time)
        row = message.row
        sender = event.data["sender"]
        row.sender = sender[:255]
        row.sender_domain = domain_of(sender)[:255]
        row.size = event.data["size"]
        row.nrcpt = event.data["nrcpt"]
        self.changed(message)
        domain = row.sender_domain
        if (
            message.received
            and domain in self.local_domains
            and domain not in message.domains_received
        ):
            message.domains_received.add(domain)
            self.count(event.time, Kind.RECEIVED, (domain,), total=False)

    def on_delivery(self, event: Event) -> None:
        data = event.data
        message = self.message(event.queue_id, event.time)
        recipient, _ = self.recipient(message, data["to"], data["orig_to"], event.time)
        status = data["status"]
        recipient.status = status if status in STATUSES else "deferred"
        recipient.agent = data["agent"][:16]
        recipient.relay = data["relay"][:255]
        recipient.dsn = data["dsn"][:16]
        recipient.delay = data["delay"]
        recipient.reason = data["reason"]
        recipient.attempts += 1
        recipient.next_queue_id = data.get("next_queue_id", "")
        recipient.updated_at = event.time
        if status == "sent" and filter_hop(data["relay"], data["reason"]):
            return
        kind = STATUS_KIND.get(status)
        if kind is not None:
            self.count(event.time, kind, (recipient.domain, message.row.sender_domain))
        domain = recipient.domain
        if (
            status in FINAL
            and message.received
            and domain in self.local_domains
            and domain not in message.domains_received
        ):
            message.domains_received.add(domain)
            self.count(event.time, Kind.RECEIVED, (domain,), total=False)

    def on_expired(self, event: Event) -> None:
        message = self.message(event.queue_id, event.time)
        for recipient in message.recipients.values():
            if recipient.status == Recipient.Status.DEFERRED:
                recipient.status = Recipient.Status.EXPIRED
                recipient.updated_at = event.time
                if recipient.id not in self.new_recipients:
                    self.changed_recipients[recipient.id] = recipient
                self.count(event.time, Kind.BOUNCED, (recipient.domain, message.row.sender_domain))

    def on_reject(self, event: Event) -> None:
        data = event.data
        sender = data["sender"]
        if event.queue_id:
            message = self.message(event.queue_id, event.time)
        else:
            message = self.new_message(
                "",
                event.time,
                origin=Message.Origin.SMTP,
                client=data["client"][:255],
                client_ip=data["client_ip"][:45],
                sender=sender[:255],
                sender_domain=domain_of(sender)[:255],
                removed_at=event.time,
            )
            message.closed = True
        address = data["to"]
        if address:
            recipient, _ = self.recipient(message, address, "", event.time)
            recipient.status = REJECT_STATUS[data["action"]]
            recipient.dsn = data["dsn"]
            recipient.reason = data["reason"]
            recipient.attempts += 1
            recipient.updated_at = event.time
        if data["action"] == "reject":
            self.count(event.time, Kind.REJECTED, (domain_of(address), domain_of(sender)))

    def on_notification(self, event: Event) -> None:
        message = self.message(event.queue_id, event.time)
        message.row.notice_queue_id = event.data["notice"][:20]
        self.changed(message)

    def on_removed(self, event: Event) -> None:
        message = self.message(event.queue_id, event.time)
        message.row.removed_at = event.time
        message.closed = True
        self.changed(message)

    def on_filter(self, event: Event) -> None:
        data = event.data
        verdict = data["verdict"]
        message = None
        for queue_id in (event.queue_id, data["queued_as"]):
            if queue_id and queue_id in self.open:
                message = self.open[queue_id]
                break
        if message is not None:
            message.row.filter_result = f"{data['action']} {verdict}"[:64]
            self.changed(message)
        kind = None
        if verdict.startswith("SPAM"):
            kind = Kind.SPAM
        elif verdict == "INFECTED":
            kind = Kind.VIRUS
        if kind is not None:
            domains = [domain_of(address) for address in data["recipients"]]
            self.count(event.time, kind, (*domains, domain_of(data["sender"])))

    # --- logins ------------------------------------------------------------------------
    def on_login(self, event: Event) -> None:
        data = event.data
        self.add_login(
            event.time,
            data["service"],
            data["address"],
            data["client_ip"],
            data["success"],
            data["detail"],
        )

    def add_login(
        self,
        time: datetime.datetime,
        service: str,
        address: str,
        client_ip: str,
        success: bool,
        detail: str,
    ) -> None:
        self.logins.append(
            LoginRow(
                time=time,
                host=self.host,
                service=service[:16],
                address=address[:255].lower(),
                domain=domain_of(address)[:255],
                client_ip=client_ip[:45],
                success=success,
                detail=detail,
            )
        )

    # --- counts ------------------------------------------------------------------------
    def count(
        self,
        time: datetime.datetime,
        kind: str,
        domains: Iterable[str],
        *,
        total: bool = True,
    ) -> None:
        bucket = self._buckets.get(time)
        if bucket is None:
            bucket = (
                time.replace(minute=0, second=0, microsecond=0),
                time.astimezone(self.zone).date(),
            )
            self._buckets[time] = bucket
        hour, day = bucket
        counts = self.counts
        if total:
            counts[(hour, day, "", kind)] += 1
        for domain in set(domains):
            if domain in self.local_domains:
                counts[(hour, day, domain, kind)] += 1

    # --- writing -----------------------------------------------------------------------
    def flush(self, *, inode: int = 0, offset: int = 0, cursor: str = "") -> None:
        """Store everything read so far and the position after it, in one transaction."""
        with transaction.atomic():
            write_rows(Message, MessageRow, self.new_messages.values())
            update_rows(Message, self.changed_messages.values(), MESSAGE_FIELDS)
            write_rows(Recipient, RecipientRow, self.new_recipients.values())
            update_rows(Recipient, self.changed_recipients.values(), RECIPIENT_FIELDS)
            write_rows(Login, LoginRow, self.logins)
            if self.counts:
                add_counts(self.counts)
            FollowerPosition.objects.filter(pk=self.position.pk).update(
                inode=inode,
                offset=offset,
                cursor=cursor,
                lines=self.position.lines + self.pending,
                unknown=self.position.unknown + self.stats["unknown"] - self._unknown_stored,
                updated_at=datetime.datetime.now(datetime.UTC),
            )
        self.position.inode, self.position.offset, self.position.cursor = inode, offset, cursor
        self.position.lines += self.pending
        self.position.unknown += self.stats["unknown"] - self._unknown_stored
        self._unknown_stored = self.stats["unknown"]
        self.new_messages.clear()
        self.changed_messages.clear()
        self.new_recipients.clear()
        self.changed_recipients.clear()
        self.logins.clear()
        self.counts.clear()
        self._buckets.clear()
        self.pending = 0
        for queue_id in [q for q, m in self.open.items() if m.closed]:
            del self.open[queue_id]
        if clock.monotonic() - self._domains_read > DOMAINS_REFRESH:
            self.refresh_domains()
        self.parser.set_now()

    _unknown_stored = 0


class Adapter:
    """Python values into the database driver's, with the timestamps of a batch cached (a
    second of log holds many lines)."""

    def __init__(self) -> None:
        self.ops = connection.ops
        self.times: dict[Any, Any] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, datetime.datetime):
            adapted = self.times.get(value)
            if adapted is None:
                adapted = self.ops.adapt_datetimefield_value(value)
                self.times[value] = adapted
            return adapted
        return value


def write_rows(model: Any, row_class: type[Row], rows: Iterable[Row]) -> None:
    """Insert ``rows`` with one ``executemany`` (the driver makes multi-row inserts of it)."""
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    columns = list(row_class.DEFAULTS)
    get = attrgetter(*columns)
    times = [
        index
        for index, name in enumerate(columns)
        if isinstance(model._meta.get_field(name), models.DateTimeField)
    ]
    adapt = Adapter()
    values = []
    for row in rows:
        value = list(get(row))
        for index in times:
            if value[index] is not None:
                value[index] = adapt(value[index])
        values.append(value)
    names = ", ".join(quote(c) for c in columns)
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({names})"  # noqa: S608 - model's names
        f" VALUES ({', '.join(['%s'] * len(columns))})"
    )
    with connection.cursor() as cursor:
        for start in range(0, len(values), 1000):
            cursor.executemany(sql, values[start : start + 1000])


def update_rows(model: Any, rows: Iterable[Row], fields: list[str]) -> None:
    rows = list(rows)
    if not rows:
        return
    quote = connection.ops.quote_name
    adapt = Adapter()
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET"  # noqa: S608 - the model's names
        f" {', '.join(f'{quote(name)} = %s' for name in fields)}"
        f" WHERE {quote('id')} = %s"
    )
    values = [(*(adapt(getattr(row, name)) for name in fields), row.id) for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def add_counts(counts: Counter[tuple[datetime.datetime, datetime.date, str, str]]) -> None:
    """Add ``counts`` to the hourly and daily rows (created when missing), in one statement
    per table: concurrent followers on several hosts add to the same rows safely."""
    hourly: Counter[tuple[Any, str, str]] = Counter()
    daily: Counter[tuple[Any, str, str]] = Counter()
    ops = connection.ops
    for (hour, day, domain, kind), number in counts.items():
        hourly[(ops.adapt_datetimefield_value(hour), domain, kind)] += number
        daily[(ops.adapt_datefield_value(day), domain, kind)] += number
    _upsert(HourlyCount._meta.db_table, "hour", hourly)
    _upsert(DailyCount._meta.db_table, "day", daily)


def _upsert(table: str, column: str, rows: Counter[tuple[Any, str, str]]) -> None:
    quote = connection.ops.quote_name
    items = sorted(rows.items(), key=lambda item: (item[0][1], str(item[0][0]), item[0][2]))
    for start in range(0, len(items), 500):
        chunk = items[start : start + 500]
        values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
        params: list[Any] = []
        for (when, domain, kind), number in chunk:
            params += [when, domain, kind, number]
        count = quote("count")
        columns = f"({quote(column)}, {quote('domain')}, {quote('kind')}, {count})"
        if connection.vendor == "mysql":
            tail = f"ON DUPLICATE KEY UPDATE {count} = {count} + VALUES({count})"
        else:
            tail = (
                f"ON CONFLICT ({quote('domain')}, {quote(column)}, {quote('kind')}) DO UPDATE"
                f" SET {count} = {quote(table)}.{count} + excluded.{count}"
            )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(table)} {columns} VALUES {values} {tail}",  # noqa: S608
                params,
            )
