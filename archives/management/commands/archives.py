"""``manage.py archives list|scan|purge [--dry-run]``: the archives of deleted mail by hand or
from cron (docs/jobs.md, "Archives").

``list`` prints the listed archives; ``scan`` records one scan job per storage host; ``purge``
records the deletion of the archives older than ``MAILADMIN_ARCHIVE_RETENTION_DAYS``
(``--dry-run``: only prints them). The jobs run on the storage hosts' workers (without a broker:
here and now). Exit status 0, or 2 for a wrong subcommand.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone, translation

from archives import services
from provisioning.models import Archive


class Command(BaseCommand):
    help = "List, measure (scan) or purge the archives of deleted mail."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("what", choices=("list", "scan", "purge"))
        parser.add_argument(
            "--dry-run", action="store_true", help="purge: print what would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            getattr(self, f"_{options['what']}")(options["dry_run"])

    def _line(self, archive: Archive) -> str:
        size = "?" if archive.size_bytes is None else str(archive.size_bytes)
        return (
            f"{archive.pk}\t{archive.mailhost or 'default'}\t{archive.path}\t"
            f"{archive.address or '-'}\t{size}\t{archive.archived_at:%Y-%m-%d %H:%M}\t"
            f"{archive.state}"
        )

    def _list(self, dry_run: bool) -> None:
        for archive in Archive.objects.listed().order_by("archived_at", "pk").iterator():
            self.stdout.write(self._line(archive))

    def _scan(self, dry_run: bool) -> None:
        jobs = services.archives_scan_request(actor=services.SYSTEM_ACTOR)
        self.stdout.write(f"scan jobs recorded: {', '.join(f'#{job.pk}' for job in jobs)}")

    def _purge(self, dry_run: bool) -> None:
        days = settings.MAILADMIN_ARCHIVE_RETENTION_DAYS
        if not days:
            self.stdout.write("MAILADMIN_ARCHIVE_RETENTION_DAYS is 0: archives are kept.")
            return
        if dry_run:
            before = timezone.now() - datetime.timedelta(days=days)
            old = Archive.objects.filter(state=Archive.State.PRESENT, archived_at__lt=before)
            for archive in old.order_by("archived_at", "pk"):
                self.stdout.write(f"would delete {self._line(archive)}")
            return
        count = services.archives_purge_expired()
        self.stdout.write(f"deletion recorded for {count} archives older than {days} days")
