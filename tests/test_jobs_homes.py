"""Whose directory is it: disk jobs act only on a mailbox's own home (hostile legacy paths),
never on a home created after them, and never hand an earlier owner's mail to a new mailbox.

The jobs are carried out by the real handlers on a real mail base (``run_jobs``); the
real-worker tests are in test_jobs_every_kind.py and test_jobs_faults.py.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import DomainManager
from domains import services as domain_services
from mailadmin.lib import maildir
from mailboxes import services
from mailboxes.models import Mailbox
from provisioning import runner
from provisioning.models import Job

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-9"


def tree(base: Path, relative: str) -> list[str]:
    """Every path below ``relative``, for checking that nothing there changed."""
    root = base / relative
    return sorted(str(p.relative_to(base)) for p in root.rglob("*"))


def make_home(base: Path, homedir: str, mail: dict[str, str] | None = None) -> None:
    maildir.create_maildir(base, homedir, f"{homedir}/Maildir/", "0S", 1000, 1000)
    for name, text in (mail or {}).items():
        (base / homedir / "Maildir/cur" / name).write_text(text)


@pytest.fixture
def site(personas, make_domain, make_mailbox, settings):
    """shop.test (admin_shop) and corp.test, with Maildirs on disk and the legacy rows an
    ExtMan site really has: a home that is another domain's directory, one that is its own
    domain's directory, and one that holds another mailbox's home."""
    base = settings.MAILADMIN_MAIL_BASE
    make_domain("shop.test")
    make_domain("corp.test")
    admin = personas["admin_a"]
    DomainManager.objects.create(manager=admin, domain_id="shop.test")
    for address in ("ann@corp.test", "ben@corp.test", "sue@shop.test", "tom@shop.test"):
        local, _, domain = address.partition("@")
        make_mailbox(address)
        make_home(base, f"{domain}/{local}", {"1.mail:2,S": f"mail of {address}"})
    make_mailbox("foreign@shop.test", homedir="corp.test", maildir="corp.test/Maildir/")
    make_mailbox("lazy@shop.test", homedir="shop.test", maildir="shop.test/Maildir/")
    make_mailbox("outer@shop.test", homedir="shop.test/team", maildir="shop.test/team/Maildir/")
    make_mailbox(
        "inner@shop.test", homedir="shop.test/team/inner", maildir="shop.test/team/inner/Maildir/"
    )
    make_home(base, "shop.test/team", {"1.outer": "mail of outer"})
    make_home(base, "shop.test/team/inner", {"1.inner": "mail of inner"})
    return {"base": base, "admin": admin, "root": personas["superadmin"]}


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("foreign@shop.test", "not a directory of its own inside the directory of the domain"),
        ("lazy@shop.test", "not a directory of its own inside the directory of the domain"),
        ("outer@shop.test", "shared with other mailboxes: inner@shop.test"),
    ],
)
@pytest.mark.parametrize("purge", [False, True])
def test_deleting_a_mailbox_whose_home_is_not_its_own_touches_nothing(
    site, run_jobs, settings, address, says, purge
):
    settings.MAILADMIN_PURGE_ALLOWED = True
    base = site["base"]
    before = {d: tree(base, d) for d in ("corp.test", "shop.test")}
    result = services.mailbox_delete(
        mailbox=Mailbox.objects.get(pk=address), actor=site["admin"], purge=purge
    )
    assert says in result.home_problem
    (state,) = run_jobs("maildir.").values()
    assert state == Job.State.FAILED
    job = Job.objects.get(object_id=address)
    assert says in job.last_error and "Nothing was changed on disk" in job.last_error
    assert {d: tree(base, d) for d in ("corp.test", "shop.test")} == before
    assert not (base / ".archive").exists()


def test_a_home_inside_another_home_but_outside_its_maildir_is_its_own(site, run_jobs):
    base = site["base"]
    services.mailbox_delete(mailbox=Mailbox.objects.get(pk="inner@shop.test"), actor=site["admin"])
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    assert not (base / "shop.test/team/inner").exists()
    assert (base / "shop.test/team/Maildir/cur/1.outer").is_file()


def test_the_mailbox_page_and_the_delete_page_say_the_home_is_not_its_own(site, client_as):
    client = client_as("admin_a")
    detail = client.get(reverse("mailboxes:detail", args=["foreign@shop.test"])).content.decode()
    assert 'data-testid="home-problem"' in detail and "corp.test" in detail
    delete = client.get(reverse("mailboxes:delete", args=["foreign@shop.test"])).content.decode()
    assert 'data-testid="confirm-warning"' in delete
    normal = client.get(reverse("mailboxes:detail", args=["sue@shop.test"])).content.decode()
    assert 'data-testid="home-problem"' not in normal


def test_a_quota_change_does_not_write_into_another_domains_maildir(site, run_jobs):
    base = site["base"]
    (base / "corp.test/Maildir").mkdir(parents=True)
    services.mailbox_update(
        mailbox=Mailbox.objects.get(pk="foreign@shop.test"), actor=site["admin"], quota=5
    )
    assert set(run_jobs("maildir.").values()) == {Job.State.FAILED}
    assert not (base / "corp.test/Maildir/maildirsize").exists()


def test_a_rename_that_would_move_a_foreign_home_is_refused(site, make_mailbox):
    make_mailbox("x@shop.test", homedir="corp.test/x", maildir="corp.test/x/Maildir/")
    with pytest.raises(ValidationError) as info:
        services.mailbox_rename(
            mailbox=Mailbox.objects.get(pk="x@shop.test"), local_part="y", actor=site["admin"]
        )
    assert "cannot be moved safely" in str(info.value.message_dict["local_part"])
    assert Mailbox.objects.filter(pk="x@shop.test").exists()
    assert not Job.objects.exists()


def test_a_new_address_whose_directory_holds_a_legacy_mailbox_is_refused(site, make_mailbox):
    make_mailbox("old@shop.test", homedir="shop.test/newbie", maildir="shop.test/newbie/Maildir/")
    with pytest.raises(ValidationError) as info:
        services.mailbox_create(
            domain="shop.test", local_part="newbie", password=PASSWORD, actor=site["admin"]
        )
    assert "holds mail of old@shop.test" in str(info.value.message_dict["local_part"])
    assert not Mailbox.objects.filter(pk="newbie@shop.test").exists()


# --- leftover mail ------------------------------------------------------------------------------
def age(path: Path, days: int) -> None:
    stamp = (datetime.datetime.now() - datetime.timedelta(days=days)).timestamp()
    for item in [path, *path.rglob("*")]:
        os.utime(item, (stamp, stamp), follow_symlinks=False)


def test_a_new_mailbox_never_inherits_mail_left_on_disk(site, run_jobs, client_as):
    base = site["base"]
    make_home(base, "shop.test/carol", {"1.secret:2,S": "mail of the former carol"})
    age(base / "shop.test/carol", days=400)  # deleted in ExtMan a year ago, data left behind
    services.mailbox_create(
        domain="shop.test", local_part="carol", password=PASSWORD, actor=site["admin"]
    )
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    new = base / "shop.test/carol/Maildir"
    assert (new / "cur").is_dir() and not any((new / "cur").iterdir())
    (aside,) = (base / ".archive/shop.test").glob("carol.*.leftover-*")
    assert (aside / "Maildir/cur/1.secret:2,S").read_text() == "mail of the former carol"
    job = Job.objects.get(object_id="carol@shop.test")
    assert "moved aside" in job.note and str(aside.relative_to(base)) in job.note
    page = client_as("admin_a").get(reverse("mailboxes:detail", args=["carol@shop.test"]))
    assert "moved aside" in page.content.decode()


def test_mail_delivered_before_the_maildir_job_ran_is_kept(site, run_jobs):
    base = site["base"]
    services.mailbox_create(
        domain="shop.test", local_part="dan", password=PASSWORD, actor=site["admin"], quota=5
    )
    # The mail server delivered before the job ran (a broker outage): a fresh Maildir.
    (base / "shop.test/dan/Maildir/new").mkdir(parents=True)
    (base / "shop.test/dan/Maildir/new/1.first").write_text("welcome")
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    assert (base / "shop.test/dan/Maildir/new/1.first").read_text() == "welcome"
    assert (base / "shop.test/dan/Maildir/maildirsize").read_text().startswith("5242880S\n")
    assert not (base / ".archive").exists()


def test_an_archive_never_takes_a_home_created_after_it_was_recorded(site, run_jobs):
    base = site["base"]
    services.mailbox_delete(mailbox=Mailbox.objects.get(pk="sue@shop.test"), actor=site["admin"])
    archive = Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE)
    # The home on disk now belongs to a mailbox created by a later job (as when the archive
    # was given up and the address re-created).
    maildir.write_marker(base / "shop.test/sue", archive.pk + 1, "sue@shop.test", 1000, 1000)
    assert run_jobs("maildir.") == {archive.pk: Job.State.DONE}
    archive.refresh_from_db()
    assert "belongs to a newer mailbox" in archive.note
    assert (base / "shop.test/sue/Maildir/cur/1.mail:2,S").is_file()


# --- domains ------------------------------------------------------------------------------------
def test_a_domain_with_homes_that_are_not_their_own_is_not_deleted(site):
    counts = (Mailbox.objects.count(), Job.objects.count())
    with pytest.raises(ValidationError) as info:
        domain_services.domain_delete(
            domain="shop.test", delete_all=True, confirm_domain="shop.test", actor=site["root"]
        )
    text = " ".join(info.value.message_dict["delete_all"])
    assert "foreign@shop.test" in text and "lazy@shop.test" in text
    assert (Mailbox.objects.count(), Job.objects.count()) == counts


def test_a_domain_delete_archives_every_home_once_the_unsafe_ones_are_settled(site, run_jobs):
    base = site["base"]
    for address in ("foreign@shop.test", "lazy@shop.test", "outer@shop.test"):
        services.mailbox_delete(mailbox=Mailbox.objects.get(pk=address), actor=site["root"])
    assert set(run_jobs("maildir.").values()) == {Job.State.FAILED}
    corp_before = tree(base, "corp.test")
    domain_services.domain_delete(
        domain="shop.test", delete_all=True, confirm_domain="shop.test", actor=site["root"]
    )
    archive = Job.objects.get(kind=Job.Kind.DOMAIN_ARCHIVE)
    # The domain's archive waits for the failed archives of its mailboxes: nothing overtakes
    # a failure until an admin has settled it by hand and given the failed jobs up.
    assert run_jobs("domain.") == {archive.pk: Job.State.PENDING}
    assert Job.objects.get(pk=archive.pk).waiting_for is not None
    for failed in Job.objects.filter(state=Job.State.FAILED):
        assert runner.cancel(failed)
    archive.refresh_from_db()
    assert archive.state == Job.State.DONE  # woken by the last cancellation
    archived = {p.name.partition(".")[0] for p in (base / ".archive/shop.test").iterdir()}
    assert {"sue", "tom"} <= archived
    assert tree(base, "corp.test") == corp_before


def test_a_domain_archive_leaves_a_home_that_holds_another_domains_mail(
    site, make_mailbox, run_jobs
):
    base = site["base"]
    # Legacy: a corp.test mailbox whose home lies in shop.test's directory, inside sue's home.
    make_mailbox("spy@corp.test", homedir="shop.test/sue/spy", maildir="shop.test/sue/spy/Maildir/")
    make_home(base, "shop.test/sue/spy", {"1.spy": "mail of spy"})
    for address in ("foreign@shop.test", "lazy@shop.test", "outer@shop.test"):
        Mailbox.objects.filter(pk=address).delete()
    with pytest.raises(ValidationError) as info:
        domain_services.domain_delete(
            domain="shop.test", delete_all=True, confirm_domain="shop.test", actor=site["root"]
        )
    assert "spy@corp.test" in " ".join(info.value.message_dict["delete_all"])
    with pytest.raises(ValidationError) as info:
        domain_services.domain_rename(domain="shop.test", new_name="s.test", actor=site["root"])
    assert "spy@corp.test" in " ".join(info.value.message_dict["domain"])
    assert (base / "shop.test/sue/spy/Maildir/cur/1.spy").is_file()
