"""Faults around real workers: lost and late messages, a hung broker, slow jobs and dead
workers. A fault may delay work; it may never reorder it, lose it or run it twice, and a
committed change is never slowed down or failed by it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from mailboxes import services
from mailboxes.models import Mailbox
from mailstack import services as mailstack_services
from provisioning.dispatch import resume_broker
from provisioning.models import Job
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

PASSWORD = "Correct-Horse-9"
# The worker runs the sweeper (celery beat) with short delays, so that the test sees in
# seconds what an installation sees in a minute.
FAST = {
    "MAILADMIN_JOB_SWEEP_INTERVAL": "1",
    "MAILADMIN_JOB_RESEND_AFTER": "2",
    "MAILADMIN_JOB_LEASE": "1",
}


@pytest.fixture
def root(make_manager):
    return make_manager("root@panel.test", type="admin")


@pytest.fixture
def domain(make_domain):
    return make_domain("shop.test", maxusers=1000, default_quota="10485760S")


def create(actor, local: str, **fields) -> Mailbox:
    return services.mailbox_create(
        domain="shop.test", local_part=local, password=PASSWORD, actor=actor, **fields
    )


def all_done() -> bool:
    failed = Job.objects.filter(state=Job.State.FAILED).first()
    if failed:
        raise AssertionError(f"job failed: {failed} {failed.last_error}")
    return not Job.objects.exclude(state=Job.State.DONE).exists()


def deliver(box: Path, name: str, text: str) -> None:
    (box / "new" / name).write_text(f"Subject: {text}\n\n{text}\n")


def test_a_lost_delete_is_not_overtaken_by_the_re_creation_of_the_address(
    broker, start_worker, root, domain, settings
):
    base = settings.MAILADMIN_MAIL_BASE
    start_worker(beat=True, env=FAST)
    alice = create(root, "alice")
    wait_until(all_done, 30, "alice's Maildir")
    deliver(base / "shop.test/alice/Maildir", "1.old", "mail of the first alice")

    broker.stop()
    services.mailbox_delete(mailbox=alice, actor=root)  # its message is lost
    broker.start()
    resume_broker()  # the panel sends again at once (as after its pause)
    create(root, "alice")  # a new person gets the address; this message goes out
    archive = Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE)
    second = Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE).latest("id")
    wait_until(
        lambda: Job.objects.filter(pk=second.pk, waiting_for=archive.pk).exists(),
        30,
        "the new alice's Maildir job to wait for the archive",
    )
    assert not (base / ".archive").exists()

    wait_until(all_done, 60, "the sweeper to send the archive, then the creation")
    (old,) = (base / ".archive/shop.test").glob("alice.*")
    assert (old / "Maildir/new/1.old").is_file()  # the first alice's mail, archived
    new = base / "shop.test/alice/Maildir"
    assert (new / "cur").is_dir() and not any((new / "new").iterdir())  # the new one: empty
    deliver(new, "2.new", "mail of the second alice")
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}
    time.sleep(3)  # nothing comes late and moves the new Maildir away
    assert (new / "new/2.new").is_file()


def test_a_creation_lost_in_an_outage_does_not_outlive_its_deletion(
    broker, start_worker, root, domain, settings
):
    base = settings.MAILADMIN_MAIL_BASE
    start_worker(beat=True, env=FAST)
    broker.stop()
    bob = create(root, "bob")  # its message is lost
    broker.start()
    resume_broker()
    services.mailbox_delete(mailbox=bob, actor=root)  # this one goes out at once
    wait_until(all_done, 60, "the creation, then the archive")
    assert not (base / "shop.test/bob").exists()  # no Maildir without a mailbox
    assert len(list((base / ".archive/shop.test").glob("bob.*"))) == 1
    create_job, archive_job = Job.objects.order_by("id")
    assert create_job.updated_at <= archive_job.updated_at


def test_a_hung_broker_neither_slows_nor_fails_a_committed_bulk_change(
    broker, start_worker, root, domain, settings
):
    base = settings.MAILADMIN_MAIL_BASE
    start_worker(beat=True, env=FAST)
    addresses = [create(root, f"u{n:02d}").username for n in range(30)]
    wait_until(all_done, 60, "30 Maildirs")

    broker.hang()
    client = Client()
    client.force_login(root)
    started = time.monotonic()
    response = client.post(
        reverse("mailboxes:bulk"),
        {"action": "set_quota", "quota": "40", "addresses": addresses, "domain": "shop.test"},
    )
    elapsed = time.monotonic() - started
    assert response.status_code in (200, 302), response.status_code
    assert elapsed < 5, f"the bulk change took {elapsed:.1f}s with the broker hung"
    assert set(Mailbox.objects.values_list("quota", flat=True)) == {f"{40 * 1048576}S"}
    # A page after it is not slowed down either (the panel stopped trying for a while).
    started = time.monotonic()
    assert client.get(reverse("mailboxes:list") + "?domain=shop.test").status_code == 200
    assert time.monotonic() - started < 2

    broker.resume()
    wait_until(all_done, 90, "the sweeper to send the quota jobs")
    for address in addresses:
        local = address.partition("@")[0]
        sizefile = base / "shop.test" / local / "Maildir/maildirsize"
        assert sizefile.read_text().splitlines()[0] == f"{40 * 1048576}S"
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}


def slow_postfix(directory: Path, seconds: float) -> tuple[Path, Path]:
    """A program in place of ``postfix`` that takes ``seconds`` and counts its runs: the only
    way to make a job last a known time."""
    runs = directory / "runs"
    program = directory / "slow-postfix"
    program.write_text(f"#!/bin/sh\necho run >> {runs}\nsleep {seconds}\necho checked\n")
    program.chmod(0o755)
    return program, runs


def test_a_job_longer_than_its_lease_runs_once_and_a_dead_workers_job_goes_on_within_seconds(
    start_worker, root, settings, tmp_path
):
    program, runs = slow_postfix(tmp_path, 4)
    env = {**FAST, "MAILADMIN_POSTFIX": str(program)}
    # The sweeper runs beside the busy worker, every second, with a lease of one second.
    start_worker("sweeper", ["mailadmin"], beat=True, env=env)
    first = start_worker("first", ["privileged"], env=env)

    mailstack_services.service_action_request(action="postfix_check", actor=root)
    job = Job.objects.get()
    wait_until(lambda: runs.exists(), 30, "the slow job to start")
    time.sleep(2.5)  # more than two leases and two sweeps
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.RUNNING, 1)  # its worker renews the lease

    first.kill()
    killed = time.monotonic()
    start_worker("second", ["privileged"], env=env)
    wait_until(all_done, 60, "the job of the dead worker to run again")
    recovered = time.monotonic() - killed
    job.refresh_from_db()
    assert job.attempts == 2 and "checked" in job.payload["output"]
    assert runs.read_text().count("run") == 2  # killed once, then once to the end
    # Lease (1 s) + sweep (1 s) + worker start + the 4 s job, with room for a busy machine.
    assert recovered < 30


def test_a_long_job_of_a_live_worker_is_never_run_twice(start_worker, root, settings, tmp_path):
    program, runs = slow_postfix(tmp_path, 4)
    env = {**FAST, "MAILADMIN_POSTFIX": str(program)}
    start_worker("sweeper", ["mailadmin"], beat=True, env=env)
    start_worker("busy", ["privileged"], env=env)
    start_worker("idle", ["privileged"], env=env)  # would take a reclaimed job at once
    mailstack_services.service_action_request(action="postfix_check", actor=root)
    wait_until(all_done, 60, "the slow job")
    job = Job.objects.get()
    assert job.attempts == 1
    assert runs.read_text().count("run") == 1
    assert os.path.getsize(runs) == len("run\n")
