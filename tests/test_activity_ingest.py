"""The follower: lines into messages, recipients, logins and counts; a log rotated by rename
or by copytruncate while it is followed (nothing lost, nothing counted twice); a restart, also
after a crash between two writes, goes on where the last write stopped."""

from __future__ import annotations

import datetime
import os
import shutil
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from activity.follow import FileFollower, JournalFollower
from activity.ingest import Ingestor
from activity.models import DailyCount, FollowerPosition, HourlyCount, Login, Message, Recipient
from conftest import FIXTURES

pytestmark = pytest.mark.django_db

HOUR = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.UTC)


def stamp(second: int = 0) -> str:
    return (HOUR + datetime.timedelta(seconds=second)).isoformat()


def message_lines(n: int, *, sender: str = "anna@a.test", to: str = "x@example.net") -> list[str]:
    """One message from the outside world (or a user) delivered by smtp, as Postfix logs it."""
    qid = f"{n:010X}"
    t = stamp(n % 3000)
    return [
        f"{t} mx postfix/smtpd[11]: connect from ext.example.net[198.51.100.9]",
        f"{t} mx postfix/smtpd[11]: {qid}: client=ext.example.net[198.51.100.9]",
        f"{t} mx postfix/cleanup[12]: {qid}: message-id=<{n}@example.net>",
        f"{t} mx postfix/qmgr[13]: {qid}: from=<{sender}>, size={1000 + n}, nrcpt=1 (queue active)",
        f"{t} mx postfix/smtp[14]: {qid}: to=<{to}>, relay=mx.example.net[203.0.113.7]:25,"
        f" delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as XY)",
        f"{t} mx postfix/qmgr[13]: {qid}: removed",
        f"{t} mx postfix/smtpd[11]: disconnect from ext.example.net[198.51.100.9]",
    ]


def write(path: Path, lines: list[str], mode: str = "a") -> None:
    with path.open(mode) as handle:
        handle.write("".join(line + "\n" for line in lines))


def follower(path: Path, **kwargs) -> FileFollower:
    ingestor = Ingestor(host="mx1", source=str(path))
    kwargs.setdefault("rotate_grace", 0)
    result = FileFollower(path, ingestor, batch_lines=kwargs.pop("batch_lines", 50), **kwargs)
    result.resume()
    return result


def assert_each_once(count: int) -> None:
    assert Message.objects.count() == count
    assert Recipient.objects.count() == count
    ids = sorted(Message.objects.values_list("message_id", flat=True))
    assert ids == sorted(f"{n}@example.net" for n in range(count))
    assert set(Recipient.objects.values_list("status", "attempts")) == {("sent", 1)}
    sent = HourlyCount.objects.filter(domain="", kind="sent").values_list("count", flat=True)
    assert sum(sent) == count
    assert Message.objects.filter(removed_at__isnull=True).count() == 0


def test_a_message_becomes_one_row_with_its_recipient_and_counts(tmp_path, make_domain):
    make_domain("a.test")
    log = tmp_path / "mail.log"
    write(log, message_lines(1))
    f = follower(log)
    f.poll()

    (message,) = Message.objects.all()
    assert (message.host, message.queue_id, message.sender, message.size) == (
        "mx1",
        "0000000001",
        "anna@a.test",
        1001,
    )
    assert message.client_ip == "198.51.100.9" and message.message_id == "1@example.net"
    assert message.removed_at is not None
    (recipient,) = message.recipients.all()
    assert (recipient.address, recipient.status, recipient.dsn, recipient.relay) == (
        "x@example.net",
        "sent",
        "2.0.0",
        "mx.example.net[203.0.113.7]:25",
    )
    counts = {(c.domain, c.kind): c.count for c in HourlyCount.objects.all()}
    # Received from the outside (total only: a.test is the sender's domain) and sent.
    assert counts == {("", "received"): 1, ("", "sent"): 1, ("a.test", "sent"): 1,
                      ("a.test", "received"): 1}  # fmt: skip
    assert {(c.domain, c.kind, c.count) for c in DailyCount.objects.all()} == {
        ("", "received", 1),
        ("", "sent", 1),
        ("a.test", "sent", 1),
        ("a.test", "received", 1),
    }
    assert FollowerPosition.objects.get().offset == log.stat().st_size


def test_the_emos_sample_links_the_content_filter_hop_and_the_webmail_login(tmp_path):
    log = tmp_path / "maillog"
    shutil.copy(FIXTURES / "maillog-emos.txt", log)
    f = follower(log)
    f.poll()
    first, second = Message.objects.order_by("id")
    hop = first.recipients.get()
    assert hop.next_queue_id == second.queue_id == "EFBAFE86A5"
    assert second.filter_result == "Passed CLEAN"
    assert second.recipients.get().relay == "mx3.qq.com[58.250.132.64]:25"
    # The hand-over to amavis is no delivery: one message sent.
    assert HourlyCount.objects.get(domain="", kind="sent").count == 1
    login = Login.objects.get()
    assert (login.service, login.address, login.client_ip, login.success) == (
        "webmail",
        "szyzln@wangpiao.cn",
        "218.241.219.28",
        True,
    )


def test_deferred_then_bounced_expired_and_rejected_outcomes(tmp_path, make_domain):
    make_domain("a.test")
    log = tmp_path / "mail.log"
    q = "3C1A2E0A2B"
    write(
        log,
        [
            f"{stamp(0)} mx postfix/pickup[5]: {q}: uid=33 from=<www-data>",
            f"{stamp(0)} mx postfix/cleanup[6]: {q}: message-id=<w@a.test>",
            f"{stamp(0)} mx postfix/qmgr[7]: {q}: from=<anna@a.test>, size=500, nrcpt=2 "
            "(queue active)",
            f"{stamp(1)} mx postfix/smtp[8]: {q}: to=<late@example.org>, relay=none, delay=30,"
            " delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.example.org[203.0.113.8]"
            ":25: Connection refused)",
            f"{stamp(2)} mx postfix/smtp[8]: {q}: to=<gone@example.com>, relay=mx.example.com"
            "[203.0.113.9]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.1.1, status=bounced (host "
            "mx.example.com[203.0.113.9] said: 550 5.1.1 No such user (in reply to RCPT TO "
            "command))",
            f"{stamp(3)} mx postfix/bounce[9]: {q}: sender non-delivery notification: 4E1C91E0D0",
        ],
    )
    f = follower(log)
    f.poll()
    write(
        log,
        [
            f"{stamp(900)} mx postfix/smtp[8]: {q}: to=<late@example.org>, relay=none, "
            "delay=930, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to "
            "mx.example.org[203.0.113.8]:25: Connection refused)",
            f"{stamp(1000)} mx postfix/qmgr[7]: {q}: from=<anna@a.test>, status=expired, "
            "returned to sender",
            f"{stamp(1000)} mx postfix/qmgr[7]: {q}: removed",
            f"{stamp(1001)} mx postfix/smtpd[3]: NOQUEUE: reject: RCPT from unknown"
            "[203.0.113.50]: 550 5.1.1 <nobody@a.test>: Recipient address rejected: User unknown"
            " in virtual mailbox table; from=<s@example.net> to=<nobody@a.test> proto=ESMTP "
            "helo=<x>",
        ],
    )
    f.poll()
    message = Message.objects.get(queue_id=q)
    assert message.origin == "local" and message.notice_queue_id == "4E1C91E0D0"
    outcomes = {r.address: (r.status, r.attempts, r.dsn) for r in message.recipients.all()}
    assert outcomes == {
        "late@example.org": ("expired", 2, "4.4.1"),
        "gone@example.com": ("bounced", 1, "5.1.1"),
    }
    rejected = Recipient.objects.get(address="nobody@a.test")
    assert rejected.status == "rejected" and "User unknown" in rejected.reason
    assert rejected.message.queue_id == "" and rejected.message.client_ip == "203.0.113.50"
    counts = {(c.domain, c.kind): c.count for c in HourlyCount.objects.all()}
    assert counts[("", "deferred")] == 2
    assert counts[("", "bounced")] == 2  # one bounce, one expiry
    assert counts[("a.test", "rejected")] == 1


def test_rotation_by_rename_while_following_loses_and_repeats_nothing(tmp_path):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 30) for line in message_lines(n)])
    f = follower(log)
    f.poll()
    # The syslog daemon still writes to the renamed file until it reopens the new one.
    rotated = tmp_path / "mail.log.1"
    os.rename(log, rotated)
    write(rotated, [line for n in range(30, 40) for line in message_lines(n)])
    f.poll()
    write(log, [line for n in range(40, 60) for line in message_lines(n)], mode="w")
    f.poll()
    f.poll()
    assert_each_once(60)


def test_after_a_rename_the_old_file_is_read_until_it_has_been_quiet(tmp_path):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 10) for line in message_lines(n)])
    f = follower(log, rotate_grace=3600)
    f.poll()
    rotated = tmp_path / "mail.log.1"
    os.rename(log, rotated)
    write(log, [line for n in range(20, 30) for line in message_lines(n)], mode="w")
    # The syslog daemon has not reopened its log yet: its lines still go to the old file.
    write(rotated, [line for n in range(10, 20) for line in message_lines(n)])
    f.poll()
    assert Message.objects.count() == 20  # the new file waits
    f.rotate_grace = 0
    f.poll()
    assert_each_once(30)


def test_rotation_by_copytruncate_while_following_loses_and_repeats_nothing(tmp_path):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 30) for line in message_lines(n)])
    f = follower(log)
    f.poll()
    write(log, [line for n in range(30, 35) for line in message_lines(n)])
    f.poll()
    shutil.copy(log, tmp_path / "mail.log.1")
    with log.open("r+") as handle:
        handle.truncate(0)
    f.poll()  # finds the truncation
    write(log, [line for n in range(35, 50) for line in message_lines(n)])
    f.poll()
    assert_each_once(50)


def test_a_restart_goes_on_where_the_last_write_stopped(tmp_path):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 20) for line in message_lines(n)])
    f = follower(log, batch_lines=1000)
    f.poll()
    f.close()
    write(log, [line for n in range(20, 25) for line in message_lines(n)])
    # A crash: lines read, nothing written.
    crashed = follower(log, batch_lines=1000)
    crashed.read_available()
    assert crashed.ingestor.pending
    crashed.close()
    write(log, [line for n in range(25, 30) for line in message_lines(n)])
    again = follower(log)
    again.poll()
    assert_each_once(30)


def test_a_message_split_by_a_restart_is_completed_not_doubled(tmp_path):
    log = tmp_path / "mail.log"
    lines = message_lines(7)
    write(log, lines[:3])
    f = follower(log)
    f.poll()
    f.close()
    write(log, lines[3:])
    follower(log).poll()
    (message,) = Message.objects.all()
    assert message.sender == "anna@a.test" and message.removed_at is not None
    assert message.recipients.get().status == "sent"


def test_a_rename_while_stopped_is_read_to_its_end_first(tmp_path):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 10) for line in message_lines(n)])
    f = follower(log)
    f.poll()
    f.close()
    write(log, [line for n in range(10, 20) for line in message_lines(n)])
    os.rename(log, tmp_path / "mail.log.1")
    write(log, [line for n in range(20, 30) for line in message_lines(n)], mode="w")
    follower(log).poll()
    assert_each_once(30)


def test_several_hosts_store_their_own_messages_in_one_database(tmp_path):
    for host in ("mx1", "mx2"):
        log = tmp_path / f"{host}.log"
        write(log, [line for n in range(0, 5) for line in message_lines(n)])
        ingestor = Ingestor(host=host, source="/var/log/mail.log")
        f = FileFollower(log, ingestor)
        f.resume()
        f.poll()
    assert Message.objects.filter(host="mx1").count() == 5
    assert Message.objects.filter(host="mx2").count() == 5
    assert HourlyCount.objects.get(domain="", kind="sent").count == 10
    assert FollowerPosition.objects.count() == 2


def test_unknown_lines_are_counted_never_fatal(tmp_path):
    log = tmp_path / "mail.log"
    write(
        log,
        [
            "garbage",
            "\udcff".encode("utf-8", "surrogateescape").decode("latin-1"),
            *message_lines(1),
        ],
    )
    with log.open("ab") as handle:
        handle.write(b"\xff\xfe not utf-8 at all\n")
    f = follower(log)
    f.poll()
    assert Message.objects.count() == 1
    assert FollowerPosition.objects.get().unknown == 3


def test_the_command_reads_a_file_once(tmp_path, capsys):
    log = tmp_path / "mail.log"
    write(log, [line for n in range(0, 3) for line in message_lines(n)])
    call_command("follow_maillog", "--file", str(log), "--once", "--host", "mx9")
    assert Message.objects.filter(host="mx9").count() == 3
    assert "21 lines" in capsys.readouterr().out
    call_command("follow_maillog", "--file", str(log), "--once", "--host", "mx9")
    assert Message.objects.filter(host="mx9").count() == 3


def test_the_journal_is_read_from_its_cursor(tmp_path):
    import json

    entries = []
    for index, line in enumerate(message_lines(3)):
        _, _, rest = line.partition(" mx ")
        program, _, text = rest.partition(": ")
        entries.append(
            {
                "__CURSOR": f"s=1;i={index}",
                "__REALTIME_TIMESTAMP": str(int(HOUR.timestamp() * 1e6)),
                "SYSLOG_IDENTIFIER": program.partition("[")[0],
                "MESSAGE": text,
            }
        )
    data = tmp_path / "journal.json"
    data.write_text("".join(json.dumps(e) + "\n" for e in entries))
    fake = tmp_path / "journalctl"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\n"
        f"open({str(tmp_path / 'args')!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        f"sys.stdout.write(open({str(data)!r}).read())\n"
    )
    fake.chmod(0o755)
    ingestor = Ingestor(host="mx1", source="journal")
    JournalFollower(ingestor, journalctl=str(fake), follow=False).run()
    assert Message.objects.get().recipients.get().status == "sent"
    assert FollowerPosition.objects.get().cursor == "s=1;i=6"
    JournalFollower(
        Ingestor(host="mx1", source="journal"), journalctl=str(fake), follow=False
    ).run()
    assert "--after-cursor=s=1;i=6" in (tmp_path / "args").read_text().splitlines()[-1]
