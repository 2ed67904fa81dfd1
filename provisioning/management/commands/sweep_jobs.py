"""``manage.py sweep_jobs``: one pass of the job sweeper, for cron or when no beat runs."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from provisioning import operations, runner


class Command(BaseCommand):
    help = (
        "Reclaim jobs left running by a dead worker and send again the pending jobs nobody took; "
        "fail background operations whose worker died and send again the queued ones "
        "(what celery beat does every MAILADMIN_JOB_SWEEP_INTERVAL seconds)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = runner.sweep()
        self.stdout.write(f"{result['reclaimed']} stale jobs reclaimed, {result['sent']} jobs sent")
        result = operations.sweep()
        self.stdout.write(
            f"{result['operations_failed']} operations failed (worker gone), "
            f"{result['operations_sent']} operations sent"
        )
