"""Real disk usage (docs/disk-usage.md): the storage workers measure Maildirs from their
``maildirsize`` (written here by Courier's own ``deliverquota``) or by walking them, only where
the home is the mailbox's own; the lists, the domain page and the portal show the figures;
quota warnings go out once per crossing; the usage report's CSV is downloaded and mailed.
The jobs run with the real handlers (inline through ``run_jobs``, and in a real Celery worker
for the end-to-end test)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from audit.models import AuditEntry
from diskusage import reports, services
from diskusage.warnings import quota_warnings_send
from mailadmin.lib.maildirsize import FROM_FILE, FROM_WALK, measure, parse_maildirsize
from mailboxes.models import Mailbox, MailboxDiskUsage
from provisioning.models import Job
from tests.workers import wait_until

MB = 1_048_576


def maildir_of(settings, mailbox: Mailbox) -> Path:
    return Path(settings.MAILADMIN_MAIL_BASE) / mailbox.maildir


def make_maildir(box: Path, *, quota: str = "10485760S", sizes: tuple[int, ...] = ()) -> Path:
    """A Maildir with a ``maildirsize`` that counts ``sizes`` (as a deliverer writes it) and
    matching messages in ``cur/``."""
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True, exist_ok=True)
    lines = [quota, *(f"{size} 1" for size in sizes)]
    (box / "maildirsize").write_text("\n".join(lines) + "\n")
    for n, size in enumerate(sizes):
        (box / "cur" / f"{n}.host,S={size}:2,S").write_bytes(b"x" * size)
    return box


def deliver(box: Path, body: str, quota: str = "10485760S") -> None:
    """Deliver one message with Courier's deliverquota, which keeps ``maildirsize``."""
    subprocess.run(
        ["deliverquota", "-c", str(box), quota], input=body.encode(), check=True, timeout=30
    )


# --- measuring one Maildir --------------------------------------------------------------------
def test_maildirsize_is_summed_and_invalid_files_are_refused():
    assert parse_maildirsize(b"10485760S\n  100 2\n  -40 -1\n") == (60, 1, 2)
    assert parse_maildirsize(b"10485760S,1000C\n") == (0, 0, 0)
    assert parse_maildirsize(b"nonsense\n100 1\n") is None
    assert parse_maildirsize(b"10485760S\n100\n") is None
    assert parse_maildirsize(b"10485760S\n-100 -1\n") is None
    assert parse_maildirsize("10485760S\n1\u00e9 1\n".encode()) is None


def test_a_maildir_written_by_deliverquota_is_measured_from_its_maildirsize(tmp_path):
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    deliver(box, "Subject: one\n\n" + "a" * 3000 + "\n")
    deliver(box, "Subject: two\n\n" + "b" * 5000 + "\n")
    on_disk = sum(p.stat().st_size for p in (box / "new").iterdir())
    found = measure(box)
    assert found.source == FROM_FILE
    assert (found.bytes, found.messages) == (on_disk, 2)


def test_a_maildir_without_a_valid_maildirsize_is_walked(tmp_path):
    box = make_maildir(tmp_path / "Maildir", sizes=(1000,))
    (box / "maildirsize").write_text("garbage\n")
    (box / ".Sent" / "cur").mkdir(parents=True)
    (box / ".Sent" / "cur" / "2.host:2,S").write_bytes(b"y" * 700)  # no S=: its real size
    (box / "new" / "3.host,S=300").write_bytes(b"z" * 300)
    (box / "tmp" / "4.host").write_bytes(b"t" * 5000)  # not delivered yet: not counted
    found = measure(box)
    assert (found.bytes, found.messages, found.source) == (2000, 3, FROM_WALK)
    # A bare quota line in front of mail no deliverer counted: walked as well.
    (box / "maildirsize").write_text("10485760S\n")
    assert measure(box).source == FROM_WALK
    assert measure(tmp_path / "missing") is None


def test_the_walk_follows_no_link(tmp_path):
    outside = tmp_path / "outside"
    (outside / "cur").mkdir(parents=True)
    (outside / "cur" / "secret,S=999999").write_bytes(b"s")
    box = make_maildir(tmp_path / "Maildir")
    os.remove(box / "maildirsize")
    os.symlink(outside, box / ".Evil")
    os.symlink(outside / "cur" / "secret,S=999999", box / "cur" / "link,S=999999")
    found = measure(box)
    assert (found.bytes, found.messages) == (0, 0)
    os.symlink(tmp_path / "elsewhere", tmp_path / "linked")
    assert measure(tmp_path / "linked") is None


# --- the job, with the real handler -----------------------------------------------------------
@pytest.fixture
def site(personas, make_mailbox, settings):
    settings.MAILADMIN_QUOTA_WARN_PERCENT = [80, 90, 95]
    user = Mailbox.objects.get(pk="user@a.test")
    user.quota = "10485760S"
    user.save()
    return {**personas, "user_a": user, "base": Path(settings.MAILADMIN_MAIL_BASE)}


def test_measuring_a_domain_stores_bytes_messages_and_percent(site, settings, run_jobs):
    make_maildir(maildir_of(settings, site["user_a"]), sizes=(3 * MB, 1 * MB))
    services.usage_measure_domain(domain=site["user_a"].domain, actor=site["admin_a"])
    assert set(run_jobs().values()) == {Job.State.DONE}
    usage = MailboxDiskUsage.objects.get(pk="user@a.test")
    assert (usage.used_bytes, usage.messages, usage.percent) == (4 * MB, 2, 40)
    assert usage.source == MailboxDiskUsage.Source.MAILDIRSIZE
    assert usage.quota_bytes == 10 * MB and usage.domain == "a.test"
    assert AuditEntry.objects.filter(action="usage.measure", object_id="a.test").exists()


def test_a_mailbox_without_a_maildir_is_listed_as_such(site, run_jobs):
    services.usage_measure_mailbox(mailbox=site["user_a"], actor=site["superadmin"])
    run_jobs()
    usage = MailboxDiskUsage.objects.get(pk="user@a.test")
    assert usage.source == MailboxDiskUsage.Source.MISSING and usage.used_bytes is None


def test_an_outsider_cannot_ask_for_a_measurement(site):
    with pytest.raises(PermissionDenied):
        services.usage_measure_mailbox(mailbox=site["user_a"], actor=site["admin_b"])
    with pytest.raises(PermissionDenied):
        services.usage_measure_domain(domain=site["user_a"].domain, actor=site["admin_b"])
    with pytest.raises(PermissionDenied):
        services.usage_measure_all(actor=site["admin_a"])
    assert not Job.objects.filter(kind=Job.Kind.MAILDIR_USAGE).exists()


def test_homes_that_are_not_the_mailboxs_own_are_never_read(site, settings, make_mailbox, run_jobs):
    base = site["base"]
    # Another domain's directory, the domain directory itself, an absolute path, a home shared
    # with another mailbox, and a Maildir reached through a link.
    make_maildir(base / "b.test/victim/Maildir", sizes=(5 * MB,))
    make_mailbox("thief@a.test", homedir="b.test/victim", maildir="b.test/victim/Maildir/")
    make_maildir(base / "a.test/Maildir", sizes=(6 * MB,))
    make_mailbox("whole@a.test", homedir="a.test", maildir="a.test/Maildir/")
    make_mailbox("abs@a.test", homedir="/etc", maildir="/etc/Maildir/")
    make_maildir(base / "a.test/shared/Maildir", sizes=(7 * MB,))
    make_mailbox("one@a.test", homedir="a.test/shared", maildir="a.test/shared/Maildir/")
    make_mailbox("two@a.test", homedir="a.test/shared", maildir="a.test/shared/Maildir/")
    (base / "a.test/linked").mkdir(parents=True)
    os.symlink(base / "b.test/victim/Maildir", base / "a.test/linked/Maildir")
    make_mailbox("link@a.test", homedir="a.test/linked", maildir="a.test/linked/Maildir/")
    make_maildir(maildir_of(settings, site["user_a"]), sizes=(MB,))
    services.usage_measure_all(actor=site["superadmin"])
    assert set(run_jobs().values()) == {Job.State.DONE}
    rows = {u.pk: u for u in MailboxDiskUsage.objects.all()}
    for address in ("thief", "whole", "abs", "one", "two", "link"):
        row = rows[f"{address}@a.test"]
        assert row.source == MailboxDiskUsage.Source.REFUSED, address
        assert row.used_bytes is None and row.problem, address
    assert rows["user@a.test"].used_bytes == MB
    # One mailbox measured alone goes through the same rules.
    services.usage_measure_mailbox(
        mailbox=Mailbox.objects.get(pk="one@a.test"), actor=site["superadmin"]
    )
    run_jobs()
    assert MailboxDiskUsage.objects.get(pk="one@a.test").used_bytes is None


def test_rows_of_deleted_mailboxes_go_with_the_next_full_measurement(site, settings, run_jobs):
    make_maildir(maildir_of(settings, site["user_a"]), sizes=(MB,))
    MailboxDiskUsage.objects.create(
        mailbox_id="gone@a.test",
        domain="a.test",
        source="maildirsize",
        used_bytes=1,
        measured_at="2020-01-01T00:00:00Z",
    )
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    assert list(MailboxDiskUsage.objects.values_list("pk", flat=True)) == ["user@a.test"]


# --- quota warnings ---------------------------------------------------------------------------
def set_use(settings, mailbox: Mailbox, megabytes: int, run_jobs) -> None:
    box = maildir_of(settings, mailbox)
    if box.exists():
        for old in (box / "cur").iterdir():
            old.unlink()
    make_maildir(box, sizes=(megabytes * MB,))
    services.usage_measure_mailbox(mailbox=mailbox, actor="test")
    run_jobs()


def test_a_warning_goes_out_once_per_crossing_and_again_after_the_use_fell(
    site, settings, run_jobs
):
    user = site["user_a"]
    set_use(settings, user, 5, run_jobs)  # 50 %
    assert mail.outbox == []
    set_use(settings, user, 8, run_jobs)  # 80 %: the first threshold
    assert [m.to for m in mail.outbox] == [["user@a.test"]]
    assert "80%" in mail.outbox[0].subject and "8 MB" in mail.outbox[0].body
    set_use(settings, user, 8, run_jobs)  # measured again, still 80 %: nothing new
    assert quota_warnings_send() == 0 and len(mail.outbox) == 1
    set_use(settings, user, 9, run_jobs)  # 90 %: the next threshold
    assert len(mail.outbox) == 2 and "90%" in mail.outbox[1].subject
    set_use(settings, user, 3, run_jobs)  # back under: re-armed, no mail
    assert len(mail.outbox) == 2
    assert MailboxDiskUsage.objects.get(pk=user.pk).warned_percent == 0
    set_use(settings, user, 8, run_jobs)  # crosses 80 % again
    assert len(mail.outbox) == 3
    assert AuditEntry.objects.filter(action="mailbox.quota_warning").count() == 3


def test_the_admins_get_a_copy_when_configured(site, settings, run_jobs):
    settings.MAILADMIN_QUOTA_WARN_ADMINS = True
    set_use(settings, site["user_a"], 10, run_jobs)  # 100 %: one mail for the highest, 95
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@a.test", "user@a.test"]
    assert all("100%" in m.subject for m in mail.outbox)
    assert MailboxDiskUsage.objects.get(pk="user@a.test").warned_percent == 95


# --- pages ------------------------------------------------------------------------------------
@pytest.fixture
def measured(site, settings, make_mailbox, run_jobs):
    """a.test with 30 measured mailboxes, the fullest at 95 %."""
    for n in range(30):
        mailbox = make_mailbox(f"m{n:02}@a.test", quota="10485760S", name=f"Name {n}")
        make_maildir(maildir_of(settings, mailbox), sizes=((n % 10 + 1) * MB // 10 * 95 // 10,))
    make_maildir(maildir_of(settings, site["user_a"]), sizes=(2 * MB,))
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    return site


def test_the_mailbox_list_shows_sorts_and_filters_by_use(measured, client_as):
    client = client_as("admin_a")
    page = client.get("/mailboxes/?domain=a.test&sort=-used&per_page=100")
    body = page.content.decode()
    assert page.status_code == 200 and "<meter" in body
    order = list(page.context["listing"].objects)
    used = [m.used_bytes for m in order]
    assert used == sorted(used, reverse=True)
    full = client.get("/mailboxes/?domain=a.test&usage=over90&per_page=100").context["listing"]
    assert {m.used_percent for m in full.objects} and all(
        m.used_percent >= 90 for m in full.objects
    )
    assert full.total == 3  # m09, m19, m29


def test_the_mailbox_list_keeps_a_constant_query_count(
    measured, client_as, make_mailbox, django_assert_max_num_queries
):
    client = client_as("admin_a")
    client.get("/mailboxes/?domain=a.test&sort=-used")
    with django_assert_max_num_queries(12) as few:
        client.get("/mailboxes/?domain=a.test&sort=-used&per_page=25")
    # The filter is counted like a search (a bounded count): one query more, at any size.
    with django_assert_max_num_queries(len(few.captured_queries) + 1):
        client.get("/mailboxes/?domain=a.test&sort=-used&per_page=200&usage=over90")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get("/mailboxes/?domain=a.test&sort=-used&per_page=200")


def test_the_domain_page_shows_the_domains_disk_use(measured, client_as):
    expected = sum(MailboxDiskUsage.objects.values_list("used_bytes", flat=True))
    page = client_as("admin_a").get("/domains/a.test/")
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="domain-disk-used"' in body
    assert f">{expected // MB} MB<" in body
    assert "31 / 31" in body  # measured / mailboxes


def test_the_mailbox_page_shows_its_use_and_measures_on_request(measured, client_as):
    client = client_as("admin_a")
    page = client.get("/mailboxes/user@a.test/")
    assert 'data-testid="mailbox-disk-usage"' in page.content.decode()
    assert "2 / 10 (20%)" in page.content.decode()
    answer = client.post("/usage/mailbox/user@a.test/measure/")
    assert answer.status_code == 302
    assert Job.objects.filter(kind=Job.Kind.MAILDIR_USAGE, object_id="user@a.test").exists()
    assert client_as("admin_b").post("/usage/mailbox/user@a.test/measure/").status_code == 404


def test_the_portal_reads_the_stored_figure(site, settings, run_jobs, client):
    user = site["user_a"]
    box = make_maildir(maildir_of(settings, user), sizes=(3 * MB,))
    from portal.usage import mailbox_usage

    # Not measured yet: maildirsize read now.
    assert mailbox_usage(user)["used"] == 3 * MB and mailbox_usage(user)["measured_at"] is None
    services.usage_measure_mailbox(mailbox=user, actor="test")
    run_jobs()
    (box / "maildirsize").write_text("10485760S\n9999999 9\n")  # changed since: not read
    usage = mailbox_usage(user)
    assert usage["used"] == 3 * MB and usage["messages"] == 1 and usage["measured_at"]


# --- reports ----------------------------------------------------------------------------------
def csv_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_report_csv_is_streamed_scoped_and_neutralised(measured, client_as):
    Mailbox.objects.filter(pk="m00@a.test").update(name='=HYPERLINK("http://x")')
    Mailbox.objects.filter(pk="m01@a.test").update(name="@SUM(1)")
    answer = client_as("admin_a").get("/usage/domain/a.test/report.csv")
    assert answer.status_code == 200 and answer.streaming
    assert answer["Content-Type"].startswith("text/csv")
    rows = csv_of(answer)
    assert rows[0][:5] == ["address", "name", "active", "quota (bytes)", "used (bytes)"]
    by_address = {row[0]: row for row in rows[1:]}
    assert len(by_address) == 31
    assert by_address["user@a.test"][4:7] == [str(2 * MB), "1", "20"]
    assert by_address["m00@a.test"][1] == '\'=HYPERLINK("http://x")'
    assert by_address["m01@a.test"][1] == "'@SUM(1)"
    assert client_as("admin_b").get("/usage/domain/a.test/report.csv").status_code == 404


def test_the_report_is_mailed_to_the_domains_admins_with_the_csv(
    measured, client_as, django_capture_on_commit_callbacks
):
    mail.outbox.clear()  # the quota warnings of the measurement
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_as("admin_a").post("/usage/domain/a.test/report/")
    assert answer.status_code == 302
    (message,) = mail.outbox
    assert message.to == ["admin@a.test"] and "a.test" in message.subject
    name, content, mimetype = message.attachments[0]
    assert name.startswith("usage-a.test-") and mimetype == "text/csv"
    assert "user@a.test" in content and len(content.splitlines()) == 32
    assert "m09@a.test" in message.body  # among the fullest
    assert AuditEntry.objects.filter(action="domain.usage_report", object_id="a.test").exists()
    assert client_as("admin_b").post("/usage/domain/a.test/report/").status_code == 404
    assert len(mail.outbox) == 1


def test_the_scheduled_reports_go_to_domains_with_admins(measured, make_domain):
    make_domain("nobody.test")  # no admin: no report
    mail.outbox.clear()
    assert reports.reports_send_all() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@a.test", "admin@b.test"]
    assert all(len(m.attachments) == 1 for m in mail.outbox)


# --- a real worker ----------------------------------------------------------------------------
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_measures_maildirs_delivered_by_deliverquota(
    start_worker, settings, make_domain, make_manager, make_mailbox
):
    start_worker()
    make_domain("shop.test")
    root = make_manager("root@panel.test", type="admin")
    alice = make_mailbox("alice@shop.test", quota="10485760S")
    bob = make_mailbox("bob@shop.test", quota="1048576S")
    base = Path(settings.MAILADMIN_MAIL_BASE)
    for mailbox, count in ((alice, 3), (bob, 1)):
        box = base / mailbox.maildir
        for sub in ("cur", "new", "tmp"):
            (box / sub).mkdir(parents=True)
        for n in range(count):
            deliver(box, f"Subject: {n}\n\n" + "m" * 200_000 + "\n", mailbox.quota)
    expected = {
        m.pk: sum(p.stat().st_size for p in (base / m.maildir / "new").iterdir())
        for m in (alice, bob)
    }
    jobs = services.usage_measure_all(actor=root)
    wait_until(
        lambda: (
            Job.objects.filter(pk__in=[j.pk for j in jobs], state=Job.State.DONE).count()
            == len(jobs)
        ),
        60,
        "the measurement",
    )
    rows = {u.pk: u for u in MailboxDiskUsage.objects.all()}
    assert rows["alice@shop.test"].used_bytes == expected["alice@shop.test"]
    assert rows["alice@shop.test"].messages == 3
    assert rows["bob@shop.test"].source == MailboxDiskUsage.Source.MAILDIRSIZE
    assert rows["bob@shop.test"].percent == expected["bob@shop.test"] * 100 // 1048576


def test_the_command_measures_warns_and_reports(site, settings, run_jobs, capsys):
    from django.core.management import call_command

    make_maildir(maildir_of(settings, site["user_a"]), sizes=(9 * MB,))
    call_command("disk_usage", "measure", "--domain", "a.test")
    run_jobs()
    assert MailboxDiskUsage.objects.get(pk="user@a.test").percent == 90
    mail.outbox.clear()
    MailboxDiskUsage.objects.update(warned_percent=0)
    call_command("disk_usage", "warn")
    assert [m.to for m in mail.outbox] == [["user@a.test"]]
    call_command("disk_usage", "report", "--domain", "a.test", "--to", "ops@panel.test")
    assert mail.outbox[-1].to == ["ops@panel.test"] and mail.outbox[-1].attachments
    assert "sent to ops@panel.test" in capsys.readouterr().out


def test_the_disk_usage_settings_are_checked_when_the_project_starts():
    from tests.test_env import _start

    bad = _start(
        {
            "SECRET_KEY": "x",
            "MAILADMIN_QUOTA_WARN_PERCENT": "80,ninety",
            "MAILADMIN_USAGE_REPORT": "hourly",
        }
    )
    assert bad.returncode != 0
    assert "MAILADMIN_QUOTA_WARN_PERCENT" in bad.stderr and "MAILADMIN_USAGE_REPORT" in bad.stderr
    good = _start(
        {
            "SECRET_KEY": "x",
            "MAILADMIN_QUOTA_WARN_PERCENT": "95,80",
            "MAILADMIN_USAGE_INTERVAL": "0",
            "MAILADMIN_USAGE_REPORT": "off",
        }
    )
    assert good.returncode == 0, good.stderr


def test_beat_measures_hourly_and_reports_weekly_by_default(settings):
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["mailadmin-measure-usage"]["task"] == "diskusage.measure_usage"
    assert schedule["mailadmin-measure-usage"]["schedule"] == 3600.0
    weekly = schedule["mailadmin-usage-reports"]["schedule"]
    assert schedule["mailadmin-usage-reports"]["task"] == "diskusage.usage_reports"
    assert weekly.day_of_week == {1} and weekly.hour == {7} and weekly.minute == {45}


def test_the_scheduled_measurement_records_one_job_per_storage_host_and_no_pile_up(site, settings):
    from diskusage.tasks import measure_usage

    settings.MAILADMIN_STORAGE_HOSTS = ["store2"]
    assert measure_usage() == 2
    assert sorted(
        Job.objects.filter(kind=Job.Kind.MAILDIR_USAGE).values_list("queue", flat=True)
    ) == ["maildir.default", "maildir.store2"]
    assert measure_usage() == 0  # the earlier ones have not run yet


def test_warnings_and_reports_are_written_in_the_sites_language(
    site, settings, run_jobs, monkeypatch
):
    from django.utils import translation

    import diskusage.warnings

    languages = []

    def record(subject, template, context, to):
        languages.append(translation.get_language())
        return True

    def render(template, context):
        languages.append(translation.get_language())
        return "report"

    monkeypatch.setattr(diskusage.warnings, "send_each", record)
    monkeypatch.setattr(reports, "render_to_string", render)
    settings.LANGUAGE_CODE = "zh-hans"
    with translation.override("en"):  # the worker's or a request's language does not count
        set_use(settings, site["user_a"], 9, run_jobs)
        reports.report_send(domain=site["user_a"].domain, to=["ops@panel.test"])
    assert languages == ["zh-hans", "zh-hans"]  # the warning, then the report
    assert mail.outbox[-1].body == "report"
