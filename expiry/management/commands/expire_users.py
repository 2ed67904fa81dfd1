"""``manage.py expire_users [--dry-run] [--action disable|report]``: the daily expiry run by
hand or from cron, as ExtMan's ``expireusers.pl``.

Prints what is past its expiry date and what was done, the notices sent, and a summary line.
Exit status: 0 when everything was done, 1 when some object could not be disabled (named in
the output), 2 for a wrong option.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from expiry import services


class Command(BaseCommand):
    help = "Disable (or report) mailboxes and domains past their expiry date; send notices."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Show what would be done; change, record and send nothing.",
        )
        parser.add_argument(
            "--action",
            choices=services.ACTIONS,
            default=None,
            help="disable (set active=0) or report only (default: MAILADMIN_EXPIRY_ACTION).",
        )
        parser.add_argument(
            "--date",
            type=datetime.date.fromisoformat,
            default=None,
            help="Act as on this day (YYYY-MM-DD) instead of today.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with translation.override(settings.LANGUAGE_CODE):
            report = services.run_expiry(
                action=options["action"], dry_run=options["dry_run"], today=options["date"]
            )
        self._print(report)
        if report.failures:
            raise CommandError(
                f"{len(report.failures)} objects could not be disabled (see above)", returncode=1
            )

    def _print(self, report: services.ExpiryReport) -> None:
        out = self.stdout.write
        mode = " (dry run: nothing is changed, recorded or sent)" if report.dry_run else ""
        out(f"expiry run of {report.today.isoformat()}, action {report.action}{mode}")
        if report.action == "disable":
            verb = "would disable" if report.dry_run else "disabled"
        else:
            verb = "expired, still active"
        failed = dict(report.failures)
        for kind, rows in (
            ("domain", report.expired_domains),
            ("mailbox", report.expired_mailboxes),
        ):
            for name, date in rows:
                if name in failed:
                    out(f"FAILED {kind} {name} (expired {date.isoformat()}): {failed[name]}")
                else:
                    out(f"{verb} {kind} {name} (expired {date.isoformat()})")
        notice_verb = "would notify" if report.dry_run else "notified"
        for notice in report.notices:
            out(
                f"{notice_verb} {notice.object_type} {notice.object_id}: expires"
                f" {notice.expiredate.isoformat()} (in {notice.left} days)"
            )
        out(
            f"summary: {len(report.expired_domains)} domains and"
            f" {len(report.expired_mailboxes)} mailboxes past their expiry date,"
            f" {0 if report.dry_run else len(report.disabled)} disabled,"
            f" {len(report.notices)} notices, {report.mails} mails sent,"
            f" {len(report.failures)} failures"
        )
