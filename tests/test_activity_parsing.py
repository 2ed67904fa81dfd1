"""The mail log parser on real line formats: Postfix 3.7 as Debian logs it, Dovecot 2.3,
amavisd-new, Postfix SMTP AUTH failures and the ExtMail lines of an EMOS server's maillog
(the operations notes in the seed documents)."""

from __future__ import annotations

import datetime

import pytest

from activity.parsing import UNKNOWN, LineParser
from conftest import FIXTURES

UTC = datetime.UTC
NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def parser() -> LineParser:
    return LineParser("Asia/Shanghai", now=NOW)


# From an EMOS server's /var/log/maillog (CentOS syslog, local time, no year), as the
# operations notes quote it.
EMOS = (FIXTURES / "maillog-emos.txt").read_text()


def test_emos_maillog_lines_from_the_operations_notes(parser):
    events = [parser.parse_line(line) for line in EMOS.splitlines()]
    kinds = [event.kind if event else None for event in events]
    assert kinds == [
        "login",
        None,
        "client",
        "message_id",
        "queued",
        None,
        None,
        "client",
        "message_id",
        "queued",
        None,
        "filter",
        "delivery",
        "removed",
        "delivery",
        "removed",
        "filter",
    ]
    login = events[0]
    # Local time of Shanghai, the year of the reading (September is before December).
    assert login.time == datetime.datetime(2013 + 13, 9, 6, 6, 35, 9, tzinfo=UTC)
    assert login.data == {
        "service": "webmail",
        "address": "szyzln@wangpiao.cn",
        "client_ip": "218.241.219.28",
        "success": True,
        "detail": "",
    }
    assert events[2].queue_id == "D0F9DE86A3"
    assert events[2].data["client_ip"] == "127.0.0.1"
    assert events[3].data == {"message_id": "20130906063611.D0F9DE86A3@mail.wangpiao.cn"}
    assert events[4].data == {"sender": "szyzln@wangpiao.cn", "size": 614, "nrcpt": 1}
    assert events[11].data["verdict"] == "CLEAN"
    assert events[11].data["recipients"] == ["szyzln@vip.qq.com"]
    assert events[11].data["queued_as"] == "EFBAFE86A5"
    hop = events[12].data
    assert hop["relay"] == "127.0.0.1[127.0.0.1]:10024"
    assert hop["status"] == "sent" and hop["next_queue_id"] == "EFBAFE86A5"
    final = events[14].data
    assert final["relay"] == "mx3.qq.com[58.250.132.64]:25"
    assert final["delay"] == 0.89 and final["dsn"] == "2.0.0"
    assert final["reason"] == "250 Ok: queued as "
    assert "next_queue_id" not in final


def test_a_december_line_read_in_january_is_of_the_year_before():
    parser = LineParser("UTC", now=datetime.datetime(2027, 1, 1, 0, 5, tzinfo=UTC))
    event = parser.parse_line("Dec 31 23:59:58 mx postfix/qmgr[12]: 3F1A22E0A4B: removed")
    assert event.time == datetime.datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    # A line of "tomorrow" (a clock a little ahead) stays in the current year.
    event = parser.parse_line("Jan  1 10:00:00 mx postfix/qmgr[12]: 3F1A22E0A4B: removed")
    assert event.time.year == 2027


def test_rfc3339_timestamps_carry_their_own_zone(parser):
    event = parser.parse_line(
        "2026-11-30T22:15:03.123456+08:00 mx1 postfix/qmgr[811]: 4B2C1E0A11: removed"
    )
    assert event.kind == "removed"
    assert event.time == datetime.datetime(2026, 11, 30, 14, 15, 3, 123456, tzinfo=UTC)


# Postfix 3.7 on Debian 12 (rsyslog's RFC 3339 default).
DEBIAN = "2026-12-01T09:00:00.000000+00:00 mx postfix/"


@pytest.mark.parametrize(
    ("line", "kind", "fields"),
    [
        (
            "smtpd[2231]: 4Fq2Wl0Zc7z1Q: client=mail-ej1-f41.google.com[209.85.218.41]",
            "client",
            {"client_ip": "209.85.218.41", "origin": "smtp"},
        ),
        (
            "submission/smtpd[2240]: 71A3E1E0C5: client=unknown[198.51.100.23], "
            "sasl_method=PLAIN, sasl_username=anna@a.test",
            "client",
            {"client_ip": "198.51.100.23", "sasl_username": "anna@a.test"},
        ),
        (
            "pickup[1875]: 9D0C81E0C8: uid=33 from=<www-data>",
            "client",
            {"origin": "local", "sender": "www-data"},
        ),
        (
            "virtual[2250]: 71A3E1E0C5: to=<bob@a.test>, relay=virtual, delay=0.04, "
            "delays=0.02/0.01/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)",
            "delivery",
            {"agent": "virtual", "status": "sent", "relay": "virtual", "dsn": "2.0.0"},
        ),
        (
            "lmtp[3100]: 71A3E1E0C5: to=<bob@a.test>, orig_to=<sales@a.test>, "
            "relay=mx.a.test[private/dovecot-lmtp], delay=0.1, delays=0.01/0.01/0.02/0.06, "
            "dsn=2.0.0, status=sent (250 2.0.0 <bob@a.test> dGhpcyBp Saved)",
            "delivery",
            {"orig_to": "sales@a.test", "status": "sent"},
        ),
        (
            "pipe[3101]: 71A3E1E0C5: to=<bob@a.test>, relay=maildrop, delay=0.2, "
            "delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (delivered via maildrop service)",
            "delivery",
            {"agent": "pipe", "relay": "maildrop"},
        ),
        (
            "smtp[2260]: 9D0C81E0C8: to=<x@example.net>, relay=mx.example.net[203.0.113.7]:25, "
            "conn_use=2, delay=3.2, delays=0.1/0/1.1/2, dsn=4.7.1, status=deferred (host "
            "mx.example.net[203.0.113.7] said: 450 4.7.1 Try again later (in reply to RCPT TO "
            "command))",
            "delivery",
            {"status": "deferred", "dsn": "4.7.1", "delay": 3.2},
        ),
        (
            "smtp[2261]: 9D0C81E0C8: to=<nobody@example.org>, relay=none, delay=0.05, "
            "delays=0.04/0/0.01/0, dsn=5.4.4, status=bounced (Host or domain name not found. "
            "Name service error for name=example.org type=AAAA: Host not found)",
            "delivery",
            {"status": "bounced", "relay": "none", "dsn": "5.4.4"},
        ),
        (
            "smtpd[2231]: NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 454 4.7.1 "
            "<victim@example.com>: Relay access denied; from=<spam@example.net> "
            "to=<victim@example.com> proto=ESMTP helo=<spam>",
            "reject",
            {
                "action": "reject",
                "client_ip": "203.0.113.50",
                "sender": "spam@example.net",
                "to": "victim@example.com",
                "dsn": "4.7.1",
            },
        ),
        (
            "smtpd[2231]: NOQUEUE: reject: RCPT from mail.example.net[198.51.100.4]: 550 5.1.1 "
            "<nobody@a.test>: Recipient address rejected: User unknown in virtual mailbox table;"
            " from=<x@example.net> to=<nobody@a.test> proto=ESMTP helo=<mail.example.net>",
            "reject",
            {"to": "nobody@a.test", "dsn": "5.1.1"},
        ),
        (
            "cleanup[2240]: 3D2C1E0C9: reject: header Subject: BUY NOW from "
            "unknown[203.0.113.9]; from=<s@example.net> to=<anna@a.test> proto=ESMTP "
            "helo=<x>: 5.7.1 message content rejected",
            "reject",
            {"to": "anna@a.test", "reason": "5.7.1 message content rejected", "dsn": "5.7.1"},
        ),
        (
            "bounce[2270]: 9D0C81E0C8: sender non-delivery notification: 4E1C91E0D0",
            "notification",
            {"notice": "4E1C91E0D0"},
        ),
        (
            "qmgr[1876]: 9D0C81E0C8: from=<anna@a.test>, status=expired, returned to sender",
            "expired",
            {"sender": "anna@a.test"},
        ),
        (
            "smtpd[2300]: warning: unknown[203.0.113.77]: SASL LOGIN authentication failed: "
            "UGFzc3dvcmQ6",
            "login",
            {"service": "smtp", "address": "", "client_ip": "203.0.113.77", "success": False},
        ),
        (
            "smtpd[2300]: warning: unknown[203.0.113.77]: SASL PLAIN authentication failed: "
            "(reason unavailable), sasl_username=anna@a.test",
            "login",
            {"address": "anna@a.test", "success": False},
        ),
    ],
)
def test_postfix_lines(parser, line, kind, fields):
    event = parser.parse_line(DEBIAN + line)
    assert event is not None and event.kind == kind
    assert {key: event.data[key] for key in fields} == fields


@pytest.mark.parametrize(
    "line",
    [
        "smtpd[2231]: connect from unknown[203.0.113.50]",
        "smtpd[2231]: disconnect from unknown[203.0.113.50] ehlo=1 mail=1 rcpt=0/1 quit=1"
        " commands=3/4",
        "smtpd[2231]: lost connection after AUTH from unknown[203.0.113.77]",
        "postscreen[800]: CONNECT from [203.0.113.50]:41234 to [192.0.2.1]:25",
        "anvil[1900]: statistics: max connection rate 1/60s for (smtp:203.0.113.50) at"
        " Dec  1 09:00:00",
        "smtp[2260]: 9D0C81E0C8: host mx.example.net[203.0.113.7] said: 450 4.7.1 later",
        "qmgr[1876]: 9D0C81E0C8: skipped, still being delivered",
        "postfix-script[100]: starting the Postfix mail system",
        "master[101]: daemon started -- version 3.7.11, configuration /etc/postfix",
    ],
)
def test_lines_without_anything_to_store_are_skipped(parser, line):
    assert parser.parse_line(DEBIAN + line) is None


DOVECOT = "2026-12-01T09:00:00+00:00 mx dovecot: "


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "imap-login: Login: user=<anna@a.test>, method=PLAIN, rip=203.0.113.5, "
            "lip=192.0.2.1, mpid=12345, TLS, session=<abcDEF12>",
            ("imap", "anna@a.test", "203.0.113.5", True),
        ),
        (
            "pop3-login: Login: user=<bob@a.test>, method=PLAIN, rip=2001:db8::7, "
            "lip=2001:db8::1, mpid=222, session=<x>",
            ("pop3", "bob@a.test", "2001:db8::7", True),
        ),
        (
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<anna@a.test>, "
            "method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, TLS, session=<Zm9v>",
            ("imap", "anna@a.test", "203.0.113.9", False),
        ),
        (
            "pop3-login: Aborted login (auth failed, 3 attempts in 15 secs): "
            "user=<carol@b.test>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, session=<y>",
            ("pop3", "carol@b.test", "203.0.113.9", False),
        ),
        (
            "imap-login: Login aborted: Connection closed (auth failed, 3 attempts in 14 secs) "
            "(auth_failed): user=<anna@a.test>, method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, "
            "session=<z>",
            ("imap", "anna@a.test", "203.0.113.9", False),
        ),
    ],
)
def test_dovecot_logins(parser, line, expected):
    event = parser.parse_line(DOVECOT + line)
    data = event.data
    assert (data["service"], data["address"], data["client_ip"], data["success"]) == expected


@pytest.mark.parametrize(
    "line",
    [
        "imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=203.0.113.9, "
        "lip=192.0.2.1, session=<q>",
        "imap(anna@a.test)<12345><abcDEF12>: Disconnected: Logged out in=52 out=1004",
        "auth: sql(anna@a.test,203.0.113.9,<Zm9v>): Password mismatch",
        "master: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3",
    ],
)
def test_dovecot_lines_without_a_login_are_skipped(parser, line):
    assert parser.parse_line(DOVECOT + line) is None


AMAVIS = "Dec  1 09:00:00 mx amavis[2501]: (02501-04) "


@pytest.mark.parametrize(
    ("text", "verdict", "queue_id"),
    [
        (
            "Passed CLEAN {RelayedInbound}, [209.85.218.41]:40112 [209.85.218.41] "
            "<x@example.net> -> <anna@a.test>, Queue-ID: 4F1C21E0A1, Message-ID: <m1@x>, "
            "mail_id: ibwCy9ScZyFz, Hits: -0.746, size: 1694, queued_as: 971A119C86, 535 ms",
            "CLEAN",
            "4F1C21E0A1",
        ),
        (
            "Blocked SPAM {DiscardedInbound,Quarantined}, [203.0.113.9]:5512 [203.0.113.9] "
            "<s@example.net> -> <anna@a.test>,<bob@a.test>, Queue-ID: 4F1C21E0A2, "
            "Message-ID: <m2@x>, mail_id: abc, Hits: 25.1, size: 4000, 300 ms",
            "SPAM",
            "4F1C21E0A2",
        ),
        (
            "Blocked INFECTED (Eicar-Signature) {DiscardedInbound,Quarantined}, "
            "[203.0.113.9]:5512 [203.0.113.9] <s@example.net> -> <anna@a.test>, "
            "Queue-ID: 4F1C21E0A3, mail_id: def, Hits: -, size: 800, 100 ms",
            "INFECTED",
            "4F1C21E0A3",
        ),
    ],
)
def test_amavis_verdicts(parser, text, verdict, queue_id):
    event = parser.parse_line(AMAVIS + text)
    assert event.kind == "filter"
    assert event.data["verdict"] == verdict
    assert event.queue_id == queue_id
    assert "anna@a.test" in event.data["recipients"]


def test_an_extmail_login_failure(parser):
    event = parser.parse_line(
        "Dec  1 08:00:00 mail extmail[3981]: user=<anna@a.test>, client=203.0.113.5, "
        "module=login, status=badlogin"
    )
    assert event.data["success"] is False and event.data["detail"] == "badlogin"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        "Dec 99 99:99:99 mx postfix/qmgr[1]: ABCDE12345: removed",
        "Feb 30 10:00:00 mx postfix/qmgr[1]: ABCDE12345: removed",
        "2026-13-45T99:00:00Z mx postfix/qmgr[1]: ABCDE12345: removed",
        "Dec  1 09:00:00 mx postfix/smtp[2]: ABCDE12345: to=<a@b>, relay=",
        "Dec  1 09:00:00 mx postfix/newthing[2]: ABCDE12345: something new",
        "Dec  1 09:00:00 mx postfix/smtpd[2]: NOQUEUE: reject: something odd",
    ],
)
def test_lines_the_parser_does_not_know_are_counted_as_unknown(parser, line):
    event = parser.parse_line(line)
    assert event is not None and event.kind == UNKNOWN


def test_other_programs_are_skipped(parser):
    assert parser.parse_line("Dec  1 09:00:00 mx CRON[12]: (root) CMD (true)") is None
