"""``manage.py disk_usage measure|warn|report``: the periodic disk usage work, for sites that
run it from cron instead of celery beat (docs/disk-usage.md).

- ``measure`` records a measurement job for every storage host (``--domain`` for one domain);
  the storage workers carry them out (without a broker: here and now).
- ``warn`` sends the quota warnings due after the last measurements.
- ``report`` mails the usage reports to the admins of every domain that has some
  (``--domain`` for one, ``--to`` to send it elsewhere).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from diskusage import reports, services
from diskusage.warnings import quota_warnings_send
from domains.models import Domain


class Command(BaseCommand):
    help = "Measure Maildirs, send quota warnings or mail usage reports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["measure", "warn", "report"])
        parser.add_argument("--domain", help="only this domain")
        parser.add_argument("--to", action="append", help="report: send it to this address")

    def handle(self, *args: Any, **options: Any) -> None:
        domain = None
        if options["domain"]:
            domain = Domain.objects.filter(pk=options["domain"]).first()
            if domain is None:
                raise CommandError(f"no domain {options['domain']!r}")
        with translation.override(settings.LANGUAGE_CODE):
            if options["action"] == "measure":
                if domain is not None:
                    jobs = services.usage_measure_domain(domain=domain, actor=services.SYSTEM_ACTOR)
                else:
                    jobs = services.usage_measure_all()
                self.stdout.write(f"{len(jobs)} measurement jobs: {[j.pk for j in jobs]}")
            elif options["action"] == "warn":
                self.stdout.write(f"{quota_warnings_send()} mailboxes warned")
            elif domain is not None:
                sent = reports.report_send(domain=domain, to=options["to"])
                self.stdout.write(f"report of {domain.pk} sent to {', '.join(sent) or 'nobody'}")
            else:
                self.stdout.write(f"{reports.reports_send_all()} domains' reports sent")
