"""Housekeeping of the activity tables: the retention purge (docs/activity.md, "Retention")."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from activity.models import DailyCount, HourlyCount, Login, Message, Recipient

log = logging.getLogger("mailadmin.activity")

#: Rows deleted per statement, so that a purge never holds long locks over the follower.
CHUNK = 5000


def _delete_in_chunks(queryset: QuerySet) -> int:
    total = 0
    model = queryset.model
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return total
        with transaction.atomic():
            _, per_model = model.objects.filter(pk__in=ids).delete()
        total += per_model.get(model._meta.label, 0)


def purge_activity(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete what is older than the retention settings; the number of rows of each table."""
    now = now or timezone.now()
    events_before = now - datetime.timedelta(days=settings.MAILADMIN_ACTIVITY_RETENTION_DAYS)
    days_before = (
        now - datetime.timedelta(days=settings.MAILADMIN_ACTIVITY_DAILY_RETENTION_DAYS)
    ).date()
    result = {
        # Recipients first: the messages' own rows go after them (no cascade to collect).
        "recipients": _delete_in_chunks(Recipient.objects.filter(time__lt=events_before)),
        "messages": _delete_in_chunks(Message.objects.filter(time__lt=events_before)),
        "logins": _delete_in_chunks(Login.objects.filter(time__lt=events_before)),
        "hourly": _delete_in_chunks(HourlyCount.objects.filter(hour__lt=events_before)),
        "daily": _delete_in_chunks(DailyCount.objects.filter(day__lt=days_before)),
    }
    log.info("activity purge: %s", result)
    return result
