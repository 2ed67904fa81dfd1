"""Write the generated Postfix, Dovecot and authlib files (docs/mailstack.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mailstack import config


class Command(BaseCommand):
    help = (
        "Write the Postfix mysql: maps, the Dovecot SQL and authlib files and the main.cf"
        " lines for this panel's database into a directory (mode 0640), and print the commands"
        " that install them on the mail host."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, help="directory to write the files into")
        parser.add_argument(
            "--postfix-dir",
            "--install-dir",
            dest="postfix_dir",
            default="",
            help="where the mysql: maps will live on the mail host, as written into main.cf"
            " (default: MAILADMIN_POSTFIX_DIR)",
        )
        parser.add_argument(
            "--dovecot-dir",
            default=config.DOVECOT_DIR,
            help="Dovecot's configuration directory on the mail host (default: %(default)s)",
        )
        parser.add_argument(
            "--courier-dir",
            default=config.COURIER_DIR,
            help="courier-authlib's configuration directory on the mail host (default:"
            " %(default)s; EMOS/CentOS: /etc/authlib)",
        )
        parser.add_argument(
            "--postfix-queue-dir",
            default=config.POSTFIX_QUEUE_DIR,
            help="Postfix's queue_directory, where Dovecot puts the SASL socket"
            " (default: %(default)s)",
        )

    def handle(
        self,
        *args: Any,
        output: str,
        postfix_dir: str,
        dovecot_dir: str,
        courier_dir: str,
        postfix_queue_dir: str,
        **options: Any,
    ) -> None:
        directory = Path(output).resolve()
        try:
            db = config.database_params()
            dirs = config.install_dirs(
                postfix=postfix_dir,
                dovecot=dovecot_dir,
                courier=courier_dir,
                postfix_queue=postfix_queue_dir,
            )
            files = config.render_all(db, dirs)
        except config.MailstackConfigError as exc:
            raise CommandError(str(exc)) from exc
        for path in config.write_files(files, directory):
            self.stdout.write(str(path))
        self.stdout.write("\nInstall them on the mail host, as root:")
        for command in config.install_commands(str(directory), dirs):
            self.stdout.write(f"  {command}")
        self.stdout.write(
            f"Then merge {directory / config.MAIN_CF} into {config.POSTFIX_MAIN_CF}, include"
            f" {config.DOVECOT_AUTH} from {dirs.dovecot}/conf.d/10-auth.conf, set"
            f' authmodulelist="authmysql" in {dirs.courier}/authdaemonrc, and reload Postfix,'
            " Dovecot and authdaemond (docs/mailstack.md)."
        )
