"""The retention purge: rows older than the settings go, the rest stays; beat runs it daily."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from activity.models import DailyCount, HourlyCount, Login, Message, Recipient
from activity.tasks import purge

pytestmark = pytest.mark.django_db


def make_message(pk: int, when: datetime.datetime) -> None:
    message = Message.objects.create(id=pk, host="mx", queue_id=f"Q{pk}", time=when)
    Recipient.objects.create(
        id=pk, message=message, time=when, address="a@a.test", domain="a.test",
        status="sent", updated_at=when,
    )  # fmt: skip
    Login.objects.create(time=when, host="mx", service="imap", address="a@a.test", success=True)
    HourlyCount.objects.create(hour=when.replace(minute=0, second=0, microsecond=0), kind="sent")
    DailyCount.objects.create(day=when.date(), kind="sent")


def test_the_purge_keeps_what_is_younger_than_the_retention(settings):
    settings.MAILADMIN_ACTIVITY_RETENTION_DAYS = 30
    settings.MAILADMIN_ACTIVITY_DAILY_RETENTION_DAYS = 400
    now = timezone.now()
    make_message(1, now - datetime.timedelta(days=31))
    make_message(2, now - datetime.timedelta(days=29))
    make_message(3, now - datetime.timedelta(days=401))

    result = purge()

    assert list(Message.objects.values_list("pk", flat=True)) == [2]
    assert list(Recipient.objects.values_list("pk", flat=True)) == [2]
    assert Login.objects.count() == 1 and HourlyCount.objects.count() == 1
    # The daily counts behind the graphs by week, month and year are kept longer.
    assert DailyCount.objects.count() == 2
    assert result == {"recipients": 2, "messages": 2, "logins": 2, "hourly": 2, "daily": 1}


def test_beat_runs_the_purge():
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "activity.purge" in tasks
