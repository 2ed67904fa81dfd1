"""The expiry run (expiry.services.run_expiry, manage.py expire_users, the expiry page): what
it disables, what it only reports, the notices it sends once per threshold, its audit records
and its scoping. The effect on the real mail stack is in tests/test_expiry_mailstack.py."""

from __future__ import annotations

import datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from audit.models import AuditEntry
from domains.models import Domain
from expiry.models import ExpiryNotice
from expiry.services import run_expiry
from expiry.tasks import run_expiry as run_expiry_task
from mailadmin.lib import dates
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 15)


def day(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


@pytest.fixture
def boxes(personas, make_mailbox, make_domain, settings):
    settings.MAILADMIN_EXPIRY_NOTICE_DAYS = [14, 3]
    make_domain("gone.test", expiredate=day(-1))
    make_mailbox("old@a.test", expiredate=day(-1))
    make_mailbox("last@a.test", expiredate=TODAY)  # the last valid day
    make_mailbox("soon@a.test", expiredate=day(10))
    make_mailbox("never@a.test")  # 0000-00-00
    make_mailbox("member@gone.test")  # no date: follows its domain
    make_mailbox("old@b.test", expiredate=day(-30))
    return personas


def active(address: str) -> bool:
    return Mailbox.objects.get(pk=address).active


def test_disable_sets_active_0_on_what_is_past_its_date_and_nothing_else(boxes):
    report = run_expiry(today=TODAY)

    assert sorted(report.disabled) == ["gone.test", "old@a.test", "old@b.test"]
    assert not active("old@a.test") and not active("old@b.test")
    assert not Domain.objects.get(pk="gone.test").active
    for address in ("last@a.test", "soon@a.test", "never@a.test", "user@a.test"):
        assert active(address)
    # The expired domain stops its mailboxes through the generated queries (its active=0);
    # their own rows are left as they were, so renewing the domain brings them back.
    assert active("member@gone.test")
    entry = AuditEntry.objects.get(action="mailbox.update", object_id="old@a.test")
    assert (entry.actor, entry.actor_kind) == ("expiry", "system")
    assert entry.changes == {"active": [True, False]}
    domain_entry = AuditEntry.objects.get(action="domain.update", object_id="gone.test")
    assert domain_entry.changes == {"active": [True, False]}


def test_a_second_run_changes_nothing_more(boxes):
    run_expiry(today=TODAY)
    audit_count = AuditEntry.objects.count()
    mail_count = len(mail.outbox)

    report = run_expiry(today=TODAY)

    assert report.disabled == [] and report.notices == []
    assert AuditEntry.objects.count() == audit_count
    assert len(mail.outbox) == mail_count


def test_report_only_leaves_everything_active_and_tells_the_admins(boxes):
    report = run_expiry(today=TODAY, action="report")

    assert report.disabled == []
    assert active("old@a.test") and Domain.objects.get(pk="gone.test").active
    to_admin = [m for m in mail.outbox if m.to == ["admin@a.test"]]
    assert len(to_admin) == 1
    assert "still active" in to_admin[0].body and "old@a.test" in to_admin[0].body
    assert AuditEntry.objects.filter(action="expiry.report", actor="expiry").count() == 1


def test_dry_run_changes_records_and_sends_nothing(boxes):
    before = list(Mailbox.objects.order_by("pk").values_list("pk", "active"))
    audit_count = AuditEntry.objects.count()

    report = run_expiry(today=TODAY, dry_run=True)

    assert [name for name, _d in report.expired_mailboxes] == ["old@a.test", "old@b.test"]
    assert [n.object_id for n in report.notices] == ["last@a.test", "soon@a.test"]
    assert list(Mailbox.objects.order_by("pk").values_list("pk", "active")) == before
    assert Domain.objects.get(pk="gone.test").active
    assert ExpiryNotice.objects.count() == 0
    assert AuditEntry.objects.count() == audit_count
    assert mail.outbox == []


def test_notices_go_once_per_threshold_to_the_mailbox_and_its_domain_admins(boxes):
    run_expiry(today=day(-5), action="report")  # soon@ expires in 15 days: no threshold yet
    assert not ExpiryNotice.objects.filter(object_id="soon@a.test").exists()

    run_expiry(today=day(-4), action="report")  # 14 days left
    to_box = [m for m in mail.outbox if m.to == ["soon@a.test"]]
    assert len(to_box) == 1
    assert "soon@a.test" in to_box[0].subject and day(10).isoformat() in to_box[0].subject
    assert any("soon@a.test" in m.body for m in mail.outbox if m.to == ["admin@a.test"])
    notice = ExpiryNotice.objects.get(object_id="soon@a.test")
    assert notice.days == 14 and "soon@a.test" in notice.recipients
    assert "admin@a.test" in notice.recipients

    for offset in (-3, 0, 5):  # 13, 10 and 5 days left: the 14-day notice is not repeated
        run_expiry(today=day(offset), action="report")
    assert len([m for m in mail.outbox if m.to == ["soon@a.test"]]) == 1

    run_expiry(today=day(7), action="report")  # 3 days left
    run_expiry(today=day(8), action="report")
    assert len([m for m in mail.outbox if m.to == ["soon@a.test"]]) == 2
    assert sorted(
        ExpiryNotice.objects.filter(object_id="soon@a.test").values_list("days", flat=True)
    ) == [3, 14]
    assert AuditEntry.objects.filter(action="expiry.notice", object_id="soon@a.test").count() == 2


def test_a_new_expiry_date_starts_the_notices_again(boxes):
    run_expiry(today=day(7), action="report")
    Mailbox.objects.filter(pk="soon@a.test").update(expiredate=day(20))
    run_expiry(today=day(7), action="report")
    assert ExpiryNotice.objects.filter(object_id="soon@a.test", expiredate=day(20)).count() == 1


def test_a_late_first_run_sends_one_notice_for_all_thresholds_reached(boxes):
    run_expiry(today=day(8), action="report")  # 2 days left: 14 and 3 are both reached
    assert len([m for m in mail.outbox if m.to == ["soon@a.test"]]) == 1
    assert sorted(
        ExpiryNotice.objects.filter(object_id="soon@a.test").values_list("days", flat=True)
    ) == [3, 14]


def test_domain_notices_go_to_the_domain_admins(boxes):
    Domain.objects.filter(pk="b.test").update(expiredate=day(3))
    run_expiry(today=TODAY, action="report")
    to_b = [m for m in mail.outbox if m.to == ["admin@b.test"]]
    assert len(to_b) == 1 and "b.test" in to_b[0].body
    notices = ExpiryNotice.objects.filter(object_type="domain")
    assert sorted(notices.values_list("object_id", "days")) == [("b.test", 3), ("b.test", 14)]


@pytest.mark.parametrize("language", ["zh-hans", "zh-hant", "en"])
def test_notices_are_written_in_the_site_language(boxes, settings, monkeypatch, language):
    """As signup's mails sent without a request: the site's language (MAILADMIN_LANGUAGE),
    whatever language was active before (the catalogues carry the translations)."""
    from expiry import notifications

    settings.LANGUAGE_CODE = language
    translation.activate("en" if language != "en" else "zh-hans")
    languages: list[tuple[str, str | None]] = []
    sender = notifications.send_each

    def spy(subject, template, context, to):
        languages.append((to[0], translation.get_language()))
        return sender(subject, template, context, to)

    monkeypatch.setattr(notifications, "send_each", spy)
    Mailbox.objects.filter(pk="soon@a.test").update(expiredate=dates.today())

    run_expiry_task.apply()

    assert ("soon@a.test", language) in languages
    assert ("admin@a.test", language) in languages
    assert {lang for _to, lang in languages} == {language}


def test_the_command_prints_what_it_did_and_exits_0(boxes):
    out = StringIO()
    call_command("expire_users", "--date", TODAY.isoformat(), stdout=out)
    text = out.getvalue()
    assert "disabled mailbox old@a.test (expired 2026-06-14)" in text
    assert "disabled domain gone.test" in text
    assert "notified mailbox soon@a.test" in text
    assert "3 disabled" in text
    assert not active("old@a.test")


def test_the_command_dry_run_and_report_change_nothing(boxes):
    out = StringIO()
    call_command("expire_users", "--dry-run", "--date", TODAY.isoformat(), stdout=out)
    assert "would disable mailbox old@a.test" in out.getvalue()
    out = StringIO()
    call_command("expire_users", "--action", "report", "--date", TODAY.isoformat(), stdout=out)
    assert "expired, still active mailbox old@a.test" in out.getvalue()
    assert active("old@a.test")


def test_the_command_exits_1_and_names_what_it_could_not_disable(boxes, monkeypatch):
    from expiry import services

    def refuse(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "mailbox_update", refuse)
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("expire_users", "--date", TODAY.isoformat(), stdout=out)
    assert failure.value.returncode == 1
    assert "FAILED mailbox old@a.test" in out.getvalue() and "disk on fire" in out.getvalue()
    assert not Domain.objects.get(pk="gone.test").active  # the others were done


def test_the_command_refuses_an_unknown_action(boxes):
    with pytest.raises(CommandError):
        call_command("expire_users", "--action", "delete")


def test_the_page_is_scoped_and_the_run_is_for_the_superadmin(boxes, client_as, settings):
    Mailbox.objects.filter(pk="soon@a.test").update(expiredate=dates.today())
    Mailbox.objects.filter(pk="old@b.test").update(expiredate=dates.today() - datetime.timedelta(1))
    page = client_as("admin_a").get("/expiry/").content.decode()
    assert "soon@a.test" in page and "old@b.test" not in page
    page_b = client_as("admin_b").get("/expiry/").content.decode()
    assert "old@b.test" in page_b and "a.test" not in page_b
    assert client_as("admin_a").post("/expiry/run/").status_code == 404
    assert active("old@b.test")

    response = client_as("superadmin").post("/expiry/run/")

    assert response.status_code == 302
    assert not active("old@b.test")  # no broker: the run happened in the request
    assert AuditEntry.objects.filter(action="expiry.run").count() == 1


def test_the_beat_schedule_runs_the_expiry_daily_at_the_configured_hour():
    from mailadmin.celery import app

    entry = app.conf.beat_schedule["mailadmin-expire-users"]
    assert entry["task"] == "expiry.run_expiry"
    assert entry["schedule"].hour == {6}


@pytest.mark.legacy
def test_the_run_goes_through_the_hostile_legacy_rows(legacy_rows_kept):
    """The legacy fixture's rows (zero dates, impossible dates, orphans, odd names) neither
    stop the run nor the command, nor the page."""
    from django.test import Client

    from accounts.models import Manager

    for manager in ("root@hostile.example", "shop@hostile.example", "corp@hostile.example"):
        client = Client()
        client.force_login(Manager.objects.get(pk=manager))
        assert client.get("/expiry/").status_code == 200, manager
    expired = [name for name, _d in run_expiry(dry_run=True).expired_mailboxes]
    assert expired  # the fixture has active mailboxes past their date
    out = StringIO()
    call_command("expire_users", stdout=out)
    assert "summary:" in out.getvalue()
    for address in expired:
        assert not Mailbox.objects.get(pk=address).active
    assert Mailbox.objects.filter(active=True, expiredate__isnull=True).exists()
