"""A generated mail log shaped like a real Postfix 3.7 server's (Debian, rsyslog with RFC 3339
timestamps), for ``manage.py bench_activity``: inbound mail through amavis into Maildirs,
users' outbound mail with SMTP AUTH, deferrals, bounces, rejects, IMAP/POP3 logins and the
connect/disconnect lines that make up much of a real log."""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterator


def generated_log(
    lines: int,
    *,
    domains: int = 50,
    start: datetime.datetime | None = None,
    seed: int = 12,
) -> Iterator[str]:
    """About ``lines`` lines (whole messages), one second of log time per message."""
    rng = random.Random(seed)  # noqa: S311 - a repeatable test log, no secret
    when = start or datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    names = [f"d{n:03d}.bench.test" for n in range(domains)]
    produced = 0
    serial = 0x100000
    while produced < lines:
        when += datetime.timedelta(seconds=1)
        t = when.isoformat()
        host = f"{t} mx1"
        domain = rng.choice(names)
        user = f"user{rng.randrange(2000)}@{domain}"
        outsider = f"p{rng.randrange(100000)}@example{rng.randrange(500)}.net"
        serial += 1
        qid = f"{serial:X}"
        ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
        roll = rng.random()
        block: list[str]
        if roll < 0.08:  # refused before queueing
            block = [
                f"{host} postfix/smtpd[2231]: connect from unknown[{ip}]",
                f"{host} postfix/smtpd[2231]: NOQUEUE: reject: RCPT from unknown[{ip}]: 550 5.1.1"
                f" <nobody{serial}@{domain}>: Recipient address rejected: User unknown in virtual"
                f" mailbox table; from=<{outsider}> to=<nobody{serial}@{domain}> proto=ESMTP"
                " helo=<spammer>",
                f"{host} postfix/smtpd[2231]: disconnect from unknown[{ip}] ehlo=1 mail=1 rcpt=0/1"
                " quit=1 commands=3/4",
            ]
        elif roll < 0.15:  # a login
            ok = rng.random() < 0.8
            what = "Login" if ok else "Disconnected (auth failed, 1 attempts in 2 secs)"
            block = [
                f"{t} mx1 dovecot: imap-login: {what}: user=<{user}>, method=PLAIN, rip={ip},"
                f" lip=192.0.2.1, mpid={serial % 60000}, TLS, session=<a{serial:x}>"
            ]
        elif roll < 0.60:  # inbound, through amavis, into the Maildir
            inner = f"{serial + 0x10000000:X}"
            block = [
                f"{host} postfix/smtpd[2231]: connect from mail.example.net[{ip}]",
                f"{host} postfix/smtpd[2231]: {qid}: client=mail.example.net[{ip}]",
                f"{host} postfix/cleanup[2240]: {qid}: message-id=<{serial}@example.net>",
                f"{host} postfix/qmgr[1876]: {qid}: from=<{outsider}>,"
                f" size={rng.randrange(900, 90000)}, nrcpt=1 (queue active)",
                f"{host} postfix/smtpd[2231]: disconnect from mail.example.net[{ip}] ehlo=1 mail=1"
                " rcpt=1 data=1 quit=1 commands=5",
                f"{host} postfix/smtpd[2250]: connect from localhost[127.0.0.1]",
                f"{host} postfix/smtpd[2250]: {inner}: client=localhost[127.0.0.1]",
                f"{host} postfix/cleanup[2240]: {inner}: message-id=<{serial}@example.net>",
                f"{host} postfix/qmgr[1876]: {inner}: from=<{outsider}>, size=2000, nrcpt=1"
                " (queue active)",
                f"{host} postfix/smtpd[2250]: disconnect from localhost[127.0.0.1] ehlo=1 mail=1"
                " rcpt=1 data=1 quit=1 commands=5",
                f"{host} amavis[2376]: (02376-{serial % 100:02d}) Passed CLEAN {{RelayedInbound}},"
                f" [{ip}]:41234 [{ip}] <{outsider}> -> <{user}>, Queue-ID: {qid}, Message-ID:"
                f" <{serial}@example.net>, mail_id: x{serial:x}, Hits: -1.2, size: 2000,"
                f" queued_as: {inner}, 180 ms",
                f"{host} postfix/smtp[2260]: {qid}: to=<{user}>, relay=127.0.0.1[127.0.0.1]:10024,"
                " delay=0.3, delays=0.05/0/0/0.25, dsn=2.0.0, status=sent (250 2.0.0 from"
                f" MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {inner})",
                f"{host} postfix/qmgr[1876]: {qid}: removed",
                f"{host} postfix/virtual[2270]: {inner}: to=<{user}>, relay=virtual, delay=0.02,"
                " delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to maildir)",
                f"{host} postfix/qmgr[1876]: {inner}: removed",
            ]
        else:  # outbound with SMTP AUTH, sometimes deferred or bounced
            status = rng.random()
            block = [
                f"{host} postfix/submission/smtpd[3001]: connect from unknown[{ip}]",
                f"{host} postfix/submission/smtpd[3001]: {qid}: client=unknown[{ip}],"
                f" sasl_method=PLAIN, sasl_username={user}",
                f"{host} postfix/cleanup[2240]: {qid}: message-id=<{serial}@{domain}>",
                f"{host} postfix/qmgr[1876]: {qid}: from=<{user}>,"
                f" size={rng.randrange(900, 90000)}, nrcpt=1 (queue active)",
                f"{host} postfix/submission/smtpd[3001]: disconnect from unknown[{ip}] ehlo=2"
                " starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8",
            ]
            relay = f"mx.example{serial % 500}.net[203.0.113.{serial % 250}]:25"
            if status < 0.1:
                block.append(
                    f"{host} postfix/smtp[2261]: {qid}: to=<{outsider}>, relay={relay}, delay=2,"
                    " delays=0.1/0/1/0.9, dsn=4.7.1, status=deferred (host said: 450 4.7.1 Try"
                    " again later (in reply to RCPT TO command))"
                )
            if status < 0.05:
                block += [
                    f"{host} postfix/smtp[2261]: {qid}: to=<{outsider}>, relay={relay}, delay=3,"
                    " delays=0.1/0/1/1.9, dsn=5.1.1, status=bounced (host said: 550 5.1.1 No such"
                    " user (in reply to RCPT TO command))",
                    f"{host} postfix/bounce[2280]: {qid}: sender non-delivery notification:"
                    f" {serial + 0x20000000:X}",
                ]
            else:
                block.append(
                    f"{host} postfix/smtp[2261]: {qid}: to=<{outsider}>, relay={relay}, delay=1.1,"
                    " delays=0.1/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as"
                    f" {serial:x})"
                )
            block.append(f"{host} postfix/qmgr[1876]: {qid}: removed")
        produced += len(block)
        yield from block
