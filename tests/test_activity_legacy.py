"""Mail activity on an adopted ExtMan database (utf8 tables, odd rows): the follower stores
lines with text those tables cannot hold and odd addresses without failing, and the trace,
the graphs and the mailbox pages answer for them."""

from __future__ import annotations

import pytest
from django.urls import reverse
from test_hostile_legacy import ROOT, SHOP, client_for

from activity.follow import FileFollower
from activity.ingest import Ingestor
from activity.models import Message, Recipient

pytestmark = [pytest.mark.legacy, pytest.mark.django_db]

T = "2026-11-30T10:00:00+00:00 mx1"
LINES = [
    f"{T} postfix/smtpd[1]: 1A2B3C4D5E: client=mail.example.net[198.51.100.7]",
    f"{T} postfix/cleanup[2]: 1A2B3C4D5E: message-id=<\U0001f600@example.net>",
    f"{T} postfix/qmgr[3]: 1A2B3C4D5E: from=<Zoë\U0001f600@example.net>, size=10, nrcpt=2 "
    "(queue active)",
    f"{T} postfix/virtual[4]: 1A2B3C4D5E: to=<a/b@x.example>, relay=virtual, delay=0.1,"
    " delays=0/0/0/0.1, dsn=2.0.0, status=sent (delivered to maildir)",
    f"{T} postfix/virtual[4]: 1A2B3C4D5E: to=<张三@shop.example>, relay=virtual, delay=0.1,"
    " delays=0/0/0/0.1, dsn=5.2.2, status=bounced (mailbox full \U0001f4a5)",
    f"{T} postfix/qmgr[3]: 1A2B3C4D5E: removed",
    f"{T} dovecot: imap-login: Login: user=<UPPER@Upper.Example>, method=PLAIN, rip=203.0.113.5,"
    " lip=192.0.2.1, session=<x>",
]


def test_odd_lines_are_stored_and_every_activity_page_answers(tmp_path):
    log = tmp_path / "mail.log"
    log.write_text("".join(line + "\n" for line in LINES), encoding="utf-8")
    follower = FileFollower(log, Ingestor(host="mx1", source=str(log)))
    follower.resume()
    follower.poll()
    message = Message.objects.get()
    assert message.sender == "Zoë\ufffd@example.net"
    assert {r.address for r in Recipient.objects.all()} == {"a/b@x.example", "张三@shop.example"}

    for manager in (ROOT, SHOP):
        client = client_for(manager)
        for params in (
            {},
            {"address": "a@b@c"},
            {"address": "张三@shop.example"},
            {"address": "odd_domain!.example"},
            {"address": "x\U0001f600@shop.example"},
            {"queue_id": "1A2B3C4D5E"},
        ):
            assert client.get(reverse("activity:trace"), params).status_code == 200, params
        body = client.get(reverse("activity:trace"), {"queue_id": "1A2B3C4D5E"}).content
        assert "张三@shop.example" in body.decode()
        assert client.get(reverse("activity:message", args=[message.pk])).status_code == 200
        for period in ("hour", "day", "week", "month", "year"):
            response = client.get(reverse("activity:graphs"), {"period": period})
            assert response.status_code == 200
    # The shop admin's odd domains, and a row's page with its recent activity.
    shop = client_for(SHOP)
    assert shop.get(reverse("mailboxes:detail", args=["a/b@x.example"])).status_code == 200
