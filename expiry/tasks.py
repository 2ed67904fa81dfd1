"""Periodic Celery entry point of the expiry run (thin: the work is in expiry.services)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import translation

from expiry import services


@shared_task(name="expiry.run_expiry")
def run_expiry() -> dict[str, Any]:
    with translation.override(settings.LANGUAGE_CODE):
        return services.run_expiry().as_dict()
