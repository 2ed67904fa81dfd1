"""Disk usage over the hostile ExtMan fixture (tests/fixtures/extman-hostile.sql): a
measurement of every Maildir reads only homes that are their mailbox's own, writes nothing on
disk, stores a reason for the others, and every page that shows the figures (lists sorted and
filtered by use, the domain page, the mailbox pages, the report CSV) answers without an error.

Runs in the legacy pass, with the real job handler on a real mail base."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Manager
from diskusage import services
from mailadmin.lib import maildir
from mailboxes.models import Mailbox, MailboxDiskUsage
from provisioning.models import Job

pytestmark = [
    pytest.mark.legacy,
    pytest.mark.django_db,
    pytest.mark.usefixtures("legacy_rows_kept"),
]

ROOT = "root@hostile.example"
SHOP = "shop@hostile.example"
# Directories on the mail base, each with one message of a size of its own.
HOMES = {
    "corp.example/boss": 1000,
    "corp.example": 2000,  # what thief@shop.example's home points at
    "shop.example": 3000,  # domainhome@shop.example's home
    "shop.example/bare": 4000,
    "shop.example/outer": 5000,
    "shop.example/outer/inner": 6000,
    "shop.example/zhang.wei": 7000,
}
NOT_OWN = [
    "thief@shop.example",
    "domainhome@shop.example",
    "outer@shop.example",
    "dotdot@shop.example",
    "absolute@shop.example",
]


def snapshot(base: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(base)), p.stat().st_mtime_ns) for p in base.rglob("*"))


@pytest.fixture
def disk(settings) -> Path:
    base = settings.MAILADMIN_MAIL_BASE
    for home, size in HOMES.items():
        maildir.create_maildir(base, home, f"{home}/Maildir/", "0S", 1000, 1000)
        (base / home / "Maildir/cur" / f"1.mail,S={size}:2,S").write_bytes(b"x" * size)
    return base


def client_for(username: str) -> Client:
    client = Client()
    client.force_login(Manager.objects.get(pk=username))
    return client


def test_measuring_the_hostile_rows_reads_only_homes_of_their_own(disk, run_jobs):
    before = snapshot(disk)
    services.usage_measure_all(actor=Manager.objects.get(pk=ROOT))
    assert set(run_jobs("maildir.").values()) == {Job.State.DONE}
    rows = {u.pk: u for u in MailboxDiskUsage.objects.all()}
    assert len(rows) == Mailbox.objects.filter(mailhost="").count()
    for address in NOT_OWN:
        assert rows[address].used_bytes is None and rows[address].problem, address
    assert rows["bare@shop.example"].used_bytes == 4000
    assert rows["inner@shop.example"].used_bytes == 6000
    assert rows["zhang.wei@shop.example"].used_bytes == 7000
    assert rows["boss@corp.example"].used_bytes == 1000
    assert snapshot(disk) == before  # nothing written, moved or touched


def test_the_pages_that_show_the_figures_answer_for_every_hostile_row(disk, run_jobs):
    services.usage_measure_all(actor=Manager.objects.get(pk=ROOT))
    run_jobs("maildir.")
    for manager in (ROOT, SHOP):
        client = client_for(manager)
        for url in (
            "/mailboxes/?sort=-used",
            "/mailboxes/?sort=used&usage=over90",
            "/mailboxes/?domain=shop.example&sort=-used",
            "/domains/shop.example/",
        ):
            assert client.get(url).status_code == 200, (manager, url)
        answer = client.get("/usage/domain/shop.example/report.csv")
        assert answer.status_code == 200
        rows = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
        assert "bare@shop.example" in {row[0] for row in rows[1:]}
        for address in Mailbox.objects.visible_to(Manager.objects.get(pk=manager)).values_list(
            "pk", flat=True
        ):
            page = client.get(reverse("mailboxes:detail", kwargs={"address": address}))
            assert page.status_code == 200, (manager, address)
            assert 'data-testid="mailbox-disk-usage"' in page.content.decode()
