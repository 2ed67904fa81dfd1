"""The mail activity pages: the trace finds messages by sender, recipient, domain, queue id,
Message-ID and time window and shows each one's path; a domain admin sees only what comes from
or goes to their domains; the graphs show the counts; the mailbox page and the portal show
recent deliveries and logins."""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message as StoredMessage
from django.contrib.messages.storage.cookie import CookieStorage
from django.http import HttpRequest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone, translation

from activity.follow import FileFollower
from activity.graphs import traffic_graph
from activity.ingest import Ingestor
from activity.models import DailyCount, Message, Recipient
from activity.templatetags.activity_tags import status_labels

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def t(minutes: int) -> str:
    return (NOW - datetime.timedelta(minutes=minutes)).isoformat()


def delivered(qid: str, minutes: int, sender: str, *recipients: tuple[str, str, str]) -> list[str]:
    """Lines of one message from ``sender``; each recipient is (address, status, answer)."""
    lines = [
        f"{t(minutes)} mx1 postfix/smtpd[1]: {qid}: client=mail.example.net[198.51.100.7]",
        f"{t(minutes)} mx1 postfix/cleanup[2]: {qid}: message-id=<{qid}@example.net>",
        f"{t(minutes)} mx1 postfix/qmgr[3]: {qid}: from=<{sender}>, size=1200,"
        f" nrcpt={len(recipients)} (queue active)",
    ]
    for address, status, answer in recipients:
        dsn = {"sent": "2.0.0", "deferred": "4.4.1", "bounced": "5.1.1"}[status]
        lines.append(
            f"{t(minutes)} mx1 postfix/smtp[4]: {qid}: to=<{address}>, relay=mx.example.org"
            f"[203.0.113.9]:25, delay=1, delays=0.1/0/0.4/0.5, dsn={dsn}, status={status}"
            f" ({answer})"
        )
    if all(status != "deferred" for _, status, _ in recipients):
        lines.append(f"{t(minutes)} mx1 postfix/qmgr[3]: {qid}: removed")
    return lines


@pytest.fixture
def traffic(personas, tmp_path) -> None:
    lines = [
        *delivered("A1A1A1A1A1", 10, "ext@example.net", ("user@a.test", "sent", "250 2.0.0 Ok")),
        *delivered(
            "B2B2B2B2B2",
            20,
            "user@a.test",
            ("gone@example.org", "bounced", "550 5.1.1 <gone@example.org>: No such user"),
        ),
        *delivered("C3C3C3C3C3", 30, "carol@b.test", ("x@example.org", "sent", "250 Ok")),
        *delivered(
            "D4D4D4D4D4",
            40,
            "ext@example.net",
            ("user@a.test", "sent", "250 Ok"),
            ("carol@b.test", "deferred", "451 4.4.1 try later"),
        ),
        *delivered("E5E5E5E5E5", 60 * 24 * 3, "user@a.test", ("old@example.org", "sent", "250")),
        f"{t(5)} mx1 postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[203.0.113.50]: 550"
        " 5.1.1 <nobody@a.test>: Recipient address rejected: User unknown in virtual mailbox"
        " table; from=<spam@example.net> to=<nobody@a.test> proto=ESMTP helo=<x>",
        f"{t(3)} mx1 dovecot: imap-login: Login: user=<user@a.test>, method=PLAIN,"
        " rip=203.0.113.5, lip=192.0.2.1, mpid=1, TLS, session=<a>",
        f"{t(2)} mx1 dovecot: pop3-login: Disconnected (auth failed, 1 attempts in 2 secs):"
        " user=<user@a.test>, method=PLAIN, rip=198.51.100.66, lip=192.0.2.1, session=<b>",
    ]
    log = tmp_path / "mail.log"
    log.write_text("".join(line + "\n" for line in lines))
    follower = FileFollower(log, Ingestor(host="mx1", source=str(log)))
    follower.resume()
    follower.poll()


def found(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r"<code>([0-9A-F]{10}|NOQUEUE)</code>", response.content.decode())


def trace(client, **params) -> list[str]:
    return found(client.get(reverse("activity:trace"), params))


def test_the_superadmin_finds_messages_by_each_criterion(traffic, client_as):
    client = client_as("superadmin")
    assert trace(client, address="user@a.test") == [
        "A1A1A1A1A1",
        "B2B2B2B2B2",
        "D4D4D4D4D4",
        "E5E5E5E5E5",
    ]
    assert trace(client, address="a.test") == [
        "NOQUEUE",
        "A1A1A1A1A1",
        "B2B2B2B2B2",
        "D4D4D4D4D4",
        "E5E5E5E5E5",
    ]
    assert trace(client, address="@b.test") == ["C3C3C3C3C3", "D4D4D4D4D4"]
    assert trace(client, queue_id="C3C3C3C3C3") == ["C3C3C3C3C3"]
    assert trace(client, message_id="<B2B2B2B2B2@example.net>") == ["B2B2B2B2B2"]
    since = (NOW - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert "E5E5E5E5E5" not in trace(client, address="user@a.test", since=since)


def test_a_domain_admin_sees_only_mail_from_or_to_their_domains(traffic, client_as):
    client = client_as("admin_b")
    assert trace(client) == ["C3C3C3C3C3", "D4D4D4D4D4"]
    assert trace(client, address="user@a.test") == ["D4D4D4D4D4"]
    assert trace(client, address="ext@example.net") == ["D4D4D4D4D4"]
    assert trace(client, queue_id="A1A1A1A1A1") == []
    # Of a message from outside to both domains, only b.test's recipient is shown.
    body = client.get(reverse("activity:trace"), {"queue_id": "D4D4D4D4D4"}).content.decode()
    assert "carol@b.test" in body and "user@a.test" not in body
    other = Message.objects.get(queue_id="A1A1A1A1A1")
    assert client.get(reverse("activity:message", args=[other.pk])).status_code == 404


def test_the_page_of_a_message_shows_its_path_and_the_remote_answer(traffic, client_as):
    message = Message.objects.get(queue_id="B2B2B2B2B2")
    response = client_as("admin_a").get(reverse("activity:message", args=[message.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "mail.example.net[198.51.100.7]" in body  # received from
    assert "B2B2B2B2B2@example.net" in body  # queued, with its Message-ID
    assert 'data-testid="status-bounced"' in body
    assert "550 5.1.1 &lt;gone@example.org&gt;: No such user" in body
    assert "Left the queue" in body


@pytest.mark.parametrize(
    ("persona", "params", "queries"),
    [
        # session, manager, the manager's domains; then the search; then the messages and
        # their recipients (one query each, whatever the number of rows shown)
        ("superadmin", {}, 5),
        ("superadmin", {"address": "a.test"}, 6),
        ("admin_a", {}, 7),
        ("admin_a", {"address": "a.test"}, 7),
        ("admin_a", {"address": "ext@example.net"}, 7),
        ("admin_a", {"queue_id": "D4D4D4D4D4"}, 6),
        ("admin_a", {"queue_id": "FFFFFFFFFF"}, 4),  # nothing found: no second query
    ],
)
def test_the_trace_takes_a_fixed_number_of_queries(
    traffic, client_as, django_assert_num_queries, persona, params, queries
):
    client = client_as(persona)
    with django_assert_num_queries(queries):
        assert client.get(reverse("activity:trace"), params).status_code == 200


def test_the_trace_queries_do_not_grow_with_the_messages_shown(
    traffic, client_as, tmp_path, django_assert_num_queries
):
    client = client_as("admin_a")
    url = reverse("activity:trace")
    shown = len(trace(client, address="a.test"))
    lines = []
    for n in range(30):
        lines += delivered(
            f"F{n:04d}F0F0F",
            n + 1,
            "ext@example.net",
            (f"u{n}@a.test", "sent", "250 Ok"),
            (f"v{n}@a.test", "bounced", "550 5.1.1 unknown"),
        )
    log = tmp_path / "more.log"
    log.write_text("".join(line + "\n" for line in lines))
    follower = FileFollower(log, Ingestor(host="mx2", source=str(log)))
    follower.resume()
    follower.poll()
    assert len(trace(client, address="a.test")) == shown + 30
    with django_assert_num_queries(7):
        client.get(url, {"address": "a.test"})


def test_a_domain_search_counts_a_message_to_several_of_its_addresses_once(traffic, tmp_path):
    """Three newer messages each to two a.test recipients: the three of them are the newest
    three results, not the first one twice and an older message."""
    from accounts.models import Manager
    from activity.selectors import TraceQuery, search_messages

    lines = []
    for n, qid in enumerate(("F6F6F6F6F6", "G7G7G7G7G7", "H8H8H8H8H8")):
        lines += delivered(
            qid,
            n + 1,
            "ext@example.net",
            ("u1@a.test", "sent", "250"),
            ("u2@a.test", "sent", "250"),
        )
    log = tmp_path / "list.log"
    log.write_text("".join(line + "\n" for line in lines))
    follower = FileFollower(log, Ingestor(host="mx1", source=str(log)))
    follower.resume()
    follower.poll()
    root = Manager.objects.get(pk="root@panel.test")
    found = search_messages(root, TraceQuery(address="a.test"), limit=3)
    assert [message.queue_id for message in found] == ["F6F6F6F6F6", "G7G7G7G7G7", "H8H8H8H8H8"]
    assert [len(message.shown_recipients) for message in found] == [2, 2, 2]


def test_the_trace_shows_its_messages_in_the_table_only_and_a_pending_notice_above(
    traffic, client_as
):
    """The page's list of messages is not taken for the notices of the base template."""
    client = client_as("superadmin")
    storage = CookieStorage(HttpRequest())
    client.cookies["messages"] = storage._encode([StoredMessage(constants.SUCCESS, "Saved.")])
    body = client.get(reverse("activity:trace")).content.decode()
    assert body.count('role="alert"') == 1
    assert '<div class="alert alert-success" role="alert">Saved.</div>' in body
    assert body.count('data-testid="trace-row"') == 6


@pytest.mark.parametrize(
    "params",
    [
        {"queue_id": "not a queue id!"},
        {"address": "a b@c"},
        {"address": "a@b@c"},
        {"since": "yesterday"},
        {"since": "2026-12-01T10:00", "until": "2026-12-01T09:00"},
        {"address": "emoji\U0001f600@a.test"},
    ],
)
def test_bad_searches_are_a_message_not_an_error(traffic, client_as, params):
    response = client_as("superadmin").get(reverse("activity:trace"), params)
    assert response.status_code == 200
    assert "invalid-feedback" in response.content.decode()
    assert found(response) == []


def totals(response) -> dict[str, int]:
    assert response.status_code == 200
    body = response.content.decode()
    return {
        kind: int(total)
        for kind, total in re.findall(
            r'<tr data-kind="(\w+)">.*?<td class="text-end">(\d+)</td>', body, re.S
        )
    }


@pytest.mark.parametrize("period", ["hour", "day", "week", "month", "year"])
def test_the_graphs_show_the_counts_of_the_whole_installation_or_one_domain(
    traffic, client_as, period
):
    url = reverse("activity:graphs")
    everything = totals(client_as("superadmin").get(url, {"period": period}))
    # E5 (three days ago) is outside the two days of the hourly graph.
    assert everything["sent"] == (3 if period == "hour" else 4)
    assert everything["bounced"] == 1 and everything["rejected"] == 1
    assert everything["deferred"] == 1
    a_test = totals(client_as("admin_a").get(url, {"period": period}))
    assert a_test["bounced"] == 1 and a_test["rejected"] == 1
    assert a_test["deferred"] == 0  # the deferred recipient is b.test's
    b_test = totals(client_as("admin_b").get(url, {"period": period}))
    assert b_test["deferred"] == 1 and b_test["bounced"] == 0
    assert client_as("admin_b").get(url, {"domain": "a.test"}).status_code == 404
    svg = client_as("superadmin").get(url, {"period": period}).content.decode()
    assert svg.count("<polyline") == 7


def test_the_mailbox_page_shows_recent_deliveries_and_logins(traffic, client_as):
    body = client_as("admin_a").get(reverse("mailboxes:detail", args=["user@a.test"]))
    text = body.content.decode()
    assert 'data-testid="mailbox-activity"' in text
    assert "ext@example.net" in text  # a delivery to the mailbox, from whom
    assert "198.51.100.66" in text and "203.0.113.5" in text  # failed and good logins


def test_the_portal_shows_the_users_own_logins(traffic, client_as):
    text = client_as("user_a").get(reverse("portal:home")).content.decode()
    assert 'data-testid="own-logins"' in text
    assert "198.51.100.66" in text and "pop3" in text


def test_a_message_page_and_a_graph_take_a_fixed_number_of_queries(
    traffic, client_as, django_assert_max_num_queries
):
    client = client_as("admin_a")
    message = Message.objects.get(queue_id="D4D4D4D4D4")
    with django_assert_max_num_queries(12):
        assert client.get(reverse("activity:message", args=[message.pk])).status_code == 200
    for period in ("hour", "year"):
        with django_assert_max_num_queries(10):
            response = client.get(reverse("activity:graphs"), {"period": period})
            assert response.status_code == 200


def render_recipients(*recipients: Recipient) -> str:
    message = Message(queue_id="A1A1A1A1A1")
    message.shown_recipients = list(recipients)  # as search_messages sets it
    return Template("{% load activity_tags %}{% trace_recipients message %}").render(
        Context({"message": message})
    )


def test_the_recipients_cell_shows_each_outcome_and_the_answer_of_a_failure_escaped():
    html = render_recipients(
        Recipient(
            address="anna@xn--bcher-kva.example", status="bounced", reason="550 <a@b> " + "x" * 200
        ),
        Recipient(address="bob@a.test", status="sent", reason="250 2.0.0 Ok: queued as 123"),
        Recipient(address="<b>carol@a.test", status="deferred", reason=""),
    )
    rows = html.split("\n")
    assert len(rows) == 3
    assert rows[0].startswith(
        '<div class="text-break"><span class="badge text-bg-danger" data-testid="status-bounced">'
        "bounced</span> anna@bücher.example"
    )
    answer = re.search(r'<span class="text-secondary">(.*?)</span>', rows[0]).group(1)
    assert answer.startswith("550 &lt;a@b&gt; xxx") and answer.endswith("x…")
    assert len(answer.replace("&lt;", "<").replace("&gt;", ">")) == 120
    assert 'data-testid="status-sent">delivered</span> bob@a.test</div>' in rows[1]
    assert "250 2.0.0" not in html  # a delivery's answer is on the message's page only
    assert "&lt;b&gt;carol@a.test</div>" in rows[2] and "<b>" not in html
    assert 'text-bg-warning" data-testid="status-deferred">deferred<' in rows[2]
    assert render_recipients() == '<span class="text-secondary">no recipient yet</span>'


def test_the_status_words_follow_the_language_of_each_request():
    recipient = Recipient(address="bob@a.test", status="sent")
    with translation.override("zh-hans"):
        assert ">已投递</span>" in render_recipients(recipient)
        assert render_recipients() == '<span class="text-secondary">尚无收件人</span>'
    with translation.override("en"):
        assert ">delivered</span>" in render_recipients(recipient)
        status_labels.cache_clear()
        assert status_labels("zh-hant")["bounced"] == "退信"  # whatever the active language


def test_the_month_and_year_graphs_add_up_the_days_of_each_month_and_year():
    def count(day: datetime.date, number: int, domain: str = "a.test", kind: str = "sent"):
        DailyCount.objects.create(day=day, domain=domain, kind=kind, count=number)

    count(datetime.date(2026, 6, 1), 1)
    count(datetime.date(2026, 6, 14), 2)
    count(datetime.date(2026, 5, 31), 4)
    count(datetime.date(2025, 12, 31), 8)
    count(datetime.date(2022, 1, 1), 16)
    count(datetime.date(2021, 12, 31), 32)  # before the five years of the year graph
    count(datetime.date(2026, 6, 2), 64, domain="b.test")
    count(datetime.date(2026, 6, 2), 128, kind="received")
    now = datetime.datetime(2026, 6, 15, 12, tzinfo=datetime.UTC)

    month = traffic_graph("a.test", "month", now=now)
    assert month.labels == [f"2025-{m:02d}" for m in range(7, 13)] + [
        f"2026-{m:02d}" for m in range(1, 7)
    ]
    assert month.series["sent"] == [0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 4, 3]
    assert month.series["received"] == [0] * 11 + [128]

    year = traffic_graph("a.test", "year", now=now)
    assert year.labels == ["2022", "2023", "2024", "2025", "2026"]
    assert year.series["sent"] == [16, 0, 0, 8, 7]
    assert traffic_graph("b.test", "year", now=now).series["sent"] == [0, 0, 0, 0, 64]
