"""Mailbox import from a CSV file (SPEC §3.4, §7.1): the rules of a single creation, for many
rows at once, all or nothing."""

from __future__ import annotations

import math
import os

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain, DomainUsage
from mailadmin.lib.passwords import verify_password
from mailboxes import bulk, services
from mailboxes.models import Mailbox, MailboxSortKey, NamePair, NameWord
from provisioning import runner
from provisioning.models import Job

pytestmark = pytest.mark.django_db
MB = 1024 * 1024


def rows(*locals_: str, **fields) -> list[dict]:
    return [
        {"local_part": local, "name": f"User {local}", "password": PASSWORD, **fields}
        for local in locals_
    ]


def written() -> tuple[int, int, int]:
    return (
        Mailbox.objects.filter(domain_id="a.test").count(),
        AuditEntry.objects.filter(domain="a.test").count(),
        Job.objects.filter(domain="a.test").count(),
    )


def test_import_creates_rows_usage_audit_and_batched_jobs(personas, settings):
    Domain.objects.filter(pk="a.test").update(default_quota="52428800S")
    settings.MAILADMIN_PASSWORD_SCHEME = "md5crypt"
    created = bulk.mailbox_import(
        domain="a.test",
        rows=[*rows("alice", quota="20"), *rows("Bob"), *rows("carol", quota="")],
        actor=personas["admin_a"],
    )
    assert [m.username for m in created] == ["alice@a.test", "bob@a.test", "carol@a.test"]

    # The same formats as a mailbox made by the form.
    single = services.mailbox_create(
        domain="a.test", local_part="dave", password=PASSWORD, actor=personas["admin_a"], quota=20
    )
    alice = Mailbox.objects.get(pk="alice@a.test")
    assert alice.homedir.replace("alice", "dave") == single.homedir
    assert alice.maildir.replace("alice", "dave") == single.maildir
    for column in (
        "quota",
        "netdiskquota",
        "uidnumber",
        "gidnumber",
        "expiredate",
        "active",
        "disablepwdchange",
        "mailhost",
        "disablesmtpd",
        "disablewebmail",
        "disableimap",
        "disablepop3",
        "disablenetdisk",
    ):
        assert getattr(alice, column) == getattr(single, column), column
    assert alice.quota == "20971520S"
    assert alice.homedir == "a.test/alice" and alice.maildir == "a.test/alice/Maildir/"
    assert alice.uid == "alice" and alice.name == "User alice"
    assert alice.createdate is not None
    assert verify_password(PASSWORD, alice.password)
    bob = Mailbox.objects.get(pk="bob@a.test")
    assert bob.quota == Domain.objects.get(pk="a.test").default_quota == "52428800S"
    assert Mailbox.objects.get(pk="carol@a.test").quota == "52428800S"

    usage = DomainUsage.objects.get(domain_id="a.test")
    assert usage.mailboxes == Mailbox.objects.filter(domain_id="a.test").count() == 5
    assert usage.quota_bytes == sum(
        m.quota_bytes for m in Mailbox.objects.filter(domain_id="a.test")
    )

    # One entry for the whole file, naming every mailbox (the audit page folds the list).
    entry = AuditEntry.objects.get(action="mailbox.import")
    assert not AuditEntry.objects.filter(action="mailbox.create", object_id="alice@a.test")
    assert entry.action == "mailbox.import" and entry.actor == "admin@a.test"
    assert entry.object_id == entry.domain == "a.test"
    assert sorted(entry.changes["mailboxes"][1]) == sorted(m.username for m in created)
    assert entry.note().startswith(f"{len(created)} mailboxes imported from a file")
    assert PASSWORD not in str(AuditEntry.objects.values_list("changes", "message", "message_args"))

    job = Job.objects.get(kind=Job.Kind.MAILDIR_CREATE_BATCH)
    assert job.queue == "maildir.default"
    assert [p["address"] for p in job.payload["mailboxes"]] == [m.username for m in created]


def test_the_batch_job_creates_every_maildir_and_can_run_again(personas, settings):
    settings.MAILADMIN_DEFAULT_UID, settings.MAILADMIN_DEFAULT_GID = os.getuid(), os.getgid()
    bulk.mailbox_import(domain="a.test", rows=rows("alice", "bob"), actor=personas["admin_a"])
    job = Job.objects.get(kind=Job.Kind.MAILDIR_CREATE_BATCH)
    assert runner.execute(job.pk) == Job.State.DONE
    base = settings.MAILADMIN_MAIL_BASE
    for local in ("alice", "bob"):
        box = base / "a.test" / local / "Maildir"
        assert (box / "cur").is_dir() and (box / ".Sent" / "new").is_dir()
        assert (box / "maildirsize").read_text().startswith(Mailbox.objects.get(uid=local).quota)
    # Idempotent: a retried job finds the Maildirs and finishes.
    Job.objects.filter(pk=job.pk).update(state=Job.State.PENDING)
    assert runner.execute(job.pk) == Job.State.DONE


def test_maildirs_are_batched(personas, settings, monkeypatch):
    monkeypatch.setattr(bulk, "MAILDIR_BATCH_SIZE", 2)
    bulk.mailbox_import(
        domain="a.test", rows=rows("a1", "a2", "a3", "a4", "a5"), actor=personas["superadmin"]
    )
    sizes = [len(j.payload["mailboxes"]) for j in Job.objects.order_by("id")]
    assert sizes == [2, 2, 1]


def test_bad_lines_are_all_listed_and_nothing_is_written(personas, make_mailbox):
    Alias.objects.create(address="sales@a.test", goto="user@a.test", domain_id="a.test")
    before = written()
    data = [
        {"local_part": "good", "name": "", "password": PASSWORD, "line": 2},
        {"local_part": "bad name!", "name": "", "password": PASSWORD, "line": 3},
        {"local_part": "../etc", "name": "", "password": PASSWORD, "line": 4},
        {"local_part": "Good", "name": "", "password": PASSWORD, "line": 5},
        {"local_part": "sales", "name": "", "password": PASSWORD, "line": 6},
        {"local_part": "user", "name": "", "password": PASSWORD, "line": 7},
        {"local_part": "weak", "name": "", "password": "password", "line": 8},
        {"local_part": "quota", "name": "", "password": PASSWORD, "quota": "lots", "line": 9},
        {"local_part": "minus", "name": "", "password": PASSWORD, "quota": "-1", "line": 10},
    ]
    with pytest.raises(bulk.ImportRejected) as caught:
        bulk.mailbox_import(domain="a.test", rows=data, actor=personas["admin_a"])
    lines = {line for line, _message in caught.value.lines}
    assert lines == {3, 4, 5, 6, 7, 8, 9, 10}
    text = "\n".join(caught.value.messages)
    assert "Line 5: good@a.test is already on line 2 of the file." in text
    assert "Line 6: sales@a.test is already used by an alias." in text
    assert "Line 7: user@a.test is already used by a mailbox." in text
    assert PASSWORD not in text and "password" not in text.replace("This password", "")
    assert written() == before


def test_the_domains_user_limit_counts_the_whole_file(personas):
    Domain.objects.filter(pk="a.test").update(maxusers=3)  # user@a.test is one
    before = written()
    with pytest.raises(bulk.ImportRejected) as caught:
        bulk.mailbox_import(domain="a.test", rows=rows("b1", "b2", "b3"), actor=personas["admin_a"])
    assert caught.value.lines == [(None, "The domain has reached its limit of 3 mailboxes.")]
    assert written() == before
    bulk.mailbox_import(domain="a.test", rows=rows("b1", "b2"), actor=personas["admin_a"])
    assert written()[0] == 3


def test_the_domains_total_quota_counts_the_whole_file(personas):
    Domain.objects.filter(pk="a.test").update(maxquota=str(100 * MB))
    with pytest.raises(bulk.ImportRejected) as caught:
        bulk.mailbox_import(
            domain="a.test", rows=rows("c1", "c2", "c3", quota="40"), actor=personas["admin_a"]
        )
    assert "total quota" in caught.value.messages[0]
    assert not Mailbox.objects.filter(uid__startswith="c").exists()


def test_a_domain_admin_cannot_import_into_another_domain(personas):
    with pytest.raises(PermissionDenied):
        bulk.mailbox_import(domain="a.test", rows=rows("x"), actor=personas["admin_b"])
    assert not Mailbox.objects.filter(pk="x@a.test").exists()


def inserts(model, count: int) -> int:
    """INSERT statements of a bulk_create of ``count`` rows: one per batch (1,000 rows on
    MariaDB; SQLite's limit of 999 parameters per statement makes its batches smaller)."""
    fields = model._meta.concrete_fields
    size = min(bulk.INSERT_BATCH_SIZE, connection.ops.bulk_batch_size(fields, [None] * count))
    return math.ceil(count / size)


@pytest.mark.parametrize("count", [5, 50])
def test_queries_do_not_grow_with_the_rows(personas, django_assert_num_queries, count):
    DomainUsage.objects.get_or_create(domain_id="a.test")
    Domain.objects.filter(pk="a.test").update(maxusers=1000, maxquota=str(10_000 * MB))
    data = rows(*(f"n{i:03d}" for i in range(count)), quota="10")
    # The savepoint pair of the atomic block, visibility, lock, owners (one UNION), limits
    # (one count), usage UPDATE, one job INSERT and one INSERT of its order keys; then the
    # bulk INSERTs; the word index of the names, their word pairs and the sort keys: one
    # DELETE of leftovers each, their INSERTs.
    words = 2 * count  # "User n000"
    expected = (
        12
        + inserts(Mailbox, count)
        + inserts(AuditEntry, count)
        + inserts(NameWord, words)
        + inserts(NamePair, words)  # (user, n000) and (n000, user)
        + inserts(MailboxSortKey, count)
    )
    if connection.vendor == "mysql":
        assert expected == 17
    with django_assert_num_queries(expected):
        bulk.mailbox_import(domain="a.test", rows=data, actor=personas["admin_a"])
    assert Mailbox.objects.filter(uid__startswith="n").count() == count


# --- the page ----------------------------------------------------------------------------------
def upload(text: str, name: str = "mailboxes.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def test_the_page_imports_a_file_and_redirects_to_the_list(client_as):
    client = client_as("admin_a")
    url = reverse("mailboxes:import") + "?domain=a.test"
    page = client.get(url)
    assert page.status_code == 200 and 'name="file"' in page.content.decode()
    listing = client.get(reverse("mailboxes:list") + "?domain=a.test").content.decode()
    assert 'data-testid="import-mailboxes"' in listing
    csv = (
        "local_part,name,password,quota\n"
        f"alice,Alice Liddell,{PASSWORD},20\n\nbob,Bob,{PASSWORD},\n"
    )
    response = client.post(url, {"file": upload(csv)}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("mailboxes:list") + "?domain=a.test"
    assert "2 mailboxes imported" in response.content.decode()
    assert Mailbox.objects.get(pk="alice@a.test").name == "Alice Liddell"
    assert Mailbox.objects.get(pk="bob@a.test").quota == "0S"  # a.test has no default quota


def test_the_page_lists_the_bad_lines(client_as):
    client = client_as("admin_a")
    url = reverse("mailboxes:import") + "?domain=a.test"
    csv = f"ok,,{PASSWORD}\nuser,,{PASSWORD}\nonly-two,cells\n"
    response = client.post(url, {"file": upload(csv)})
    assert response.status_code == 200
    assert "Line 3: expected local_part,name,password" in response.content.decode()
    csv = f"ok,,{PASSWORD}\nuser,,{PASSWORD}\n"
    body = client.post(url, {"file": upload(csv)}).content.decode()
    assert "Line 2: user@a.test is already used by a mailbox." in body
    assert not Mailbox.objects.filter(pk="ok@a.test").exists()


def test_the_page_refuses_files_that_are_not_utf8_or_too_large(client_as, monkeypatch):
    client = client_as("superadmin")
    url = reverse("mailboxes:import") + "?domain=a.test"
    bad = SimpleUploadedFile("m.csv", "zoë,,x\n".encode("latin-1"))
    assert "not UTF-8" in client.post(url, {"file": bad}).content.decode()
    monkeypatch.setattr("mailboxes.forms.MAX_IMPORT_BYTES", 10)
    assert (
        "larger than 2 MB"
        in client.post(url, {"file": upload(f"a,,{PASSWORD}\n")}).content.decode()
    )


def test_the_page_is_for_the_domains_managers(client_as):
    url = reverse("mailboxes:import") + "?domain=a.test"
    assert client_as("admin_b").get(url).status_code == 404
    response = client_as("admin_b").post(url, {"file": upload(f"x,,{PASSWORD}\n")})
    assert response.status_code == 404
    assert not Mailbox.objects.filter(pk="x@a.test").exists()
    assert client_as("superadmin").get(url).status_code == 200
    assert client_as("admin_a").get(reverse("mailboxes:import")).status_code == 404
