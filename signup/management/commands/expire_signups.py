"""``manage.py expire_signups``: expire the signup requests past their time."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from signup.services import expire_requests


class Command(BaseCommand):
    help = "Expire pending signup requests older than MAILADMIN_SIGNUP_EXPIRE_DAYS."

    def handle(self, *args: Any, **options: Any) -> None:
        count = expire_requests()
        self.stdout.write(f"{count} signup requests expired")
