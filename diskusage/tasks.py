"""Celery entry points of disk usage (thin: the work is in diskusage.services, .warnings and
.reports)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import translation

from diskusage import reports, services, warnings
from domains.models import Domain


@shared_task(name="diskusage.measure_usage")
def measure_usage() -> int:
    """Ask every storage host to measure its Maildirs (beat: MAILADMIN_USAGE_INTERVAL)."""
    with translation.override(settings.LANGUAGE_CODE):
        return len(services.usage_measure_all())


@shared_task(name="diskusage.quota_warnings")
def quota_warnings() -> int:
    return warnings.quota_warnings_send()


@shared_task(name="diskusage.usage_reports")
def usage_reports() -> int:
    """The scheduled reports (beat: MAILADMIN_USAGE_REPORT)."""
    return reports.reports_send_all()


@shared_task(name="diskusage.usage_report")
def usage_report(domain: str, to: list[str], actor: str) -> int:
    """One domain's report, asked for from its page."""
    found = Domain.objects.filter(pk=domain).first()
    if found is None:
        return 0
    return len(reports.report_send(domain=found, actor=actor, actor_kind="manager", to=to))
