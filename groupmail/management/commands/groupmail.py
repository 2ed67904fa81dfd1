"""``manage.py groupmail``: send a group mail from the command line (docs/group-mail.md).

The same service as the page (``groupmail.services.groupmail_start``), with the same checks, as
the manager named by ``--as``: a domain admin may only use their own domains. It prints the
operation's page; with ``--wait`` (and always without a broker, where this process sends it)
it waits for the end and prints the outcome.
"""

from __future__ import annotations

import mimetypes
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Manager
from domains.models import Domain
from groupmail import services
from mailadmin.lib.addresses import normalize_domain
from provisioning import operations
from provisioning.models import Operation


class Command(BaseCommand):
    help = "Send a notice to every active mailbox of one or more domains (a group mail)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as", dest="actor", required=True, help="the sending manager")
        parser.add_argument(
            "--domain", dest="domains", action="append", required=True, help="repeat for more"
        )
        parser.add_argument("--subject", required=True)
        parser.add_argument("--body-file", required=True, help="UTF-8 text; - for stdin")
        parser.add_argument("--attach", help="a file to attach")
        parser.add_argument(
            "--include-expired", action="store_true", help="send to expired mailboxes too"
        )
        parser.add_argument("--wait", action="store_true", help="wait for the end")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = Manager.objects.filter(pk=options["actor"].strip().lower()).first()
        if actor is None or not actor.is_active:
            raise CommandError(f"{options['actor']}: no active manager of that name")
        try:
            domains = [normalize_domain(name) for name in options["domains"]]
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        body = self._read_body(options["body_file"])
        attachment = None
        if options["attach"]:
            path = Path(options["attach"])
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from exc
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            attachment = services.Attachment(path.name, content_type, data)
        try:
            group_mail = services.groupmail_start(
                actor=actor,
                domains=domains,
                subject=options["subject"],
                body=body,
                skip_expired=not options["include_expired"],
                attachment=attachment,
            )
        except Domain.DoesNotExist as exc:
            raise CommandError(
                f"{', '.join(domains)}: not all of these are domains {actor.pk} may use"
            ) from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        operation = group_mail.operation
        self.stdout.write(
            f"group mail #{group_mail.pk}: {settings.MAILADMIN_SITE_URL}"
            f"{operation.get_absolute_url()}"
        )
        if options["wait"] or settings.CELERY_TASK_ALWAYS_EAGER:
            self._wait(operation)

    def _read_body(self, name: str) -> str:
        try:
            if name == "-":
                return sys.stdin.read()
            return Path(name).read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"{name}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{name}: not UTF-8 text") from exc

    def _wait(self, operation: Operation) -> None:
        while True:
            with operations.rows_guard():
                operation.refresh_from_db()
            if operation.finished:
                break
            time.sleep(0.5)
        result = operation.result
        self.stdout.write(
            f"{operation.state}: {result.get('sent', 0)} sent, {result.get('failed', 0)} refused,"
            f" {result.get('unknown', 0)} unknown, {result.get('pending', 0)} not sent"
            f" of {operation.total}"
        )
        for error in operation.errors:
            self.stderr.write(error)
        if operation.state == Operation.State.FAILED:
            raise CommandError("the group mail failed")
