"""The audit log in words: field labels, quotas in MB, flags as words, one line per entry with
the details folded, an import as one entry, notes in the reader's language."""

from __future__ import annotations

import re

import pytest
from django.utils import translation
from django.utils.translation import gettext_noop

from audit.models import AuditEntry
from audit.services import audit_record
from mailboxes import bulk, services
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


def page(client, query: str = "") -> str:
    return client.get(f"/audit/{query}").content.decode()


def visible_lines(body: str) -> list[str]:
    """The text of each entry's line, without its folded details."""
    rows = re.findall(r'<li class="list-group-item" data-testid="audit-row">(.*?)</li>', body, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row.split("<details")[0]).split()) for row in rows]


def test_a_change_reads_as_labels_megabytes_and_words(client_as, personas):
    mailbox = Mailbox.objects.get(pk="user@a.test")
    services.mailbox_update(
        mailbox=mailbox,
        actor=personas["admin_a"],
        quota=2048,
        active=False,
        services={"smtpd": False},
    )
    body = page(client_as("admin_a"))
    (line,) = visible_lines(body)
    assert "admin@a.test mailbox changed user@a.test" in line
    assert "Active, Quota, SMTP auth (sending) changed" in line
    details = body[body.index('data-testid="audit-details"') :]
    assert "<dt" in details and "Quota" in details and "2048 MB" in details
    assert re.search(r"yes\s*</span> → no", details)
    assert re.search(r"enabled\s*</span> → disabled", details)
    # The column names and the stored forms stay out of sight.
    assert "disablesmtpd" not in details and "2147483648S" not in details


def test_a_single_change_is_the_summary_itself(client_as, personas):
    audit_record(
        actor=personas["admin_a"],
        action="mailbox.update",
        object_type="mailbox",
        object_id="user@a.test",
        domain="a.test",
        changes={"quota": [f"{1024 * MB}S", f"{2048 * MB}S,100C"]},
    )
    (line,) = visible_lines(page(client_as("admin_a")))
    assert line.endswith("Quota: 1024 MB → 2048 MB")


def test_an_import_of_fifty_mailboxes_is_one_readable_entry(client_as, personas):
    rows = [
        {"local_part": f"person{n:02}", "name": f"Person {n}", "password": "Correct-Horse-9"}
        for n in range(50)
    ]
    bulk.mailbox_import(domain="a.test", rows=rows, actor=personas["admin_a"])
    assert AuditEntry.objects.filter(domain="a.test").count() == 1
    body = page(client_as("admin_a"))
    (line,) = visible_lines(body)
    assert "mailboxes imported a.test 50 mailboxes imported from a file" in line
    assert "person00@a.test" not in line
    details = body[body.index('data-testid="audit-details"') :]
    assert "person00@a.test" in details and "person49@a.test" in details


def test_notes_and_codes_are_in_the_readers_language(client_as, personas):
    audit_record(
        actor=personas["admin_a"],
        action="alias.update",
        object_type="alias",
        object_id="sales@a.test",
        domain="a.test",
        message=gettext_noop("target %(old)s replaced by %(new)s"),
        message_args={"old": "x@a.test", "new": "y@a.test"},
    )
    entry = AuditEntry.objects.get()
    assert entry.note() == "target x@a.test replaced by y@a.test"
    with translation.override("zh-hans"):
        assert entry.note() == "目标 x@a.test 已替换为 y@a.test"
    body = client_as("admin_a").get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已替换为" in body
    # The filter offers the actions in words, the codes as values.
    assert '<option value="alias.update">alias changed</option>' in page(client_as("admin_a"))


def test_an_older_note_in_plain_text_is_shown_as_written(personas):
    audit_record(actor="system", action="job.cancel", message="maildir.create x: 100% full")
    assert AuditEntry.objects.get().note() == "maildir.create x: 100% full"


def test_every_action_code_the_code_records_has_words():
    """A new action code needs its words in audit/presentation.py."""
    from pathlib import Path

    from audit.presentation import ACTIONS

    root = Path(__file__).resolve().parent.parent
    recorded = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        if "audit_record" not in text and "audit_entry" not in text:
            continue
        recorded |= set(re.findall(r'action="([a-z0-9_]+\.[a-z_.]+|login)"', text))
    assert recorded and recorded - set(ACTIONS) == set()
