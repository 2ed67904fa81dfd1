"""Background operations without a broker (the quick start): large bulk actions, imports and
signup decisions leave the web request and run in a thread of the web process, with a progress
bar, all or nothing (docs/jobs.md, "Background operations").

These tests run on SQLite and on MariaDB. The requests go through the test client, the
operation runs in a real thread on its own database connection (hence transactional tests), and
the tests look at the pages and at the database. The same paths with a real Celery worker, and
the faults, are in ``test_operations_worker.py``.
"""

from __future__ import annotations

import datetime
import os
import threading
import time

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from mailadmin.lib.passwords import verify_password
from mailadmin.lib.sealing import SealError, seal, unseal
from mailboxes import bulk
from mailboxes.models import Mailbox
from provisioning import operations
from provisioning.models import Job, Operation
from signup.models import SignupRequest
from tests.workers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024
IMPORT_PASSWORD = "Lantern-Quiet-77"


@pytest.fixture(autouse=True)
def _operation_threads_end_with_the_test():
    """An operation's thread goes on after its commit (the Maildir jobs and mails sent then):
    wait for it, so that it never outlives the test's database."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("mailadmin-operation-"):
            thread.join(60)
            assert not thread.is_alive(), thread.name


def operation_threads_done() -> bool:
    return not any(t.name.startswith("mailadmin-operation-") for t in threading.enumerate())


@pytest.fixture
def small_thresholds(settings):
    settings.MAILADMIN_BACKGROUND_BULK_OVER = 5
    settings.MAILADMIN_BACKGROUND_IMPORT_OVER = 5
    settings.MAILADMIN_BACKGROUND_SIGNUP_BULK_OVER = 3


def make_mailboxes(make_mailbox, domain: str, count: int, prefix: str = "user") -> list[str]:
    addresses = [f"{prefix}{n:03d}@{domain}" for n in range(count)]
    for address in addresses:
        make_mailbox(address, quota="10485760S")
    return addresses


def progress_url(operation: Operation) -> str:
    return reverse("provisioning:operation_progress", args=[operation.pk])


def watch(client: Client, operation: Operation, timeout: float = 60) -> list[dict]:
    """Poll the operation's progress as its page's script does, until it has finished; then
    wait for its thread, which carries out the Maildir jobs and mails after the commit."""
    seen: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(progress_url(operation))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        data = response.json()
        seen.append(data)
        if data["finished"]:
            wait_until(operation_threads_done, 60, "the operation's thread to end")
            return seen
        time.sleep(0.02)
    raise AssertionError(f"operation {operation.pk} did not finish in {timeout}s: {seen[-1:]}")


def started(response) -> Operation:
    """The operation a request started: it answered with a redirect to the operation's page."""
    assert response.status_code == 302, response.content[:2000]
    with operations.rows_guard():  # the operation's thread may be writing its row (SQLite)
        operation = Operation.objects.get()
    assert response["Location"] == operation.get_absolute_url()
    return operation


def rows_of(domain: str) -> list[dict]:
    """The mailbox rows of a domain, with the domain name taken out (to compare two domains)."""
    return [
        {
            key: (value.replace(domain, "D") if isinstance(value, str) else value)
            for key, value in row.items()
            if key not in ("createdate", "password")  # dates and salts differ
        }
        for row in Mailbox.objects.filter(domain_id=domain).order_by("username").values()
    ]


def jobs_of(domain: str) -> list[tuple]:
    return sorted(
        (job.kind, job.object_id.replace(domain, "D"), str(job.payload).replace(domain, "D"))
        for job in Job.objects.filter(domain=domain)
    )


def audit_of(domain: str) -> list[tuple]:
    return sorted(
        (entry.action, entry.object_id.replace(domain, "D"), entry.actor)
        for entry in AuditEntry.objects.filter(domain=domain)
    )


# --- bulk actions ------------------------------------------------------------------------------
def test_a_large_bulk_action_leaves_the_request_and_ends_as_the_synchronous_one(
    client_as, make_domain, make_mailbox, settings
):
    """The same disable on two twin domains: one within the request (at the threshold), one in
    the background (above it). Both end with the same rows, jobs and audit records."""
    settings.MAILADMIN_BACKGROUND_BULK_OVER = 40
    for name in ("sync.test", "async.test"):
        make_domain(name)
    sync = make_mailboxes(make_mailbox, "sync.test", 40)
    background = make_mailboxes(make_mailbox, "async.test", 41)
    make_mailbox("user040@sync.test", quota="10485760S")  # twins: 41 rows each
    client = client_as("superadmin")

    response = client.post(
        reverse("mailboxes:bulk"), {"action": "disable", "addresses": sync, "domain": "sync.test"}
    )
    assert response.status_code == 302 and not Operation.objects.exists()
    client.post(  # the 41st mailbox, alone, so that both domains end alike
        reverse("mailboxes:bulk"), {"action": "disable", "addresses": ["user040@sync.test"]}
    )

    began = time.monotonic()
    response = client.post(
        reverse("mailboxes:bulk"),
        {"action": "disable", "addresses": background, "domain": "async.test"},
    )
    answered = time.monotonic() - began
    operation = started(response)
    assert answered < 2
    assert operation.kind == Operation.Kind.MAILBOX_BULK and operation.total == 41
    assert operation.domain == "async.test" and operation.actor == "root@panel.test"

    seen = watch(client, operation)
    assert seen[-1]["state"] == "done" and seen[-1]["percent"] == 100
    page = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="operation-done"' in page and "41 mailboxes done." in page
    assert "operation.js" not in page  # finished: nothing polls any more

    assert rows_of("async.test") == rows_of("sync.test")
    assert not Mailbox.objects.filter(domain_id="async.test", active=True).exists()
    assert jobs_of("async.test") == jobs_of("sync.test")
    assert audit_of("async.test") == audit_of("sync.test")
    assert len(audit_of("async.test")) == 41


def test_a_refused_bulk_action_changes_nothing_and_shows_the_problems(
    client_as, make_domain, make_mailbox, small_thresholds
):
    make_domain("small.test", maxquota=str(100 * MB))
    addresses = make_mailboxes(make_mailbox, "small.test", 8)
    before = rows_of("small.test")
    client = client_as("superadmin")

    response = client.post(
        reverse("mailboxes:bulk"), {"action": "set_quota", "quota": "50", "addresses": addresses}
    )
    operation = started(response)
    seen = watch(client, operation)
    assert seen[-1]["state"] == "failed"

    page = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="operation-errors"' in page and "Nothing was changed" in page
    assert "This exceeds the domain&#x27;s total quota of 100 MB" in page
    assert rows_of("small.test") == before
    assert not Job.objects.exists()
    assert not AuditEntry.objects.filter(domain="small.test").exists()


def test_a_bulk_reset_shows_the_passwords_once_to_whom_asked(
    client_as, personas, make_mailbox, small_thresholds
):
    addresses = make_mailboxes(make_mailbox, "a.test", 6, prefix="reset")
    client = client_as("admin_a")
    response = client.post(
        reverse("mailboxes:bulk"),
        {"action": "reset_password", "addresses": addresses, "confirm": "1"},
    )
    operation = started(response)
    watch(client, operation)
    operation.refresh_from_db()
    assert operation.result["passwords"] == 6
    assert operation.sealed_result  # sealed, until shown

    # Another manager who may see the operation does not get the passwords, nor uses them up.
    other = client_as("superadmin").get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="new-password"' not in other
    assert "only to admin@a.test" in other

    response = client.get(operation.get_absolute_url())
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    cells = page.split('data-testid="new-password">')[1:]
    shown = dict(zip(addresses, [cell.split("<")[0] for cell in cells], strict=True))
    for address, password in shown.items():
        assert verify_password(password, Mailbox.objects.get(pk=address).password)
    operation.refresh_from_db()
    assert operation.sealed_result == ""  # gone from the database once shown

    again = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="new-password"' not in again
    assert 'data-testid="passwords-gone"' in again
    stored = str(list(Operation.objects.values()))
    assert not any(password in stored for password in shown.values())


def test_a_bulk_action_at_or_below_the_threshold_stays_in_the_request(
    client_as, personas, make_mailbox, small_thresholds
):
    addresses = make_mailboxes(make_mailbox, "a.test", 5)
    response = client_as("admin_a").post(
        reverse("mailboxes:bulk"), {"action": "disable", "addresses": addresses}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("mailboxes:list"))
    assert not Operation.objects.exists()
    assert not Mailbox.objects.filter(pk__in=addresses, active=True).exists()


# --- import ------------------------------------------------------------------------------------
def csv_file(lines: list[str]) -> SimpleUploadedFile:
    text = "local_part,name,password,quota\n" + "\n".join(lines) + "\n"
    return SimpleUploadedFile("mailboxes.csv", text.encode(), content_type="text/csv")


def test_a_large_import_runs_in_the_background_without_keeping_its_passwords(
    client_as, personas, settings
):
    settings.MAILADMIN_BACKGROUND_IMPORT_OVER = 200
    settings.MAILADMIN_PASSWORD_SCHEME = "sha512crypt"  # slow enough to watch it progress
    settings.MAILADMIN_DEFAULT_UID, settings.MAILADMIN_DEFAULT_GID = os.getuid(), os.getgid()
    lines = [f"person{n:04d},Person {n},{IMPORT_PASSWORD},{n % 5}" for n in range(201)]
    client = client_as("admin_a")

    began = time.monotonic()
    response = client.post(
        reverse("mailboxes:import") + "?domain=a.test", {"file": csv_file(lines)}
    )
    answered = time.monotonic() - began
    operation = started(response)
    assert answered < 3
    assert IMPORT_PASSWORD not in str(operation.payload)
    assert operation.sealed_input and IMPORT_PASSWORD not in operation.sealed_input

    seen = watch(client, operation)
    assert seen[-1]["state"] == "done"
    assert any(0 < data["done"] < 201 and data["state"] == "running" for data in seen), seen
    page = client.get(operation.get_absolute_url()).content.decode()
    assert "201 mailboxes imported" in page

    assert Mailbox.objects.filter(domain_id="a.test", uid__startswith="person").count() == 201
    person = Mailbox.objects.get(pk="person0007@a.test")
    assert verify_password(IMPORT_PASSWORD, person.password)
    assert person.quota == f"{2 * MB}S" and person.name == "Person 7"
    # The Maildirs: batch jobs, run inline after the commit as without a broker any job is.
    wait_until(operation_threads_done, 30, "the Maildir jobs after the commit")
    batches = Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE_BATCH)
    assert batches.count() == 1 and batches.get().state == Job.State.DONE
    assert (settings.MAILADMIN_MAIL_BASE / "a.test/person0200/Maildir/cur").is_dir()
    (entry,) = AuditEntry.objects.filter(action="mailbox.import", domain="a.test")
    assert len(entry.changes["mailboxes"][1]) == 201
    operation.refresh_from_db()
    assert operation.sealed_input == ""  # the passwords are gone with the operation


def test_a_refused_import_lists_the_problems_by_line_and_writes_nothing(
    client_as, personas, small_thresholds
):
    lines = [f"ok{n},Ok {n},{IMPORT_PASSWORD}," for n in range(6)]
    lines[2] = "bad name,Bad,Lantern-Quiet-77,"
    lines[4] = "short,Short,abc,"
    client = client_as("admin_a")
    operation = started(
        client.post(reverse("mailboxes:import") + "?domain=a.test", {"file": csv_file(lines)})
    )
    assert watch(client, operation)[-1]["state"] == "failed"
    page = client.get(operation.get_absolute_url()).content.decode()
    assert "Line 4:" in page and "Line 6:" in page
    assert 'data-testid="import-again"' in page
    assert not Mailbox.objects.filter(uid__startswith="ok").exists()
    assert not Job.objects.exists()
    assert not AuditEntry.objects.filter(action__in=["mailbox.create", "mailbox.import"]).exists()
    operation.refresh_from_db()
    assert operation.sealed_input == ""


# --- signup ------------------------------------------------------------------------------------
def test_a_large_bulk_approval_runs_in_the_background(client_as, personas, small_thresholds):
    Domain.objects.filter(pk="a.test").update(can_signup=True, maxusers=5)
    # user@a.test exists: 4 more mailboxes fit, the fifth request is refused by the limit.
    ids = []
    for n in range(5):
        ids.append(
            SignupRequest.objects.create(
                domain="a.test",
                local_part=f"applicant{n}",
                address=f"applicant{n}@a.test",
                pending_address=f"applicant{n}@a.test",
                name=f"Applicant {n}",
                password_hash="$1$abcdefgh$0123456789012345678901",
                contact_email=f"applicant{n}@example.net",
                expires_at=timezone.now() + datetime.timedelta(days=1),
            ).pk
        )
    client = client_as("admin_a")
    operation = started(client.post(reverse("signup:bulk"), {"action": "approve", "ids": ids}))
    assert operation.kind == Operation.Kind.SIGNUP_BULK and operation.domain == "a.test"
    assert watch(client, operation)[-1]["state"] == "done"

    page = client.get(operation.get_absolute_url()).content.decode()
    assert 'data-testid="operation-decided"' in page and 'data-testid="operation-refused"' in page
    assert "applicant4@a.test: " in page and "limit of 5 mailboxes" in page
    assert Mailbox.objects.filter(uid__startswith="applicant").count() == 4
    approved = SignupRequest.objects.filter(state=SignupRequest.State.APPROVED)
    assert approved.count() == 4
    assert SignupRequest.objects.get(pk=ids[4]).state == SignupRequest.State.PENDING
    # The applicants hear of it once the decisions are committed.
    wait_until(operation_threads_done, 30, "the mails after the commit")
    assert sorted(m.to[0] for m in mail.outbox) == [f"applicant{n}@example.net" for n in range(4)]


# --- faults ------------------------------------------------------------------------------------
def test_an_operation_whose_web_process_ended_is_shown_as_failed(client_as, personas):
    """A restarted web process takes its threads with it: the page notices (here: the pid of
    a process that has ended, and this process's own pid for an operation it does not run)."""
    gone = os.fork()
    if gone == 0:
        os._exit(0)
    os.waitpid(gone, 0)
    client = client_as("admin_a")
    for pid in (gone, os.getpid()):
        operation = Operation.objects.create(
            kind=Operation.Kind.MAILBOX_BULK,
            actor="admin@a.test",
            domain="a.test",
            total=10,
            state=Operation.State.RUNNING,
            runner=f"{operations._process_identity()}:{pid}",
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
            sealed_input=seal({"passwords": ["x"]}, purpose="operation-input"),
            language="en",
        )
        data = client.get(progress_url(operation)).json()
        assert data["state"] == "failed" and data["finished"]
        page = client.get(operation.get_absolute_url()).content.decode()
        assert "stopped before it finished" in page and "nothing was changed" in page
        operation.refresh_from_db()
        assert operation.sealed_input == ""


def test_the_sweeper_runs_a_queued_operation_whose_thread_never_started(personas, make_mailbox):
    addresses = make_mailboxes(make_mailbox, "a.test", 3)
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK,
        actor="admin@a.test",
        domain="a.test",
        total=3,
        payload={"action": "disable", "addresses": addresses, "quota": None, "purge": False},
        sent_at=timezone.now() - datetime.timedelta(minutes=10),
        language="en",
    )
    assert operations.sweep()["operations_sent"] == 1
    operation.refresh_from_db()
    assert operation.state == Operation.State.DONE and operation.attempts == 1
    assert not Mailbox.objects.filter(pk__in=addresses, active=True).exists()
    assert operations.sweep()["operations_sent"] == 0  # and never twice
    assert operations.execute(operation.pk) is None


def test_an_operation_refuses_to_act_for_a_manager_who_lost_the_right(personas):
    """Between the request and the run, the manager was disabled, or lost the domain."""
    Manager = type(personas["admin_a"])
    rows = [{"line": 1, "local_part": "late", "name": "", "quota": ""}]
    for actor, domain in (("admin@a.test", "b.test"), ("gone@a.test", "a.test")):
        Operation.objects.create(
            kind=Operation.Kind.MAILBOX_IMPORT,
            actor=actor,
            domain=domain,
            total=1,
            payload={"domain": domain, "rows": rows},
            sealed_input=seal({"passwords": [IMPORT_PASSWORD]}, purpose="operation-input"),
            sent_at=timezone.now() - datetime.timedelta(minutes=10),
            language="en",
        )
    assert not Manager.objects.filter(pk="gone@a.test").exists()
    assert operations.sweep()["operations_sent"] == 2
    errors = dict(Operation.objects.values_list("actor", "errors"))
    assert "may no longer manage these objects" in errors["admin@a.test"][0]
    assert "can no longer act" in errors["gone@a.test"][0]
    assert set(Operation.objects.values_list("state", "sealed_input")) == {("failed", "")}
    assert not Mailbox.objects.filter(uid="late").exists()


def test_passwords_nobody_came_to_see_are_forgotten(personas):
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK,
        actor="admin@a.test",
        state=Operation.State.DONE,
        result={"passwords": 1},
        sealed_result=seal([["user@a.test", "Secret-Pass-1"]], purpose="operation-result"),
        finished_at=timezone.now() - datetime.timedelta(hours=2),
    )
    assert operations.sweep()["results_forgotten"] == 1
    operation.refresh_from_db()
    assert operation.sealed_result == ""


# --- the page ----------------------------------------------------------------------------------
def test_the_page_of_a_running_operation_works_without_script(client_as, personas):
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_IMPORT,
        actor="admin@a.test",
        domain="a.test",
        total=400,
        state=Operation.State.QUEUED,
        sent_at=timezone.now(),
    )
    page = client_as("admin_a").get(operation.get_absolute_url()).content.decode()
    assert '<noscript><meta http-equiv="refresh"' in page  # reloads itself without script
    assert 'data-testid="operation-reload"' in page
    assert "js/operation.js" in page and "<script>" not in page and "style=" not in page
    assert "Waiting for a worker" in page


def test_a_domain_admin_sees_their_own_operations_over_several_domains(
    client_as, personas, make_manager
):
    both = make_manager("both@a.test", domains=["a.test", "b.test"])
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK, actor=both.pk, domain="", total=60
    )
    client = Client()
    client.force_login(both)
    assert client.get(operation.get_absolute_url()).status_code == 200
    assert operation.get_absolute_url() in client.get(reverse("provisioning:jobs")).content.decode()
    for persona, status in (("superadmin", 200), ("admin_a", 404), ("admin_b", 404)):
        assert client_as(persona).get(operation.get_absolute_url()).status_code == status
    listed = client_as("admin_a").get(reverse("provisioning:jobs")).content.decode()
    assert operation.get_absolute_url() not in listed
    # One domain's operation is seen through that domain: not by whom started it once the
    # domain is no longer theirs.
    earlier = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK, actor="admin@a.test", domain="b.test", total=60
    )
    assert client_as("admin_a").get(earlier.get_absolute_url()).status_code == 404
    assert client_as("admin_b").get(earlier.get_absolute_url()).status_code == 200


# --- sealing -----------------------------------------------------------------------------------
def test_sealed_values_open_only_for_their_purpose_and_key(settings):
    token = seal({"passwords": ["Correct-Horse-9"]}, purpose="a")
    assert "Correct-Horse-9" not in token
    assert unseal(token, purpose="a") == {"passwords": ["Correct-Horse-9"]}
    with pytest.raises(SealError):
        unseal(token, purpose="b")
    with pytest.raises(SealError):
        unseal(token[:-4] + "AAAA", purpose="a")
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "a-new-key", [old_key]
    assert unseal(token, purpose="a") == {"passwords": ["Correct-Horse-9"]}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(SealError):
        unseal(token, purpose="a")


def test_the_progress_stays_in_memory_only_where_the_database_has_one_writer():
    assert operations.progress_in_database() == (connection.vendor != "sqlite")


def test_services_report_progress_as_they_go(personas, make_mailbox):
    addresses = make_mailboxes(make_mailbox, "a.test", 4)
    seen: list[int] = []
    bulk.mailbox_bulk(
        action="enable", addresses=addresses, actor=personas["admin_a"], progress=seen.append
    )
    assert seen == [1, 2, 3, 4]
    seen.clear()
    bulk.mailbox_import(
        domain="a.test",
        rows=[{"local_part": f"p{n}", "name": "", "password": PASSWORD} for n in range(3)],
        actor=personas["admin_a"],
        progress=seen.append,
    )
    assert seen == [0, 1, 2, 3]


# --- faults that need a second writer (MariaDB) -------------------------------------------------
@pytest.mark.mariadb
def test_a_running_operation_whose_heartbeat_stopped_is_failed_by_the_sweeper(personas):
    now = timezone.now()
    for pid, beat in ((4242, now - datetime.timedelta(minutes=2)), (4243, now)):
        Operation.objects.create(
            kind=Operation.Kind.MAILBOX_BULK,
            actor="admin@a.test",
            domain="a.test",
            total=10,
            state=Operation.State.RUNNING,
            runner=f"another-host|1:{pid}",  # a worker on another host: only its heartbeat tells
            started_at=now - datetime.timedelta(minutes=3),
            heartbeat_at=beat,
            language="en",
        )
    assert operations.sweep()["operations_failed"] == 1
    states = dict(Operation.objects.values_list("runner", "state"))
    assert states == {"another-host|1:4242": "failed", "another-host|1:4243": "running"}


@pytest.mark.mariadb
def test_an_operation_failed_by_the_sweeper_while_it_runs_commits_nothing(
    client_as, personas, make_mailbox, small_thresholds, monkeypatch
):
    """A sweeper that takes a slow operation for a dead one (its heartbeat late) fails it: the
    operation's own final step then finds it failed and rolls its changes back."""
    addresses = make_mailboxes(make_mailbox, "a.test", 8)
    real = operations.RUNNERS[Operation.Kind.MAILBOX_BULK]

    def sweeper_elsewhere() -> None:
        # What the sweeper of another host writes, from its own connection, in autocommit.
        Operation.objects.filter(state=Operation.State.RUNNING).update(
            state=Operation.State.FAILED,
            errors=["The operation stopped before it finished (its worker or web process ended)"],
        )
        connections.close_all()

    def late_heartbeat(run: operations.OperationRun) -> operations.Outcome:
        outcome = real.run(run)  # every mailbox disabled, not yet committed
        sweeper = threading.Thread(target=sweeper_elsewhere)
        sweeper.start()
        sweeper.join()
        return outcome

    monkeypatch.setitem(
        operations.RUNNERS,
        Operation.Kind.MAILBOX_BULK,
        operations.Registration(late_heartbeat, real.result_template),
    )
    client = client_as("admin_a")
    operation = started(
        client.post(reverse("mailboxes:bulk"), {"action": "disable", "addresses": addresses})
    )
    assert watch(client, operation)[-1]["state"] == "failed"
    wait_until(operation_threads_done, 30, "the operation's thread")
    assert Mailbox.objects.filter(pk__in=addresses, active=True).count() == 8
    assert not AuditEntry.objects.filter(action="mailbox.update").exists()
    page = client.get(operation.get_absolute_url()).content.decode()
    assert "stopped before it finished" in page
