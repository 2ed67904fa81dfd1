"""Mail log lines into events (docs/activity.md, "What is read").

One function, :func:`parse_line`, turns one line of a mail log (traditional syslog or RFC 3339
timestamps) into an :class:`Event`, or None for a line that is understood but carries nothing
to store (a connect, a statistics line), or raises nothing at all for a line it does not know:
that gives an ``Event`` of kind ``unknown``. It imports no Django model, so it is as fast as the
regular expressions allow: the follower must keep up with at least 20,000 lines a second.

Formats read: Postfix 3.7 as Debian logs it (smtpd, postscreen, cleanup, pickup, qmgr, the
delivery agents smtp/lmtp/local/virtual/pipe/error/discard, bounce), Dovecot 2.3 login
processes, Postfix SMTP AUTH failures, amavisd-new and ExtMail/ExtMan webmail login lines.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from typing import Any

__all__ = ["UNKNOWN", "Event", "LineParser"]

UNKNOWN = "unknown"

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}

# "Sep  6 14:36:11 host prog[pid]: text" and "2026-12-01T03:12:00.123456+00:00 host prog[pid]:"
SYSLOG = re.compile(
    r"(?:(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<clock>\d\d:\d\d:\d\d)(?:\.\d+)?"
    r"|(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?))"
    r" (?P<host>\S+) (?P<prog>[^\s\[:]+)(?:\[\d+\])?: (?P<text>.*)"
)
# Short queue ids are upper-case hex; long ones (enable_long_queue_ids) have no vowels.
QUEUE_ID = re.compile(r"([0-9A-F]{5,12}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{10,20}): (.*)")
CLIENT = re.compile(r"client=([^,\s]+)(?:, sasl_method=([^,\s]+))?(?:, sasl_username=([^,\s]+))?")
ADDRESS_IN = re.compile(r"<([^>]*)>")
HOST_IP = re.compile(r"(.*)\[([^\]]*)\](?::\d+)?$")
DELIVERY = re.compile(
    r"to=<(?P<to>[^>]*)>, (?:orig_to=<(?P<orig>[^>]*)>, )?relay=(?P<relay>[^,]*),"
    r"(?: conn_use=\d+,)? delay=(?P<delay>[\d.]+),(?: delays=[\d./]+,)? dsn=(?P<dsn>[\d.]+),"
    r" status=(?P<status>\w+)(?: \((?P<reason>.*)\))?$"
)
QUEUED_AS = re.compile(r"queued as ([0-9A-Za-z]{5,20})\)?")
QMGR_FROM = re.compile(r"from=<(?P<from>[^>]*)>, size=(?P<size>\d+), nrcpt=(?P<nrcpt>\d+)")
QMGR_EXPIRED = re.compile(r"from=<(?P<from>[^>]*)>, status=expired")
# "reject: RCPT from host[ip]: 554 5.7.1 <x@y>: Relay access denied; from=<a> to=<b> proto=..."
REJECT = re.compile(
    r"(?P<action>reject|milter-reject|discard|hold): (?P<stage>\S+) from (?P<client>[^:]*?\]): "
    r"(?P<reason>.*?); from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?"
)
# cleanup: "reject: header Subject: x from host[ip]; from=<a> to=<b> proto=SMTP: 5.7.1 text"
CLEANUP_REJECT = re.compile(
    r"(?P<action>reject|discard|hold): (?P<what>.*?) from (?P<client>\S*?\]); "
    r"from=<(?P<from>[^>]*)>(?: to=<(?P<to>[^>]*)>)?[^:]*: (?P<reason>.*)"
)
SASL_FAILED = re.compile(
    r"warning: (?P<client>\S+?\]): SASL (?P<method>\S+) authentication failed: ?(?P<reason>[^,]*)"
    r"(?:, sasl_username=(?P<user>\S+))?"
)
DOVECOT = re.compile(
    r"(?P<service>imap|pop3|submission|managesieve)-login: (?P<what>.*?): "
    r"user=<(?P<user>[^>]*)>(?P<rest>.*)"
)
RIP = re.compile(r"rip=([0-9A-Fa-f:.]+)")
AMAVIS = re.compile(
    r"\([\w-]+\) (?P<action>Passed|Blocked|Not-Delivered|Discarded) (?P<verdict>[A-Z-]+)"
    r"(?: \([^)]*\))?(?: \{[^}]*\})?,.*? <(?P<from>[^>]*)> -> (?P<to>[^,]*(?:,<[^>]*>)*)"
)
AMAVIS_QID = re.compile(r"Queue-ID: ([0-9A-Za-z]+)")
AMAVIS_QUEUED_AS = re.compile(r"queued_as: ([0-9A-Za-z]+)")
AMAVIS_MSGID = re.compile(r"Message-ID: <([^>]*)>")
EXTMAIL = re.compile(
    r"user=<(?P<user>[^>]*)>, client=(?P<client>[^,]*), module=(?P<module>[^,]*), "
    r"status=(?P<status>\w+)"
)
BOUNCE = re.compile(
    r"(?:sender|postmaster) (?:non-delivery|delivery status|delay) notification: (\S+)"
)

#: Postfix programs whose lines carry nothing the panel stores (recognised, skipped).
POSTFIX_SKIPPED = frozenset(
    {
        "anvil", "master", "postfix-script", "scache", "tlsmgr", "tlsproxy", "verify",
        "postsuper", "sendmail", "postqueue", "postdrop", "trivial-rewrite", "proxymap",
        "dnsblog", "postlogd", "showq", "flush", "spawn", "policy-spf", "postmap",
    }
)  # fmt: skip
DELIVERY_AGENTS = frozenset(
    {"smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard"}
)
LOGIN_OK = frozenset({"loginok", "ok", "success"})


class Event:
    """What one log line says. ``kind`` names it; ``data`` holds its fields."""

    __slots__ = ("data", "kind", "queue_id", "time")

    def __init__(
        self, kind: str, time: datetime.datetime | None, queue_id: str = "", data: Any = None
    ) -> None:
        self.kind = kind
        self.time = time
        self.queue_id = queue_id
        self.data: dict[str, Any] = data if data is not None else {}

    def __repr__(self) -> str:
        return f"Event({self.kind!r}, {self.time!r}, {self.queue_id!r}, {self.data!r})"


def split_client(client: str) -> tuple[str, str]:
    """``host[1.2.3.4]`` (or ``host[ip]:port``) into its name and address."""
    match = HOST_IP.match(client)
    if match is None:
        return client, ""
    return match.group(1), match.group(2)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower() if "@" in address else ""


class LineParser:
    """Parses lines; keeps the caches that make timestamps cheap.

    ``time_zone`` is the zone of traditional syslog timestamps (they carry none); their year is
    the one that puts the line not more than a day in the future of ``now``: a December line
    read in January is of the year before.
    """

    def __init__(self, time_zone: str = "UTC", now: datetime.datetime | None = None) -> None:
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.set_now(now)
        self._stamp = ""
        self._stamp_time: datetime.datetime | None = None

    def set_now(self, now: datetime.datetime | None = None) -> None:
        now = now or datetime.datetime.now(datetime.UTC)
        self.now_local = now.astimezone(self.zone)
        self._stamp = ""

    def timestamp(self, match: re.Match[str]) -> datetime.datetime:
        iso = match.group("iso")
        if iso is not None:
            if iso == self._stamp:
                return self._stamp_time  # type: ignore[return-value]
            value = datetime.datetime.fromisoformat(iso.replace(" ", "T"))
            if value.tzinfo is None:
                value = value.replace(tzinfo=self.zone)
            value = value.astimezone(datetime.UTC)
            self._stamp, self._stamp_time = iso, value
            return value
        stamp = match.group("mon") + match.group("day") + match.group("clock")
        if stamp == self._stamp:
            return self._stamp_time  # type: ignore[return-value]
        month = MONTHS[match.group("mon")]
        day = int(match.group("day"))
        hour, minute, second = (int(part) for part in match.group("clock").split(":"))
        year = self.now_local.year
        value = None
        for candidate in (year, year - 1):
            try:
                local = datetime.datetime(
                    candidate, month, day, hour, minute, second, tzinfo=self.zone
                )
            except ValueError:  # 29 February of a year that has none
                continue
            if local <= self.now_local + datetime.timedelta(days=1):
                value = local
                break
        if value is None:
            raise ValueError("no year fits")
        value = value.astimezone(datetime.UTC)
        self._stamp, self._stamp_time = stamp, value
        return value

    def parse_line(self, line: str) -> Event | None:
        """The event of ``line``; None for a line understood but of no use."""
        match = SYSLOG.match(line)
        if match is None:
            return Event(UNKNOWN, None, "", {"line": line})
        try:
            time = self.timestamp(match)
        except (ValueError, KeyError):
            return Event(UNKNOWN, None, "", {"line": line})
        return self.parse_message(match.group("prog"), match.group("text"), time)

    def parse_message(self, program: str, text: str, time: datetime.datetime) -> Event | None:
        """The event of one log message of ``program`` (``postfix/smtpd``, ``dovecot``...)."""
        if program.startswith("postfix"):
            service = program.rpartition("/")[2]
            return self.postfix(service, text.rstrip(), time)
        if program in ("dovecot", "imap-login", "pop3-login"):
            if program != "dovecot":
                text = f"{program}: {text}"
            return self.dovecot(text.rstrip(), time)
        if program.startswith("amavis"):
            return self.amavis(text, time)
        if program in ("extmail", "extman"):
            return self.extmail(program, text, time)
        return None

    # --- Postfix -------------------------------------------------------------------------
    def postfix(self, service: str, text: str, time: datetime.datetime) -> Event | None:
        if text.startswith("NOQUEUE: "):
            return self.reject(text[9:], time, "")
        match = QUEUE_ID.match(text)
        if match is None:
            if service in ("smtpd", "postscreen") or service in POSTFIX_SKIPPED:
                if text.startswith("warning: ") and "SASL" in text:
                    return self.sasl_failure(text, time)
                return None  # connect, disconnect, lost connection, statistics, warnings
            if service in DELIVERY_AGENTS or service in ("qmgr", "cleanup", "pickup", "bounce"):
                return None  # their warnings and statistics
            return Event(UNKNOWN, time, "", {"line": text})
        queue_id, rest = match.groups()
        if service in DELIVERY_AGENTS:
            return self.delivery(service, queue_id, rest, time)
        if service == "qmgr":
            if rest == "removed":
                return Event("removed", time, queue_id)
            found = QMGR_FROM.match(rest)
            if found is not None:
                return Event(
                    "queued",
                    time,
                    queue_id,
                    {
                        "sender": found.group("from"),
                        "size": int(found.group("size")),
                        "nrcpt": int(found.group("nrcpt")),
                    },
                )
            found = QMGR_EXPIRED.match(rest)
            if found is not None:
                return Event("expired", time, queue_id, {"sender": found.group("from")})
            return None  # "skipped, still being delivered" and the like
        if service == "smtpd":
            if rest.startswith("client="):
                found = CLIENT.match(rest)
                if found is None:
                    return Event(UNKNOWN, time, queue_id, {"line": text})
                client, _method, user = found.groups()
                _name, ip = split_client(client)
                data = {"client": client, "client_ip": ip, "origin": "smtp"}
                if user:
                    data["sasl_username"] = user
                return Event("client", time, queue_id, data)
            return self.reject(rest, time, queue_id)
        if service == "cleanup":
            if rest.startswith("message-id="):
                value = rest[11:]
                if value.startswith("<") and value.endswith(">"):
                    value = value[1:-1]
                return Event("message_id", time, queue_id, {"message_id": value[:255]})
            found = CLEANUP_REJECT.match(rest)
            if found is not None:
                return self._reject_event(found, time, queue_id)
            if rest.startswith("milter-"):
                return self.reject(rest, time, queue_id)
            return None  # resent-message-id, warnings
        if service == "pickup":
            if rest.startswith("uid="):
                found = re.search(r"from=<([^>]*)>", rest)
                return Event(
                    "client",
                    time,
                    queue_id,
                    {"origin": "local", "sender": found.group(1) if found else ""},
                )
            return None
        if service == "bounce":
            found = BOUNCE.search(rest)
            if found is not None:
                return Event("notification", time, queue_id, {"notice": found.group(1)})
            return None
        if service in ("postscreen", *POSTFIX_SKIPPED):
            return None
        return Event(UNKNOWN, time, queue_id, {"line": text})

    def delivery(
        self, agent: str, queue_id: str, rest: str, time: datetime.datetime
    ) -> Event | None:
        if not rest.startswith("to=<"):
            return None  # "host ... said:", "lost connection", "conversation ... timed out"
        found = DELIVERY.match(rest)
        if found is None:
            return Event(UNKNOWN, time, queue_id, {"line": rest})
        reason = found.group("reason") or ""
        data = {
            "agent": agent,
            "to": found.group("to"),
            "orig_to": found.group("orig") or "",
            "relay": found.group("relay"),
            "delay": float(found.group("delay")),
            "dsn": found.group("dsn"),
            "status": found.group("status"),
            "reason": reason,
        }
        if "queued as" in reason:
            queued = QUEUED_AS.search(reason)
            if queued is not None:
                data["next_queue_id"] = queued.group(1)
        return Event("delivery", time, queue_id, data)

    def reject(self, text: str, time: datetime.datetime, queue_id: str) -> Event | None:
        found = REJECT.match(text)
        if found is None:
            if text.startswith(("reject", "milter-reject")):
                return Event(UNKNOWN, time, queue_id, {"line": text})
            return None  # "warning:", "filter:", "lost connection", ...
        return self._reject_event(found, time, queue_id)

    def _reject_event(self, found: re.Match[str], time: datetime.datetime, queue_id: str) -> Event:
        action = found.group("action")
        client = found.group("client")
        reason = found.group("reason")
        dsn = re.search(r"\b([245]\.\d{1,3}\.\d{1,3})\b", reason)
        return Event(
            "reject",
            time,
            queue_id,
            {
                "action": "reject" if action == "milter-reject" else action,
                "client": client,
                "client_ip": split_client(client)[1],
                "sender": found.group("from"),
                "to": found.group("to") or "",
                "reason": reason,
                "dsn": dsn.group(1) if dsn else "",
            },
        )

    def sasl_failure(self, text: str, time: datetime.datetime) -> Event | None:
        found = SASL_FAILED.match(text)
        if found is None:
            return None
        return Event(
            "login",
            time,
            "",
            {
                "service": "smtp",
                "address": found.group("user") or "",
                "client_ip": split_client(found.group("client"))[1],
                "success": False,
                "detail": (found.group("reason") or "authentication failed")[:255],
            },
        )

    # --- Dovecot, amavis, ExtMail -------------------------------------------------------
    def dovecot(self, text: str, time: datetime.datetime) -> Event | None:
        found = DOVECOT.match(text)
        if found is None:
            return None  # auth, imap(user) sessions, master: the login processes say it all
        what = found.group("what")
        user = found.group("user")
        rip = RIP.search(found.group("rest"))
        ip = rip.group(1) if rip else ""
        if what == "Login":
            success = True
            detail = ""
        elif "auth failed" in what or "auth_failed" in what or "password" in what.lower():
            success = False
            detail = what[:255]
        else:
            return None  # no auth attempts, disconnected before login
        return Event(
            "login",
            time,
            "",
            {
                "service": found.group("service"),
                "address": user,
                "client_ip": ip,
                "success": success,
                "detail": detail,
            },
        )

    def amavis(self, text: str, time: datetime.datetime) -> Event | None:
        found = AMAVIS.search(text)
        if found is None:
            return None
        recipients = ADDRESS_IN.findall(found.group("to"))
        queue_id = AMAVIS_QID.search(text)
        queued_as = AMAVIS_QUEUED_AS.search(text)
        message_id = AMAVIS_MSGID.search(text)
        return Event(
            "filter",
            time,
            queue_id.group(1) if queue_id else "",
            {
                "action": found.group("action"),
                "verdict": found.group("verdict"),
                "sender": found.group("from"),
                "recipients": recipients,
                "queued_as": queued_as.group(1) if queued_as else "",
                "message_id": message_id.group(1) if message_id else "",
            },
        )

    def extmail(self, program: str, text: str, time: datetime.datetime) -> Event | None:
        found = EXTMAIL.match(text)
        if found is None:
            return None
        if found.group("module") != "login":
            return None
        status = found.group("status")
        return Event(
            "login",
            time,
            "",
            {
                "service": "webmail" if program == "extmail" else "extman",
                "address": found.group("user"),
                "client_ip": found.group("client").strip(),
                "success": status.lower() in LOGIN_OK,
                "detail": "" if status.lower() in LOGIN_OK else status[:255],
            },
        )
