"""How failed manager logins slow an account down without locking it.

django-axes locks out a client address, and an (account, client address) pair, after
``AXES_FAILURE_LIMIT`` failures (``AXES_LOCKOUT_PARAMETERS`` in the settings). An account's
failures from all clients together never lock it, so that someone elsewhere cannot lock the
real administrator out; past the same limit they make every login to that account, from any
client, answer a captcha first (the password is not even tried without it).
"""

from __future__ import annotations

import datetime

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone


def account_failures(username: str) -> int:
    """Failed logins of ``username`` from every client in the last cool-off period."""
    since = timezone.now() - datetime.timedelta(seconds=settings.MAILADMIN_LOGIN_COOLOFF)
    total = AccessAttempt.objects.filter(username=username, attempt_time__gte=since).aggregate(
        total=Sum("failures_since_start")
    )["total"]
    return int(total or 0)


def login_needs_captcha(username: str) -> bool:
    return bool(username) and account_failures(username) >= settings.AXES_FAILURE_LIMIT
