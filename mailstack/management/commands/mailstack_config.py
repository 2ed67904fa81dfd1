"""Write the generated Postfix, Dovecot and authlib files (docs/mailstack.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailstack import config


class Command(BaseCommand):
    help = (
        "Write the Postfix mysql: maps, the Dovecot SQL and authlib snippets and the main.cf"
        " lines for this panel's database into a directory (mode 0640)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="directory to write the files into")
        parser.add_argument(
            "--install-dir",
            default="",
            help="where the files will live on the mail host, as written into main.cf and the"
            " Dovecot include (default: the output directory)",
        )

    def handle(self, *args: Any, output: str, install_dir: str, **options: Any) -> None:
        directory = Path(output).resolve()
        try:
            db = config.database_params()
            files = config.render_all(db, install_dir or str(directory))
        except config.MailstackConfigError as exc:
            raise CommandError(str(exc)) from exc
        for path in config.write_files(files, directory):
            self.stdout.write(str(path))
