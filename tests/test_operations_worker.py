"""Background operations carried out by a real Celery worker through a real Redis, and their
faults: a worker killed in the middle of an operation, a broker that is down when one starts
(docs/jobs.md, "Background operations").

The panel side is the test client in this process (a web process); the worker is a process of
its own, started as an installation starts it, on the MariaDB test database. The tests look at
what a manager sees (the redirect, the progress, the result page) and at the effect: the rows,
the jobs and the Maildirs on disk, compared with the same action done within a request.
"""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from conftest import PASSWORD
from mailadmin.lib.maildir import read_quota_line
from mailadmin.lib.passwords import verify_password
from mailboxes import bulk
from mailboxes.models import Mailbox
from provisioning.models import Job, Operation
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
IMPORT_PASSWORD = "Lantern-Quiet-77"
# The restarted worker runs the sweeper (celery beat) with short delays.
FAST_SWEEP = {
    "MAILADMIN_JOB_SWEEP_INTERVAL": "1",
    "MAILADMIN_JOB_RESEND_AFTER": "2",
    "MAILADMIN_JOB_LEASE": "2",
    "MAILADMIN_OPERATION_STALE_AFTER": "5",
}


@pytest.fixture
def superadmin(make_manager):
    return make_manager("root@panel.test", type="admin")


@pytest.fixture
def client(superadmin) -> Client:
    client = Client()
    client.force_login(superadmin)
    return client


def populate(actor, domain: str, count: int) -> list[str]:
    """``count`` mailboxes made as an import makes them (their Maildirs by the worker)."""
    rows = [{"local_part": f"user{n:03d}", "name": "", "password": PASSWORD} for n in range(count)]
    return [m.username for m in bulk.mailbox_import(domain=domain, rows=rows, actor=actor)]


def jobs_finished() -> bool:
    failed = Job.objects.filter(state=Job.State.FAILED).first()
    if failed:
        raise AssertionError(f"job failed: {failed} {failed.last_error}")
    return not Job.objects.exclude(state=Job.State.DONE).exists()


def operation_of(response) -> Operation:
    assert response.status_code == 302, response.content[:2000]
    operation = Operation.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    assert response["Location"] == operation.get_absolute_url()
    return operation


def watch(client: Client, operation: Operation, timeout: float = 120) -> list[dict]:
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    url = reverse("provisioning:operation_progress", args=[operation.pk])
    while time.monotonic() < deadline:
        data = client.get(url).json()
        seen.append(data)
        if data["finished"]:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"operation {operation.pk} did not finish: {seen[-1:]}")


def post_bulk(client: Client, action: str, addresses: list[str], **extra) -> tuple[float, object]:
    began = time.monotonic()
    response = client.post(
        reverse("mailboxes:bulk"), {"action": action, "addresses": addresses, **extra}
    )
    return time.monotonic() - began, response


def rows_of(domain: str) -> list[dict]:
    return [
        {k: (v.replace(domain, "D") if isinstance(v, str) else v) for k, v in row.items()}
        for row in Mailbox.objects.filter(domain_id=domain)
        .order_by("username")
        .values("username", "quota", "active", "maildir", "homedir")
    ]


def jobs_settled() -> bool:
    return not Job.objects.filter(state__in=[Job.State.PENDING, Job.State.RUNNING]).exists()


def jobs_of(domain: str) -> list[tuple]:
    """The jobs recorded for a domain's mailboxes and how they ended."""
    return sorted(
        (
            job.kind,
            job.object_id.replace(domain, "D"),
            str(job.payload).replace(domain, "D"),
            job.state,
            job.attempts,
            job.last_error.replace(domain, "D"),
        )
        for job in Job.objects.filter(domain=domain).exclude(kind=Job.Kind.MAILDIR_CREATE_BATCH)
    )


def audit_of(domain: str) -> list[tuple]:
    return sorted(
        (e.action, e.object_id.replace(domain, "D"), str(e.changes))
        for e in AuditEntry.objects.filter(domain=domain, action="mailbox.update")
    )


def test_a_worker_runs_large_bulk_actions_as_the_request_would(
    start_worker, client, superadmin, make_domain, settings
):
    # A heartbeat every 50 ms: the progress between the first and the last mailbox is written
    # however fast the machine runs the 250 of them.
    start_worker(env={"MAILADMIN_OPERATION_HEARTBEAT_MS": "50"})
    for name in ("sync.test", "async.test"):
        make_domain(name, maxusers=1000, maxquota="0", default_quota="0")
    count = settings.MAILADMIN_BACKGROUND_BULK_OVER * 5
    sync = populate(superadmin, "sync.test", count)
    background = populate(superadmin, "async.test", count)
    wait_until(jobs_finished, 60, "the Maildirs")

    # Within the request (the threshold raised for this one), as the panel did until now.
    threshold = settings.MAILADMIN_BACKGROUND_BULK_OVER
    settings.MAILADMIN_BACKGROUND_BULK_OVER = 10_000
    for action, extra in (("set_quota", {"quota": "20"}), ("disable", {})):
        _took, response = post_bulk(client, action, sync, **extra)
        assert response.status_code == 302 and not Operation.objects.exists()
    settings.MAILADMIN_BACKGROUND_BULK_OVER = threshold

    # In the background: the request answers at once, before the work is done.
    took, response = post_bulk(client, "set_quota", background, quota="20")
    operation = operation_of(response)
    assert operation.kind == Operation.Kind.MAILBOX_BULK
    assert took < 2
    operation.refresh_from_db()
    assert operation.state in (Operation.State.QUEUED, Operation.State.RUNNING)
    assert not Mailbox.objects.filter(domain_id="async.test", quota=f"{20 * MB}S").exists()
    page = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="operation-progress"' in page and "js/operation.js" in page

    seen = watch(client, operation)
    assert any(d["state"] == "running" and 0 < d["done"] < count for d in seen), seen
    assert seen[-1]["state"] == "done" and seen[-1]["percent"] == 100
    page = client.get(operation.get_absolute_url()).content.decode()
    assert f"{count} mailboxes done." in page

    operation = operation_of(post_bulk(client, "disable", background)[1])
    assert watch(client, operation)[-1]["state"] == "done"

    wait_until(jobs_settled, 60, "the quota jobs")
    assert rows_of("async.test") == rows_of("sync.test")
    assert jobs_of("async.test") == jobs_of("sync.test")
    assert len(jobs_of("async.test")) == count  # one quota job per mailbox, done once
    assert {(job[3], job[4]) for job in jobs_of("async.test")} == {(Job.State.DONE, 1)}
    assert audit_of("async.test") == audit_of("sync.test")
    base = settings.MAILADMIN_MAIL_BASE
    for n in (0, count - 1):
        assert read_quota_line(base, f"async.test/user{n:03d}/Maildir/") == f"{20 * MB}S"
        assert read_quota_line(base, f"sync.test/user{n:03d}/Maildir/") == f"{20 * MB}S"


def csv_file(lines: list[str]) -> SimpleUploadedFile:
    text = "local_part,name,password,quota\n" + "\n".join(lines) + "\n"
    return SimpleUploadedFile("mailboxes.csv", text.encode(), content_type="text/csv")


def test_a_worker_runs_a_large_import_and_a_refused_one_changes_nothing(
    start_worker, client, make_domain, settings
):
    start_worker()
    make_domain("shop.test", maxusers=1000, maxquota="0", default_quota="0")
    count = settings.MAILADMIN_BACKGROUND_IMPORT_OVER + 50
    url = reverse("mailboxes:import") + "?domain=shop.test"

    lines = [f"person{n:04d},Person {n},{IMPORT_PASSWORD},5" for n in range(count)]
    lines[10] = "person0010,Person 10,short,5"
    lines[99] = "Person 99,Person 99,Lantern-Quiet-77,5"
    refused = operation_of(client.post(url, {"file": csv_file(lines)}))
    assert watch(client, refused)[-1]["state"] == "failed"
    page = client.get(refused.get_absolute_url()).content.decode()
    assert "Line 12:" in page and "Line 101:" in page and "Nothing was changed" in page
    assert not Mailbox.objects.exists() and not Job.objects.exists()
    assert not AuditEntry.objects.filter(action__in=["mailbox.create", "mailbox.import"]).exists()

    lines = [f"person{n:04d},Person {n},{IMPORT_PASSWORD},5" for n in range(count)]
    began = time.monotonic()
    operation = operation_of(client.post(url, {"file": csv_file(lines)}))
    assert time.monotonic() - began < 3
    assert watch(client, operation)[-1]["state"] == "done"
    assert (
        f"{count} mailboxes imported" in client.get(operation.get_absolute_url()).content.decode()
    )

    assert Mailbox.objects.filter(domain_id="shop.test").count() == count
    assert verify_password(IMPORT_PASSWORD, Mailbox.objects.get(pk="person0042@shop.test").password)
    wait_until(jobs_finished, 60, "the Maildirs of the import")
    assert Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE_BATCH).count() == 1
    for local in ("person0000", f"person{count - 1:04d}"):
        maildir = settings.MAILADMIN_MAIL_BASE / "shop.test" / local / "Maildir"
        assert (maildir / "cur").is_dir()
        assert (maildir / "maildirsize").read_text().startswith(f"{5 * MB}S")
    # The lines' passwords were never stored in clear, and their sealed copy is gone.
    for row in Operation.objects.values():
        assert IMPORT_PASSWORD not in str(row)
        assert row["sealed_input"] == ""
    assert IMPORT_PASSWORD not in str(list(Job.objects.values_list("payload", flat=True)))


def test_a_worker_killed_in_the_middle_of_an_operation_leaves_nothing_half_done(
    start_worker, client, superadmin, make_domain, settings
):
    first = start_worker("first")
    make_domain("shop.test", maxusers=1000, maxquota="0", default_quota="0")
    count = 400
    addresses = populate(superadmin, "shop.test", count)
    wait_until(jobs_finished, 60, "the Maildirs")
    before = rows_of("shop.test")
    jobs_before = Job.objects.count()
    audit_before = AuditEntry.objects.count()

    operation = operation_of(post_bulk(client, "set_quota", addresses, quota="30")[1])
    url = reverse("provisioning:operation_progress", args=[operation.pk])
    wait_until(lambda: client.get(url).json()["done"] > 0, 60, "the operation to be half-way")
    first.kill()
    operation.refresh_from_db()
    assert operation.state == Operation.State.RUNNING  # killed half-way

    # The killed worker's transaction died with it: nothing of the operation is there.
    assert rows_of("shop.test") == before
    assert Job.objects.count() == jobs_before
    assert AuditEntry.objects.count() == audit_before
    # The sweeper of another worker sees that the operation's process is gone.
    start_worker("second", beat=True, env=FAST_SWEEP)
    wait_until(lambda: client.get(url).json()["finished"], 60, "the sweeper to fail it")
    operation.refresh_from_db()
    assert operation.state == Operation.State.FAILED and operation.attempts == 1
    page = client.get(operation.get_absolute_url()).content.decode()
    assert "stopped before it finished" in page and "nothing was changed" in page
    time.sleep(2)  # and it does not run again behind the manager's back
    assert rows_of("shop.test") == before
    assert Job.objects.count() == jobs_before

    # Started again, it goes through.
    operation = operation_of(post_bulk(client, "set_quota", addresses, quota="30")[1])
    assert watch(client, operation)[-1]["state"] == "done"
    assert set(Mailbox.objects.values_list("quota", flat=True)) == {f"{30 * MB}S"}


def test_an_operation_started_while_the_broker_is_down_runs_when_it_is_back(
    broker, start_worker, client, superadmin, make_domain
):
    make_domain("shop.test", maxusers=1000, maxquota="0", default_quota="0")
    worker = start_worker("w1", beat=True, env=FAST_SWEEP)
    addresses = populate(superadmin, "shop.test", 60)
    wait_until(jobs_finished, 60, "the Maildirs")

    broker.stop()
    took, response = post_bulk(client, "disable", addresses)
    operation = operation_of(response)
    assert took < 3  # the panel does not hang on the broker
    time.sleep(3)
    operation.refresh_from_db()
    assert operation.state == Operation.State.QUEUED
    assert Mailbox.objects.filter(active=True).count() == 60

    broker.start()  # an empty Redis: the message is gone; the sweeper sends it again
    assert worker.process.poll() is None
    wait_until(
        lambda: Operation.objects.get(pk=operation.pk).state == Operation.State.DONE,
        90,
        "the sweeper to send the operation again",
    )
    assert not Mailbox.objects.filter(active=True).exists()
    assert Operation.objects.get(pk=operation.pk).attempts == 1


def test_a_worker_approves_a_large_batch_of_signups_and_their_maildirs_appear(
    start_worker, client, make_domain, settings
):
    """A bulk approval above MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER runs as an operation on the
    worker: every request becomes a mailbox with the hash it signed up with, and its Maildir
    is on disk with the domain's quota."""
    import datetime

    from django.utils import timezone

    from mailadmin.lib.passwords import hash_password
    from signup.models import SignupRequest

    settings.MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER = 5
    make_domain("shop.test", maxusers=100, can_signup=True, default_quota=f"{30 * MB}S")
    stored = hash_password(IMPORT_PASSWORD)
    ids = [
        SignupRequest.objects.create(
            domain="shop.test",
            local_part=f"new{n:02d}",
            address=f"new{n:02d}@shop.test",
            pending_address=f"new{n:02d}@shop.test",
            password_hash=stored,
            expires_at=timezone.now() + datetime.timedelta(days=1),
        ).pk
        for n in range(12)
    ]
    start_worker()
    response = client.post("/signups/bulk/", {"action": "approve", "ids": ids})
    operation = operation_of(response)
    assert operation.kind == Operation.Kind.SIGNUP_BULK
    assert watch(client, operation)[-1]["state"] == "done"
    wait_until(jobs_finished, 60, "the Maildir jobs of the approved mailboxes")
    boxes = Mailbox.objects.filter(domain_id="shop.test")
    assert boxes.count() == 12
    assert not SignupRequest.objects.filter(pk__in=ids, state="pending").exists()
    for mailbox in boxes:
        assert verify_password(IMPORT_PASSWORD, mailbox.password)
        base = settings.MAILADMIN_MAIL_BASE
        assert (base / mailbox.maildir / "cur").is_dir()
        assert read_quota_line(base, mailbox.maildir) == f"{30 * MB}S"
