"""Every kind of job, carried out by a real Celery worker, judged by its effect on disk and in
the Postfix tables (not by the job row it leaves).

The test is parametrised over ``Job.Kind``: a new kind without a scenario here fails at once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from archives import services as archive_services
from diskusage import services as usage_services
from domains import services as domain_services
from domains.models import Domain
from mailboxes import bulk, services
from mailboxes.models import Mailbox, MailboxDiskUsage
from mailstack import services as mailstack_services
from provisioning.models import Archive, Job
from tests.mailservers import HeldPostfix
from tests.workers import wait_until

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

PASSWORD = "Correct-Horse-9"


def private_postfix(directory: Path) -> Path:
    """A Postfix configuration directory of the test's own that ``postfix check`` accepts."""
    (directory / "spool").mkdir(parents=True)
    (directory / "data").mkdir()
    (directory / "master.cf").write_text(Path("/etc/postfix/master.cf").read_text())
    (directory / "main.cf").write_text(
        "compatibility_level = 3.6\n"
        f"queue_directory = {directory}/spool\n"
        f"data_directory = {directory}/data\n"
    )
    subprocess.run(
        ["postfix", "-c", str(directory), "set-permissions"], check=True, capture_output=True
    )
    return directory


@pytest.fixture
def stack(start_worker, settings, tmp_path, make_manager, make_domain):
    """A worker of every queue, with a private Postfix configuration (that Postfix is not
    running: the tables job's reload says so and succeeds)."""
    postfix_conf = private_postfix(tmp_path / "postfix-conf")
    settings.MAILADMIN_PURGE_ALLOWED = True
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(postfix_conf)
    worker = start_worker(
        env={
            "MAILADMIN_POSTFIX_DIR": str(settings.MAILADMIN_POSTFIX_DIR),
            "MAILADMIN_POSTFIX_CONFIG_DIR": str(postfix_conf),
            "MAILADMIN_PURGE_ALLOWED": "1",
        }
    )
    make_domain("shop.test", maxusers=100, default_quota="10485760S")
    return {
        "root": make_manager("root@panel.test", type="admin"),
        "base": settings.MAILADMIN_MAIL_BASE,
        "postfix_conf": postfix_conf,
        "tables": Path(settings.MAILADMIN_POSTFIX_DIR),
        "worker": worker,
        "start_worker": start_worker,
    }


def settle(kind: str) -> Job:
    """Wait until every job is done (none may fail) and return the last one of ``kind``."""

    def finished() -> bool:
        failed = Job.objects.filter(state=Job.State.FAILED).first()
        if failed:
            raise AssertionError(f"job failed: {failed} {failed.last_error}")
        return not Job.objects.exclude(state=Job.State.DONE).exists()

    wait_until(finished, 60, f"the {kind} job")
    return Job.objects.filter(kind=kind).latest("id")


def create(stack, local: str, **fields) -> Mailbox:
    return services.mailbox_create(
        domain="shop.test", local_part=local, password=PASSWORD, actor=stack["root"], **fields
    )


def maildir_of(stack, local: str, domain: str = "shop.test") -> Path:
    return stack["base"] / domain / local / "Maildir"


def scenario_create(stack) -> None:
    create(stack, "alice", quota=20)
    settle(Job.Kind.MAILDIR_CREATE)
    box = maildir_of(stack, "alice")
    assert {p.name for p in box.iterdir()} >= {"cur", "new", "tmp", ".Sent", "maildirsize"}
    assert (box / "maildirsize").read_text() == f"{20 * 1048576}S\n"
    assert (box.stat().st_uid, box.stat().st_gid) == (1000, 1000)


def scenario_create_batch(stack) -> None:
    bulk.mailbox_import(
        domain="shop.test",
        rows=[{"local_part": f"u{n}", "name": "", "password": PASSWORD} for n in range(3)],
        actor=stack["root"],
    )
    settle(Job.Kind.MAILDIR_CREATE_BATCH)
    for n in range(3):
        assert (maildir_of(stack, f"u{n}") / "maildirsize").read_text() == "10485760S\n"


def scenario_quota(stack) -> None:
    mailbox = create(stack, "alice", quota=20)
    settle(Job.Kind.MAILDIR_CREATE)
    sizefile = maildir_of(stack, "alice") / "maildirsize"
    sizefile.write_text(f"{20 * 1048576}S\n4096 3\n")  # two deliveries counted by maildrop
    services.mailbox_update(mailbox=mailbox, actor=stack["root"], quota=50)
    settle(Job.Kind.MAILDIR_QUOTA)
    assert sizefile.read_text() == f"{50 * 1048576}S\n4096 3\n"
    # The bulk action records the same job.
    bulk.mailbox_bulk(
        action="set_quota", addresses=["alice@shop.test"], quota=70, actor=stack["root"]
    )
    settle(Job.Kind.MAILDIR_QUOTA)
    assert sizefile.read_text() == f"{70 * 1048576}S\n4096 3\n"


def scenario_move(stack) -> None:
    mailbox = create(stack, "alice")
    settle(Job.Kind.MAILDIR_CREATE)
    (maildir_of(stack, "alice") / "new" / "1.mail").write_text("Subject: kept\n\nhello\n")
    services.mailbox_rename(mailbox=mailbox, local_part="bob", actor=stack["root"])
    settle(Job.Kind.MAILDIR_MOVE)
    assert not (stack["base"] / "shop.test/alice").exists()
    assert (maildir_of(stack, "bob") / "new" / "1.mail").read_text().endswith("hello\n")


def scenario_archive(stack) -> None:
    mailbox = create(stack, "alice")
    settle(Job.Kind.MAILDIR_CREATE)
    (maildir_of(stack, "alice") / "cur" / "1.mail:2,S").write_text("old mail\n")
    services.mailbox_delete(mailbox=mailbox, actor=stack["root"])
    settle(Job.Kind.MAILDIR_ARCHIVE)
    assert not (stack["base"] / "shop.test/alice").exists()
    (archived,) = (stack["base"] / ".archive/shop.test").glob("alice.*")
    assert (archived / "Maildir/cur/1.mail:2,S").read_text() == "old mail\n"


def scenario_purge(stack) -> None:
    mailbox = create(stack, "alice")
    create(stack, "bob")
    settle(Job.Kind.MAILDIR_CREATE)
    services.mailbox_delete(mailbox=mailbox, actor=stack["root"], purge=True)
    settle(Job.Kind.MAILDIR_PURGE)
    assert not (stack["base"] / "shop.test/alice").exists()
    assert not (stack["base"] / ".archive").exists()
    assert (maildir_of(stack, "bob") / "cur").is_dir()


def scenario_domain_move(stack) -> None:
    create(stack, "alice")
    settle(Job.Kind.MAILDIR_CREATE)
    domain_services.domain_rename(domain="shop.test", new_name="store.test", actor=stack["root"])
    settle(Job.Kind.DOMAIN_MOVE)
    assert not (stack["base"] / "shop.test").exists()
    stored = Mailbox.objects.get(pk="alice@store.test")
    assert (stack["base"] / stored.maildir / "cur").is_dir()


def scenario_domain_archive(stack) -> None:
    create(stack, "alice")
    create(stack, "bob")
    settle(Job.Kind.MAILDIR_CREATE)
    domain_services.domain_delete(
        domain="shop.test", delete_all=True, confirm_domain="shop.test", actor=stack["root"]
    )
    settle(Job.Kind.DOMAIN_ARCHIVE)
    archived = sorted(
        p.name.partition(".")[0] for p in (stack["base"] / ".archive/shop.test").iterdir()
    )
    assert archived == ["alice", "bob"]
    assert not any((stack["base"] / "shop.test").iterdir())


def archived(stack, local: str) -> Archive:
    """Create ``local``, give it a message, delete it, and return its archive's row."""
    mailbox = create(stack, local)
    settle(Job.Kind.MAILDIR_CREATE)
    (maildir_of(stack, local) / "cur" / "1.mail:2,S").write_text("old mail\n")
    services.mailbox_delete(mailbox=mailbox, actor=stack["root"])
    settle(Job.Kind.MAILDIR_ARCHIVE)
    return Archive.objects.get(address=f"{local}@shop.test")


def scenario_restore(stack) -> None:
    archive = archived(stack, "alice")
    archive_services.archive_restore(
        archive=archive,
        domain="shop.test",
        local_part="bob",
        password=PASSWORD,
        actor=stack["root"],
    )
    settle(Job.Kind.MAILDIR_RESTORE)
    box = maildir_of(stack, "bob")
    assert (box / "cur" / "1.mail:2,S").read_text() == "old mail\n"
    assert (box.stat().st_uid, (box / "cur" / "1.mail:2,S").stat().st_uid) == (1000, 1000)
    assert not (stack["base"] / archive.path).exists()


def scenario_archive_purge(stack) -> None:
    archive = archived(stack, "alice")
    assert (stack["base"] / archive.path / "Maildir/cur/1.mail:2,S").is_file()
    archive_services.archive_delete(archive=archive, actor=stack["root"])
    settle(Job.Kind.MAILDIR_ARCHIVE_PURGE)
    assert not (stack["base"] / archive.path).exists()
    assert Archive.objects.get(pk=archive.pk).state == Archive.State.PURGED


def scenario_archive_scan(stack) -> None:
    old = stack["base"] / ".archive/shop.test/carol.20200102T030405/Maildir/cur"
    old.mkdir(parents=True)
    (old / "1.mail:2,S").write_bytes(b"x" * 5000)
    archive_services.archives_scan_request(actor=stack["root"])
    settle(Job.Kind.MAILDIR_ARCHIVE_SCAN)
    found = Archive.objects.get(path=".archive/shop.test/carol.20200102T030405")
    assert found.address == "carol@shop.test" and found.domain == "shop.test"
    assert found.size_bytes is not None and found.size_bytes >= 5000


def scenario_usage(stack) -> None:
    create(stack, "alice", quota=10)
    settle(Job.Kind.MAILDIR_CREATE)
    box = maildir_of(stack, "alice")
    subprocess.run(
        ["deliverquota", str(box), f"{10 * 1048576}S"],
        input=b"Subject: measured\n\n" + b"x" * 300_000 + b"\n",
        check=True,
    )
    delivered = sum(p.stat().st_size for p in (box / "new").iterdir())
    usage_services.usage_measure_domain(
        domain=Domain.objects.get(pk="shop.test"), actor=stack["root"]
    )
    settle(Job.Kind.MAILDIR_USAGE)
    usage = MailboxDiskUsage.objects.get(pk="alice@shop.test")
    assert (usage.used_bytes, usage.messages) == (delivered, 1)
    assert usage.percent == delivered * 100 // (10 * 1048576)


def postmap_query(stack, table: str, key: str) -> str:
    result = subprocess.run(
        ["postmap", "-c", str(stack["postfix_conf"]), "-q", key, f"hash:{stack['tables'] / table}"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def scenario_postfix_tables(stack) -> None:
    create(stack, "alice", internal_only=True)
    settle(Job.Kind.POSTFIX_TABLES)
    # Postfix itself answers from the table the job built.
    assert postmap_query(stack, "local_recipient", "alice@shop.test") == "local_only"
    assert postmap_query(stack, "local_sender", "shop.test") == "OK"
    assert postmap_query(stack, "local_recipient", "bob@shop.test") == ""


def scenario_service_action(stack) -> None:
    missing = stack["postfix_conf"] / "spool" / "maildrop"
    subprocess.run(["rm", "-r", str(missing)], check=True)
    mailstack_services.service_action_request(action="postfix_check", actor=stack["root"])
    settle(Job.Kind.SERVICE_ACTION)
    assert missing.is_dir()  # `postfix check` made the missing queue directory again


def scenario_postfix_queue(stack) -> None:
    """A worker whose Postfix is a running one with a deferred message: the job holds it."""
    held = HeldPostfix().start()
    try:
        queue_id = held.submit("alice@shop.test", "bob@remote.example")
        held.wait_deferred(1)
        stack["worker"].kill()
        stack["start_worker"](name="w2", env={"MAILADMIN_POSTFIX_CONFIG_DIR": str(held.conf)})
        mailstack_services.queue_action_request(
            action="hold", queue_id=queue_id, actor=stack["root"]
        )
        settle(Job.Kind.POSTFIX_QUEUE)
        assert [(m["queue_id"], m["queue_name"]) for m in held.messages()] == [(queue_id, "hold")]
    finally:
        held.stop()


SCENARIOS: dict[str, Callable] = {
    Job.Kind.MAILDIR_CREATE: scenario_create,
    Job.Kind.MAILDIR_CREATE_BATCH: scenario_create_batch,
    Job.Kind.MAILDIR_QUOTA: scenario_quota,
    Job.Kind.MAILDIR_MOVE: scenario_move,
    Job.Kind.MAILDIR_ARCHIVE: scenario_archive,
    Job.Kind.MAILDIR_PURGE: scenario_purge,
    Job.Kind.DOMAIN_MOVE: scenario_domain_move,
    Job.Kind.DOMAIN_ARCHIVE: scenario_domain_archive,
    Job.Kind.MAILDIR_RESTORE: scenario_restore,
    Job.Kind.MAILDIR_ARCHIVE_PURGE: scenario_archive_purge,
    Job.Kind.MAILDIR_ARCHIVE_SCAN: scenario_archive_scan,
    Job.Kind.MAILDIR_USAGE: scenario_usage,
    Job.Kind.POSTFIX_TABLES: scenario_postfix_tables,
    Job.Kind.SERVICE_ACTION: scenario_service_action,
    Job.Kind.POSTFIX_QUEUE: scenario_postfix_queue,
}


@pytest.mark.parametrize("kind", Job.Kind.values)
def test_every_kind_of_job_has_its_effect_when_a_real_worker_runs_it(kind, stack):
    scenario = SCENARIOS.get(kind)
    assert scenario is not None, f"no real-worker scenario for the job kind {kind}"
    scenario(stack)
