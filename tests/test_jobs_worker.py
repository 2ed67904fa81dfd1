"""Jobs carried out by real Celery workers through a real Redis (SPEC §4.1, §7.2).

The services record jobs in the test database (committed: these tests are transactional),
send them after commit, and worker processes started as an installation starts them carry
them out on a temporary mail base. Then the hard cases: a worker killed with SIGKILL in the
middle of a job, and a broker that is down while changes are made.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from domains import services as domain_services
from mailboxes import services
from mailboxes.models import Mailbox
from provisioning.models import Job
from tests.mailservers import private_postfix_config
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

STANDARD_FOLDERS = (".Sent", ".Drafts", ".Trash", ".Junk")


@pytest.fixture
def superadmin(make_manager):
    return make_manager("root@panel.test", type="admin")


@pytest.fixture
def domain(make_domain):
    return make_domain("shop.test", maxusers=1000, maxalias=100, maxquota="0", default_quota="0")


def create(actor, local: str, **fields) -> Mailbox:
    return services.mailbox_create(
        domain="shop.test", local_part=local, password="Correct-Horse-9", actor=actor, **fields
    )


def all_done(expected: int | None = None):
    def check() -> bool:
        states = list(Job.objects.values_list("state", flat=True))
        if expected is not None and len(states) != expected:
            return False
        failed = Job.objects.filter(state=Job.State.FAILED).first()
        if failed:
            raise AssertionError(f"job failed: {failed} {failed.last_error}")
        return all(state == Job.State.DONE for state in states)

    return check


def assert_maildir(base: Path, homedir: str, quota: str = "0S") -> None:
    # "0S": a new mailbox gets the configured (courier) form, even from the bare template "0".
    maildir = base / homedir / "Maildir"
    for sub in ("cur", "new", "tmp"):
        assert (maildir / sub).is_dir(), maildir / sub
    for folder in STANDARD_FOLDERS:
        assert (maildir / folder / "maildirfolder").is_file()
    assert (maildir / "maildirsize").read_text().splitlines()[0] == quota


def test_a_worker_creates_moves_and_archives_maildirs(
    start_worker, superadmin, domain, settings, tmp_path
):
    # The domain rename also rebuilds the Postfix tables on the privileged queue: with a
    # private Postfix configuration, and a harmless program for the reload.
    postfix = {
        "MAILADMIN_POSTFIX_DIR": str(settings.MAILADMIN_POSTFIX_DIR),
        "MAILADMIN_POSTFIX_CONFIG_DIR": str(private_postfix_config(tmp_path / "pfconf")),
        "MAILADMIN_POSTFIX": "/bin/true",
    }
    start_worker(env=postfix)
    base = settings.MAILADMIN_MAIL_BASE
    alice = create(superadmin, "alice", quota=50)
    create(superadmin, "bob")
    wait_until(all_done(2), 30, "the Maildirs to be created")
    assert_maildir(base, "shop.test/alice", quota="52428800S")
    assert_maildir(base, "shop.test/bob")

    (base / "shop.test/alice/Maildir/new/1.mail").write_text("Subject: hi\n\nhello\n")
    services.mailbox_rename(mailbox=alice, local_part="carol", actor=superadmin)
    services.mailbox_delete(mailbox=Mailbox.objects.get(pk="bob@shop.test"), actor=superadmin)
    wait_until(all_done(4), 30, "the rename and the archive")
    assert not (base / "shop.test/alice").exists()
    assert (base / "shop.test/carol/Maildir/new/1.mail").read_text().endswith("hello\n")
    assert not (base / "shop.test/bob").exists()
    archived = list((base / ".archive/shop.test").glob("bob.*"))
    assert len(archived) == 1 and (archived[0] / "Maildir/cur").is_dir()

    domain_services.domain_rename(domain="shop.test", new_name="store.test", actor=superadmin)
    wait_until(all_done(6), 30, "the domain directory to move and the Postfix tables")
    assert not (base / "shop.test").exists()
    local_sender = (settings.MAILADMIN_POSTFIX_DIR / "local_sender").read_text()
    assert "store.test" in local_sender and "shop.test" not in local_sender
    assert (base / "store.test/carol/Maildir/new/1.mail").is_file()
    assert Mailbox.objects.get(pk="carol@store.test").maildir == "store.test/carol/Maildir/"
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}


def test_maildir_work_runs_on_the_storage_host_of_the_mailbox(
    start_worker, superadmin, domain, settings, tmp_path
):
    settings.MAILADMIN_STORAGE_HOSTS = ["store2"]
    second_base = tmp_path / "store2-maildata"
    second_base.mkdir()
    start_worker("default-host", ["maildir.default", "mailadmin"])
    start_worker("store2", ["maildir.store2"], mail_base=second_base)

    create(superadmin, "here")
    create(superadmin, "there", mailhost="store2")
    wait_until(all_done(2), 30, "both Maildirs")
    assert Job.objects.get(object_id="there@shop.test").queue == "maildir.store2"
    assert_maildir(settings.MAILADMIN_MAIL_BASE, "shop.test/here")
    assert_maildir(second_base, "shop.test/there")
    assert not (settings.MAILADMIN_MAIL_BASE / "shop.test/there").exists()
    assert not (second_base / "shop.test/here").exists()


# The restarted worker runs the sweeper (celery beat) with short delays, so that the test
# sees in seconds what an installation sees in minutes.
FAST_SWEEP = {
    "MAILADMIN_JOB_SWEEP_INTERVAL": "1",
    "MAILADMIN_JOB_RESEND_AFTER": "2",
    "MAILADMIN_JOB_LEASE": "2",
    "MAILADMIN_PURGE_ALLOWED": "1",
}


def test_a_worker_killed_in_the_middle_of_a_job(start_worker, superadmin, domain, settings):
    settings.MAILADMIN_PURGE_ALLOWED = True
    base = settings.MAILADMIN_MAIL_BASE
    first = start_worker("first", env=FAST_SWEEP)
    big = create(superadmin, "big")
    wait_until(all_done(1), 30, "the first Maildir")
    # Enough mail that deleting it takes the worker a while (60,000 files took it under
    # 0.25 s on a quiet machine).
    cur = base / "shop.test/big/Maildir/cur"
    for n in range(200_000):
        (cur / f"{n}.host:2,S").touch()

    services.mailbox_delete(mailbox=big, actor=superadmin, purge=True)
    purge = Job.objects.get(kind=Job.Kind.MAILDIR_PURGE)
    for n in range(20):
        create(superadmin, f"user{n}")
    wait_until(
        lambda: Job.objects.filter(pk=purge.pk, state=Job.State.RUNNING).exists(),
        30,
        "the purge to start",
    )
    first.kill()
    purge.refresh_from_db()
    assert purge.state == Job.State.RUNNING  # killed half-way
    assert cur.is_dir()  # half-deleted
    assert Job.objects.filter(state=Job.State.DONE).count() == 1

    # The message of the purge died with the worker; the sweeper reclaims the job once its
    # lease has run out and sends it again. The 20 others are still queued.
    start_worker("second", beat=True, env=FAST_SWEEP)
    wait_until(all_done(22), 60, "every job after the restart")
    purge.refresh_from_db()
    assert purge.attempts == 2
    assert not (base / "shop.test/big").exists()
    for n in range(20):
        assert_maildir(base, f"shop.test/user{n}")
    # Exactly once: each mailbox has one job, and none ran twice.
    created = Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE)
    assert created.count() == 21
    assert set(created.values_list("attempts", flat=True)) == {1}


def test_changes_made_while_the_broker_is_down_are_carried_out_later(
    broker, start_worker, superadmin, domain, settings
):
    base = settings.MAILADMIN_MAIL_BASE
    start_worker("w1", beat=True, env=FAST_SWEEP)
    create(superadmin, "before")
    wait_until(all_done(1), 30, "the first Maildir")

    broker.stop()
    started = time.monotonic()
    for n in range(5):
        create(superadmin, f"late{n}")
    services.mailbox_rename(
        mailbox=Mailbox.objects.get(pk="before@shop.test"), local_part="after", actor=superadmin
    )
    assert time.monotonic() - started < 20  # the panel does not hang on the broker
    assert Job.objects.filter(state=Job.State.PENDING).count() == 6
    time.sleep(3)  # the worker stays up without its broker
    assert Job.objects.filter(state=Job.State.PENDING).count() == 6

    broker.start()  # an empty Redis: every message sent before is gone
    wait_until(all_done(7), 90, "the sweeper to send the jobs again")
    assert_maildir(base, "shop.test/after")
    assert not (base / "shop.test/before").exists()
    for n in range(5):
        assert_maildir(base, f"shop.test/late{n}")
    assert set(Job.objects.values_list("attempts", flat=True)) == {1}
