"""``manage.py check_schema``: compare the live extmail tables with the expected schema."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from mailadmin.lib.schema import compare_schema


class Command(BaseCommand):
    help = (
        "Report every difference between the extmail tables of the database and the schema"
        " the panel and the mail stack expect. Changes nothing. Exits 1 on errors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--strict", action="store_true", help="exit 1 on warnings too, not only on errors"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        differences = compare_schema(connections[options["database"]])
        for difference in differences:
            style = {"error": self.style.ERROR, "warning": self.style.WARNING}.get(
                difference.level, str
            )
            self.stdout.write(style(str(difference)))
        errors = [d for d in differences if d.level == "error"]
        warnings = [d for d in differences if d.level == "warning"]
        if not differences:
            self.stdout.write(self.style.SUCCESS("The extmail tables match the expected schema."))
        if errors or (options["strict"] and warnings):
            raise CommandError(
                f"{len(errors)} error(s), {len(warnings)} warning(s): fix them before `migrate`."
            )
