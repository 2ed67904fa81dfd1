"""Archives of deleted mail: listed with their size on the domain page and the archives page
(scoped), restored into a new mailbox, refused onto a Maildir that holds mail, deleted after
the retention time, and found by the storage host's scan. The jobs run in a real Celery
worker and are judged on disk; the pages and refusals without a worker run the same handlers
inline (``run_jobs``)."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from archives import services as archive_services
from audit.models import AuditEntry
from mailadmin.lib import maildir as maildir_lib
from mailboxes import services
from mailboxes.models import Mailbox
from provisioning.models import Archive, Job
from provisioning.services import job_record
from tests.workers import wait_until

PASSWORD = "Correct-Horse-9"
MESSAGE = "From: a@example.org\nSubject: kept\n\nhello from before\n"


def settle(*, allow_failed: bool = False) -> None:
    def finished() -> bool:
        if not allow_failed:
            failed = Job.objects.filter(state=Job.State.FAILED).first()
            if failed:
                raise AssertionError(f"job failed: {failed} {failed.last_error}")
        return not Job.objects.exclude(
            state__in=[Job.State.DONE, Job.State.FAILED, Job.State.CANCELLED]
        ).exists()

    try:
        wait_until(finished, 60, "the jobs")
    except AssertionError as exc:
        open_jobs = Job.objects.exclude(
            state__in=[Job.State.DONE, Job.State.FAILED, Job.State.CANCELLED]
        )
        raise AssertionError(
            f"{exc}: {[(j.pk, j.kind, j.state, j.last_error) for j in open_jobs]}"
        ) from exc


def box_of(base: Path, address: str) -> Path:
    return base / Mailbox.objects.get(pk=address).maildir


def make_and_delete(root, base: Path, local: str, *, domain: str = "shop.test") -> Archive:
    mailbox = services.mailbox_create(
        domain=domain, local_part=local, password=PASSWORD, actor=root
    )
    settle()
    (box_of(base, mailbox.username) / "cur" / "1.mail:2,S").write_text(MESSAGE)
    services.mailbox_delete(mailbox=mailbox, actor=root)
    settle()
    return Archive.objects.get(address=mailbox.username, state=Archive.State.PRESENT)


# --- with a real worker ---------------------------------------------------------------------
@pytest.fixture
def worker(start_worker, settings, make_manager, make_domain):
    start_worker()
    make_domain("shop.test", maxusers=100)
    make_domain("other.test", maxusers=100)
    return {
        "root": make_manager("root@panel.test", type="admin"),
        "admin": make_manager("admin@shop.test", domains=["shop.test"]),
        "base": Path(settings.MAILADMIN_MAIL_BASE),
    }


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_delete_archive_list_restore_refuse_and_purge_with_a_real_worker(worker, client, settings):
    root, base = worker["root"], worker["base"]
    archive = make_and_delete(root, base, "alice")

    # Listed with its size, on the domain page and on the archives page.
    on_disk = base / archive.path
    assert on_disk.is_dir() and archive.path.startswith(".archive/shop.test/alice.")
    assert archive.size_bytes == maildir_lib.tree_size(on_disk) > len(MESSAGE)
    assert archive.job == Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE).pk
    client.force_login(worker["admin"])
    page = client.get("/domains/shop.test/").content.decode()
    assert "alice@shop.test" in page and archive.path in page
    listing = client.get("/archives/?domain=shop.test").content.decode()
    assert "alice@shop.test" in listing

    # Restored into a new address, through the page.
    response = client.post(
        f"/archives/{archive.pk}/restore/",
        {
            "local_part": "bob",
            "domain": "shop.test",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    settle()
    restore = Job.objects.get(kind=Job.Kind.MAILDIR_RESTORE)
    create = Job.objects.filter(kind=Job.Kind.MAILDIR_CREATE, object_id="bob@shop.test").get()
    assert create.pk < restore.pk  # in order with the mailbox's other jobs
    bob = box_of(base, "bob@shop.test")
    assert (bob / "cur" / "1.mail:2,S").read_text() == MESSAGE
    for sub in ("cur", "new", "tmp", ".Sent/cur", ".Trash/new"):
        assert (bob / sub).is_dir(), sub
    quota = Mailbox.objects.get(pk="bob@shop.test").quota
    assert (bob / "maildirsize").read_text().partition("\n")[0] == quota
    for path in (bob, bob / "cur", bob / "cur" / "1.mail:2,S", bob.parent):
        assert (path.stat().st_uid, path.stat().st_gid) == (1000, 1000), path
    marker = maildir_lib.read_marker(bob.parent)
    assert marker == {"job": restore.pk, "address": "bob@shop.test"}
    assert not on_disk.exists()
    assert Archive.objects.get(pk=archive.pk).state == Archive.State.RESTORED
    entry = AuditEntry.objects.get(action="archive.restore")
    assert entry.actor == "admin@shop.test" and "bob@shop.test" in entry.note()

    # Onto a Maildir that holds mail: refused, nothing changed.
    second = make_and_delete(root, base, "carol")
    services.mailbox_create(domain="shop.test", local_part="dave", password=PASSWORD, actor=root)
    settle()
    dave = box_of(base, "dave@shop.test")
    (dave / "new" / "2.mail").write_text("dave's own mail\n")
    with pytest.raises(ValidationError):  # the address is taken: the page refuses it
        archive_services.archive_restore(
            archive=second, domain="shop.test", local_part="dave", password=PASSWORD, actor=root
        )
    dave_row = Mailbox.objects.get(pk="dave@shop.test")
    job_record(  # and the storage worker refuses it too, whoever asks
        kind=Job.Kind.MAILDIR_RESTORE,
        payload={
            "archive": second.pk,
            "domain": "shop.test",
            "homedir": dave_row.homedir,
            "maildir": dave_row.maildir,
            "quota": dave_row.quota,
            "uid": 1000,
            "gid": 1000,
        },
        domain="shop.test",
        object_id="dave@shop.test",
    )
    settle(allow_failed=True)
    refused = Job.objects.filter(kind=Job.Kind.MAILDIR_RESTORE).latest("pk")
    assert refused.state == Job.State.FAILED
    assert "never overwrites" in refused.last_error
    assert (dave / "new" / "2.mail").read_text() == "dave's own mail\n"
    assert not (dave / "cur" / "1.mail:2,S").exists()
    assert (base / second.path / "Maildir" / "cur" / "1.mail:2,S").read_text() == MESSAGE
    assert Archive.objects.get(pk=second.pk).state == Archive.State.PRESENT
    Job.objects.filter(pk=refused.pk).update(state=Job.State.CANCELLED)

    # The retention purge deletes the old archives and nothing else.
    recent = make_and_delete(root, base, "erin")
    Archive.objects.filter(pk=second.pk).update(
        archived_at=timezone.now() - datetime.timedelta(days=31)
    )
    stray = base / ".archive/shop.test/unlisted.20200101T000000"
    stray.mkdir(parents=True)
    (stray / "keep").write_text("not in the table")
    settings.MAILADMIN_ARCHIVE_RETENTION_DAYS = 30
    assert archive_services.archives_purge_expired() == 1
    settle()
    assert not (base / second.path).exists()
    assert (base / recent.path / "Maildir" / "cur" / "1.mail:2,S").read_text() == MESSAGE
    assert (stray / "keep").read_text() == "not in the table"
    assert (bob / "cur" / "1.mail:2,S").is_file() and (dave / "new" / "2.mail").is_file()
    assert Archive.objects.get(pk=second.pk).state == Archive.State.PURGED
    assert Archive.objects.get(pk=recent.pk).state == Archive.State.PRESENT
    purge = AuditEntry.objects.get(action="archive.purge")
    assert (purge.actor, purge.actor_kind, purge.object_id) == (
        "archives",
        "system",
        str(second.pk),
    )

    # 0 keeps them.
    settings.MAILADMIN_ARCHIVE_RETENTION_DAYS = 0
    Archive.objects.filter(pk=recent.pk).update(
        archived_at=timezone.now() - datetime.timedelta(999)
    )
    assert archive_services.archives_purge_expired() == 0


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_the_scan_measures_and_adds_archives_made_before_the_table_existed(worker):
    root, base = worker["root"], worker["base"]
    listed = make_and_delete(root, base, "alice")
    (base / listed.path / "Maildir" / "new" / "big").write_bytes(b"x" * 100_000)
    old = base / ".archive/shop.test/old.20190304T050607"
    (old / "Maildir" / "cur").mkdir(parents=True)
    (old / "Maildir" / "cur" / "1").write_bytes(b"y" * 20_000)
    leftover = base / ".archive/other.test/frank.20200101T000000.leftover-7"
    leftover.mkdir(parents=True)
    gone = Archive.objects.create(
        path=".archive/shop.test/gone.20180101T000000",
        address="gone@shop.test",
        domain="shop.test",
        archived_at=timezone.now(),
    )
    Archive.objects.filter(pk=gone.pk).update(updated_at=timezone.now() - datetime.timedelta(1))

    archive_services.archives_scan_request(actor=root)
    settle()

    assert Archive.objects.get(pk=listed.pk).size_bytes >= 100_000
    found = Archive.objects.get(path=".archive/shop.test/old.20190304T050607")
    assert (found.address, found.domain, found.kind) == ("old@shop.test", "shop.test", "archive")
    assert found.size_bytes >= 20_000 and found.homedir == "shop.test/old"
    assert found.archived_at.year == 2019
    other = Archive.objects.get(path=".archive/other.test/frank.20200101T000000.leftover-7")
    assert other.kind == Archive.Kind.LEFTOVER and other.domain == "other.test"
    assert Archive.objects.get(pk=gone.pk).state == Archive.State.MISSING
    assert "4 archives measured" not in Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE_SCAN).note
    assert (
        "3 archives measured, 2 added" in Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE_SCAN).note
    )


# --- without a worker: the same handlers inline ---------------------------------------------
@pytest.fixture
def shop(personas, make_domain, make_manager, settings):
    make_domain("shop.test", maxusers=100)
    return {
        **personas,
        "base": Path(settings.MAILADMIN_MAIL_BASE),
        "admin_shop": make_manager("admin@shop.test", domains=["shop.test"]),
    }


def archive_inline(shop, run_jobs, local: str, domain: str = "shop.test") -> Archive:
    root = shop["superadmin"]
    mailbox = services.mailbox_create(
        domain=domain, local_part=local, password=PASSWORD, actor=root
    )
    run_jobs()
    (shop["base"] / mailbox.maildir / "cur" / "1.mail:2,S").write_text(MESSAGE)
    services.mailbox_delete(mailbox=Mailbox.objects.get(pk=mailbox.pk), actor=root)
    run_jobs()
    return Archive.objects.get(address=mailbox.username)


@pytest.mark.django_db
def test_archives_are_scoped_and_outsiders_get_404(shop, run_jobs, client_as, client):
    mine = archive_inline(shop, run_jobs, "alice", "a.test")
    theirs = archive_inline(shop, run_jobs, "bob", "shop.test")
    page = client_as("admin_a").get("/archives/").content.decode()
    assert "alice@a.test" in page and "bob@shop.test" not in page
    assert "shop.test" not in client_as("admin_a").get("/domains/a.test/").content.decode()
    for url in (f"/archives/{theirs.pk}/restore/",):
        assert client_as("admin_a").get(url).status_code == 404
    assert client_as("admin_a").post(f"/archives/{theirs.pk}/delete/").status_code == 404
    assert client_as("admin_b").get(f"/archives/{mine.pk}/restore/").status_code == 404
    assert client_as("admin_a").get("/archives/?domain=shop.test").status_code == 404
    assert client_as("admin_a").post("/archives/scan/").status_code == 404
    assert Archive.objects.get(pk=theirs.pk).state == Archive.State.PRESENT
    with pytest.raises(PermissionDenied):
        archive_services.archive_delete(archive=theirs, actor=shop["admin_a"])
    with pytest.raises(PermissionDenied):
        archive_services.archives_scan_request(actor=shop["admin_a"])
    superadmin = client_as("superadmin").get("/archives/").content.decode()
    assert "alice@a.test" in superadmin and "bob@shop.test" in superadmin


@pytest.mark.django_db
def test_an_address_in_use_or_an_archive_in_work_is_refused_and_nothing_changes(shop, run_jobs):
    archive = archive_inline(shop, run_jobs, "alice")
    root = shop["superadmin"]
    jobs = Job.objects.count()
    with pytest.raises(ValidationError):  # user@a.test exists
        archive_services.archive_restore(
            archive=archive, domain="a.test", local_part="user", password=PASSWORD, actor=root
        )
    with pytest.raises(ValidationError):  # too short a password
        archive_services.archive_restore(
            archive=archive, domain="shop.test", local_part="new", password="x", actor=root
        )
    assert Job.objects.count() == jobs and not Mailbox.objects.filter(pk="new@shop.test").exists()
    archive_services.archive_delete(archive=archive, actor=root)
    with pytest.raises(ValidationError):  # being deleted: no restore, no second delete
        archive_services.archive_restore(
            archive=archive, domain="shop.test", local_part="new", password=PASSWORD, actor=root
        )
    with pytest.raises(ValidationError):
        archive_services.archive_delete(archive=archive, actor=root)


@pytest.mark.django_db
def test_a_leftover_moved_aside_by_a_creation_is_listed(shop, run_jobs):
    home = shop["base"] / "shop.test" / "ghost"
    (home / "Maildir" / "cur").mkdir(parents=True)
    (home / "Maildir" / "cur" / "old").write_text(MESSAGE)
    past = datetime.datetime(2020, 1, 1).timestamp()
    for path in (home / "Maildir" / "cur" / "old", home / "Maildir" / "cur"):
        os.utime(path, (past, past))
    services.mailbox_create(
        domain="shop.test", local_part="ghost", password=PASSWORD, actor=shop["superadmin"]
    )
    run_jobs()
    archive = Archive.objects.get(kind=Archive.Kind.LEFTOVER)
    assert archive.address == "ghost@shop.test" and ".leftover-" in archive.path
    assert (shop["base"] / archive.path / "Maildir" / "cur" / "old").read_text() == MESSAGE


@pytest.mark.django_db
def test_a_purge_acts_only_inside_the_archive_directory(shop, run_jobs):
    """A row whose path leaves ``.archive`` (written behind the panel's back) fails its job
    and deletes nothing."""
    keep = shop["base"] / "shop.test" / "keep"
    keep.mkdir(parents=True)
    for path in ("shop.test/keep", ".archive/../shop.test/keep.20200101T000000", ".archive"):
        row = Archive.objects.create(
            path=path, domain="shop.test", address="x@shop.test", archived_at=timezone.now()
        )
        archive_services.archive_delete(archive=row, actor=shop["superadmin"])
        states = run_jobs()
        assert list(states.values()) == [Job.State.FAILED], path
        Job.objects.filter(state=Job.State.FAILED).update(state=Job.State.CANCELLED)
    assert keep.is_dir()
    with pytest.raises(maildir_lib.UnsafePathError):
        maildir_lib.archive_relative(".archive/shop.test")


@pytest.mark.django_db
def test_the_beat_schedule_scans_and_purges_archives_daily():
    from mailadmin.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["mailadmin-scan-archives"]["task"] == "archives.scan_archives"
    assert schedule["mailadmin-purge-archives"]["task"] == "archives.purge_archives"


@pytest.mark.django_db
def test_the_command_lists_scans_and_purges(shop, run_jobs, settings):
    from io import StringIO

    from django.core.management import call_command

    old = archive_inline(shop, run_jobs, "alice")
    Archive.objects.filter(pk=old.pk).update(
        archived_at=timezone.now() - datetime.timedelta(days=40)
    )
    out = StringIO()
    call_command("archives", "list", stdout=out)
    assert old.path in out.getvalue() and "alice@shop.test" in out.getvalue()
    out = StringIO()
    call_command("archives", "purge", "--dry-run", stdout=out)
    assert f"would delete {old.pk}" in out.getvalue()
    assert (shop["base"] / old.path).is_dir()
    call_command("archives", "purge", stdout=StringIO())
    run_jobs()
    assert not (shop["base"] / old.path).exists()
    call_command("archives", "scan", stdout=StringIO())
    assert list(run_jobs().values()) == [Job.State.DONE]
