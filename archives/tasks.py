"""Periodic Celery entry points of the archives (thin: the work is in archives.services)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import translation

from archives import services


@shared_task(name="archives.scan_archives")
def scan_archives() -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return len(services.archives_scan_request(actor=services.SYSTEM_ACTOR))


@shared_task(name="archives.purge_archives")
def purge_archives() -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return services.archives_purge_expired()
