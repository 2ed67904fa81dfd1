"""``manage.py create_superadmin``: the first superadmin of a fresh install."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from accounts.models import Manager


class Command(BaseCommand):
    help = "Create a superadmin (manager type 'admin'), or reset its password with --update."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True, help="login name, usually an address")
        parser.add_argument("--name", default="", help="display name")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from the first line of standard input instead of a prompt",
        )
        parser.add_argument(
            "--update",
            action="store_true",
            help="if the manager exists, make it an active superadmin and set the password",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip().lower()
        try:
            validate_email(username)
        except ValidationError as exc:
            raise CommandError(f"{username!r} is not an address-like login name") from exc
        password = self._read_password(options["password_stdin"])
        manager = Manager.objects.filter(pk=username).first()
        if manager is not None and not options["update"]:
            raise CommandError(f"{username} exists already; use --update to reset it")
        manager = manager or Manager(username=username, uid=username.partition("@")[0])
        manager.type = Manager.Role.SUPERADMIN
        manager.active = True
        manager.expiredate = None
        if options["name"]:
            manager.name = options["name"]
        try:
            validate_password(password, manager)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        manager.set_password(password)
        with transaction.atomic():
            manager.save()
        self.stdout.write(self.style.SUCCESS(f"Superadmin {username} is ready."))

    def _read_password(self, from_stdin: bool) -> str:
        if from_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        if not password:
            raise CommandError("The password cannot be empty.")
        return password
