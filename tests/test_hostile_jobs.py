"""Disk jobs over the hostile ExtMan fixture (tests/fixtures/extman-hostile.sql): a domain
admin deleting, renaming and re-quoting the legacy rows whose homes are not their own never
touches another mailbox's or another domain's mail.

Runs in the legacy pass (the fixture is loaded there), inside the test's transaction, with the
real job handlers on a real mail base.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Manager
from domains import services as domain_services
from mailadmin.lib import maildir
from mailboxes import services
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = [
    pytest.mark.legacy,
    pytest.mark.django_db,
    pytest.mark.usefixtures("legacy_rows_kept"),
]

# Directories of the fixture's mailboxes, made on the test's mail base.
HOMES = {
    "corp.example/boss": "mail of boss",
    "shop.example/bare": "mail of bare",
    "shop.example/outer": "mail of outer",
    "shop.example/outer/inner": "mail of inner",
    "shop.example/zhang.wei": "mail of zhang.wei",
}


def snapshot(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if ".archive" not in p.parts)


@pytest.fixture
def disk(settings) -> Path:
    base = settings.MAILADMIN_MAIL_BASE
    for home, text in HOMES.items():
        maildir.create_maildir(base, home, f"{home}/Maildir/", "0S", 1000, 1000)
        (base / home / "Maildir/cur/1.mail:2,S").write_text(text)
    return base


@pytest.fixture
def shop_admin() -> Manager:
    return Manager.objects.get(pk="shop@hostile.example")


@pytest.mark.parametrize(
    "address",
    [
        "thief@shop.example",  # home: corp.example
        "domainhome@shop.example",  # home: shop.example
        "outer@shop.example",  # holds inner's home
        "dotdot@shop.example",  # shop.example/../corp.example/boss
        "absolute@shop.example",  # /home/domains/shop.example/absolute
    ],
)
def test_deleting_a_legacy_mailbox_whose_home_is_not_its_own_changes_nothing_on_disk(
    disk, shop_admin, run_jobs, address
):
    before = snapshot(disk)
    result = services.mailbox_delete(mailbox=Mailbox.objects.get(pk=address), actor=shop_admin)
    assert result.home_problem
    assert set(run_jobs("maildir.").values()) == {Job.State.FAILED}
    assert "Nothing was changed on disk" in Job.objects.get(object_id=address).last_error
    assert snapshot(disk) == before
    assert not (disk / ".archive").exists()


def test_the_legacy_mailboxes_with_homes_of_their_own_are_archived(disk, shop_admin, run_jobs):
    for address in ("bare@shop.example", "inner@shop.example", "zhang.wei@shop.example"):
        services.mailbox_delete(mailbox=Mailbox.objects.get(pk=address), actor=shop_admin)
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    archive = disk / ".archive/shop.example"
    assert len(list(archive.glob("bare.*"))) == len(list(archive.glob("zhang.wei.*"))) == 1
    assert len(list(archive.glob("outer/inner.*"))) == 1
    assert (disk / "shop.example/outer/Maildir/cur/1.mail:2,S").read_text() == "mail of outer"
    assert (disk / "corp.example/boss/Maildir/cur/1.mail:2,S").read_text() == "mail of boss"


def test_a_quota_change_of_a_legacy_mailbox_in_another_domains_directory_is_refused(
    disk, shop_admin, run_jobs
):
    (disk / "corp.example/Maildir").mkdir(parents=True)
    services.mailbox_update(
        mailbox=Mailbox.objects.get(pk="thief@shop.example"), actor=shop_admin, quota=1
    )
    assert set(run_jobs("maildir.").values()) == {Job.State.FAILED}
    assert not (disk / "corp.example/Maildir/maildirsize").exists()


def test_the_domain_with_those_homes_is_not_deleted(disk):
    root = Manager.objects.get(pk="root@hostile.example")
    with pytest.raises(ValidationError) as info:
        domain_services.domain_delete(
            domain="shop.example", delete_all=True, confirm_domain="shop.example", actor=root
        )
    refused = " ".join(info.value.message_dict["delete_all"])
    # (outer's home holds inner's: both go with the domain, so that one is no obstacle)
    for address in ("thief@", "domainhome@", "dotdot@", "absolute@"):
        assert f"{address}shop.example" in refused
    assert Mailbox.objects.filter(domain_id="shop.example").count() > 5


def test_a_new_mailbox_of_the_hostile_domain_gets_the_courier_quota_and_an_empty_maildir(
    disk, shop_admin, run_jobs
):
    # The domain's template quota is bare (5242880); mail left on disk by a former owner.
    home = "shop.example/fresh"
    maildir.create_maildir(disk, home, f"{home}/Maildir/", "0", 1000, 1000)
    (disk / home / "Maildir/cur/old:2,S").write_text("former owner")
    os.utime(disk / home / "Maildir/cur/old:2,S", (0, 0))
    services.mailbox_create(
        domain="shop.example", local_part="fresh", password="Correct-Horse-9", actor=shop_admin
    )
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    box = disk / "shop.example/fresh/Maildir"
    assert (box / "maildirsize").read_text().splitlines()[0] == "5242880S"
    assert not any((box / "cur").iterdir())
    assert list((disk / ".archive/shop.example").glob("fresh.*.leftover-*"))
