"""What the object commands (``manage.py domain|mailbox|alias|manager``) share: the actor,
batches, the transaction, dry runs, output and exit codes (docs/cli.md).

Each command is a thin layer over the panel's own forms (validation and normalisation) and
services (the rules, the audit record, the jobs): it turns options into the data a page would
post, and reports what the service refused. Nothing here decides what is allowed.

Exit codes: 0 everything done (or, with ``--dry-run``, everything would be done); 1 some
objects were refused (or not found); 2 a usage error (unknown option, no ``--as``, unreadable
file), before anything is read or written.
"""

from __future__ import annotations

import argparse
import datetime
import getpass
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.http import QueryDict

from accounts.models import Manager
from audit.services import audit_origin
from domains.models import Domain
from exports.formats import csv_pieces, json_pieces
from exports.tables import TABLES, Table, export_rows, scoped_queryset
from mailadmin.lib.addresses import normalize_domain
from mailadmin.lib.schema import table_storage
from mailboxes.credentials import generate_password

OK, REFUSED, USAGE = 0, 1, 2
#: The environment variable that names the acting manager when ``--as`` is not given.
AS_ENV = "MAILADMIN_CLI_AS"
FIELD_NAMES = {"password1": "password", "password2": "password", "local_part": "address"}


class UsageParser(CommandParser):
    """A parser whose errors are usage errors: exit code 2 (also through ``call_command``).
    Options are never abbreviated (``--password`` must not become ``--password-stdin``)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        if self.called_from_command_line:
            super().error(message)  # prints the usage, exits 2
        raise CommandError(f"Error: {message}", returncode=USAGE)


def usage_error(message: str) -> CommandError:
    return CommandError(message, returncode=USAGE)


class Refused(Exception):
    """One object cannot be done; the messages say why (nothing of it was written)."""

    def __init__(self, *messages: str) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)


def flag(value: str) -> bool:
    """ExtMan's ``1``/``0`` (also yes/no, true/false, on/off)."""
    text = value.strip().lower()
    if text in ("1", "yes", "true", "on", "y"):
        return True
    if text in ("0", "no", "false", "off", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected 1 or 0, not {value!r}")


def names(value: str) -> list[str]:
    """A comma- or space-separated list (ExtMan's ``domain1,domain2``)."""
    return [part for part in value.replace(",", " ").split() if part]


def domain_key(name: str) -> str:
    """A typed domain name as stored (an IDN in ASCII); a legacy key that is no valid name is
    looked up as typed."""
    try:
        return normalize_domain(name)
    except ValidationError:
        return name.strip().lower()


def refusal_messages(exc: BaseException) -> list[str]:
    if isinstance(exc, Refused):
        return exc.messages
    if isinstance(exc, ValidationError):
        if hasattr(exc, "error_dict"):
            return [
                f"{FIELD_NAMES.get(key, key)}: {message}" if key != "__all__" else message
                for key, messages in exc.message_dict.items()
                for message in messages
            ]
        return list(exc.messages)
    if isinstance(exc, PermissionDenied | ObjectDoesNotExist):
        return ["no such object, or not one of yours"]
    return [str(exc)]


def form_data(form: forms.Form, values: dict[str, Any]) -> QueryDict:
    """What the page would post for ``form``: each field's initial value (what the page shows),
    replaced by ``values`` where given.

    A value for a field the page does not offer this manager (a superadmin's field, a service
    the domain disables) is refused, rather than dropped as a browser would."""
    refused = {}
    for name, value in values.items():
        bound = form.fields.get(name)
        if bound is None:
            refused[name] = ["this manager may not set it"]
        elif bound.disabled and value != form.get_initial_for_field(bound, name):
            refused[name] = [str(bound.help_text or "this manager may not change it")]
    if refused:
        raise ValidationError(refused)
    data = QueryDict(mutable=True)
    for name, bound in form.fields.items():
        value = values[name] if name in values else form.get_initial_for_field(bound, name)
        if isinstance(bound, forms.BooleanField):
            if value:
                data[name] = "on"
        elif isinstance(bound, forms.MultipleChoiceField):
            data.setlist(name, [str(v) for v in value or []])
        elif value is None:
            data[name] = ""
        elif isinstance(value, datetime.date):
            data[name] = value.isoformat()
        elif isinstance(value, list | tuple):
            data[name] = "\n".join(str(v) for v in value)
        else:
            data[name] = str(value)
    return data


def valid(form: forms.Form) -> forms.Form:
    if not form.is_valid():
        raise ValidationError(
            {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        )
    return form


@dataclass
class Item:
    """One object to act on: from the command line (line None) or a line of a batch file."""

    key: str
    options: dict[str, Any]
    line: int | None = None
    #: The options given (not left at their defaults): ``--active 0`` is given, unlike no
    #: ``--active`` at all.
    given: frozenset[str] = frozenset()


@dataclass
class Result:
    item: Item
    ok: bool
    done: str = ""
    messages: list[str] = field(default_factory=list)
    password: str = ""  # a generated password, shown once

    def as_json(self, *, show_password: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"object": self.item.key, "ok": self.ok}
        if self.item.line is not None:
            data["line"] = self.item.line
        if self.ok:
            data["done"] = self.done
        else:
            data["errors"] = self.messages
        if self.password and show_password:
            data["password"] = self.password
        return data


class ObjectCommand(BaseCommand):
    """``manage.py <noun> list|show|add|mod|del``. Subclasses give ``noun``, ``table``, the
    key's name, their options (:meth:`object_arguments`) and :meth:`perform`."""

    noun = ""
    table = ""
    key_help = ""
    actions: tuple[str, ...] = ("list", "show", "add", "mod", "del")
    batch_actions: tuple[str, ...] = ("add", "mod", "del")

    # --- parsing ---------------------------------------------------------------------------
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.__class__ = UsageParser
        return parser

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=UsageParser)
        self._line_parsers: dict[str, UsageParser] = {}
        for action in self.actions:
            action_parser = sub.add_parser(action, help=self.action_help(action))
            self.common_arguments(action_parser, action)
            if action in self.batch_actions:
                action_parser.add_argument(
                    "key", nargs="?", help=f"{self.key_help} (or --file for a batch)"
                )
            elif action == "show":
                action_parser.add_argument("key", nargs="+", help=self.key_help)
            self.object_arguments(action_parser, action)
            if action in self.batch_actions:
                line_parser = UsageParser(prog=f"{self.noun} {action} (a line of --file)")
                line_parser.add_argument("key", help=self.key_help)
                self.object_arguments(line_parser, action, in_file=True)
                self._line_parsers[action] = line_parser

    def action_help(self, action: str) -> str:
        return {
            "list": f"list the {self.table} you may see",
            "show": f"show one or more {self.table}",
            "add": f"add a {self.noun}",
            "mod": f"change a {self.noun}",
            "del": f"delete a {self.noun}",
            "import": "import a CSV file of mailboxes, all or nothing (the import page's format)",
        }.get(action, action)

    def common_arguments(self, parser: argparse.ArgumentParser, action: str) -> None:
        parser.add_argument(
            "--as",
            dest="as",
            metavar="MANAGER",
            help=f"act with the rights of this manager (default: ${AS_ENV})",
        )
        out = parser.add_mutually_exclusive_group()
        out.add_argument("--json", action="store_true", help="JSON output")
        if action == "list":
            out.add_argument("--csv", action="store_true", help="CSV output (as the download)")
        if action in self.batch_actions:
            parser.add_argument(
                "--file",
                "-f",
                metavar="PATH",
                help="one object per line (its key and options, as on the command line); - for"
                " stdin",
            )
            parser.add_argument(
                "--continue",
                dest="keep_going",
                action="store_true",
                help="go on past refused objects (default: all or nothing)",
            )
            parser.add_argument(
                "--dry-run",
                action="store_true",
                help="check everything, write nothing, send no job",
            )

    def object_arguments(
        self, parser: argparse.ArgumentParser, action: str, *, in_file: bool = False
    ) -> None:
        """The options of one object (also those a batch line may carry)."""

    def password_arguments(self, parser: argparse.ArgumentParser, *, in_file: bool) -> None:
        group = parser.add_mutually_exclusive_group()
        if in_file:
            group.add_argument("--password", help="the new password")
        else:
            group.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the new password from the first line of stdin",
            )
            group.add_argument(
                "--insecure-password",
                metavar="PASSWORD",
                help="the new password on the command line (other users may see it)",
            )
            # Refused with a hint: a password in clear on the command line shows in ps.
            group.add_argument("--password", dest="clear_password", help=argparse.SUPPRESS)
        group.add_argument(
            "--generate-password",
            action="store_true",
            help="generate a password and print it once",
        )
        return group

    # --- running ---------------------------------------------------------------------------
    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        actor = self.actor(options)
        self.os_user = os_user()
        if action == "list":
            self.list(actor, options)
        elif action == "show":
            self.show(actor, options)
        else:
            self.change(action, actor, options)

    def actor(self, options: dict[str, Any]) -> Manager:
        name = (options.get("as") or os.environ.get(AS_ENV, "")).strip().lower()
        if not name:
            raise usage_error(f"name the acting manager with --as or ${AS_ENV}")
        manager = Manager.objects.filter(pk=name).first()
        if manager is None or not manager.is_active:
            raise usage_error(f"{name}: no active manager of that name")
        return manager

    # list and show ---------------------------------------------------------------------------
    def export_table(self) -> Table:
        return TABLES[self.table]

    def list_queryset(self, actor: Manager, options: dict[str, Any]) -> Any:
        domain = None
        if options.get("domain"):
            name = domain_key(options["domain"])
            domain = Domain.objects.visible_to(actor).filter(pk=name).first()
            if domain is None:
                raise CommandError(
                    f"{options['domain']}: no such domain, or not one of yours", returncode=REFUSED
                )
        return scoped_queryset(
            self.export_table(),
            actor,
            domain=domain,
            q=options.get("search") or "",
            match=options.get("match") or "",
        )

    def list(self, actor: Manager, options: dict[str, Any]) -> None:
        table = self.export_table()
        rows = export_rows(table, self.list_queryset(actor, options))
        if options.get("json"):
            self.write_pieces(json_pieces(rows))
        elif options.get("csv"):
            self.write_pieces(csv_pieces(table.columns, rows))
        else:
            key = table.columns[0]
            for row in rows:
                self.stdout.write(row[key])

    def write_pieces(self, pieces: Iterable[str]) -> None:
        for piece in pieces:
            self.stdout.write(piece, ending="")

    def show(self, actor: Manager, options: dict[str, Any]) -> None:
        table = self.export_table()
        found: list[dict[str, Any]] = []
        missing: list[str] = []
        for key in options["key"]:
            queryset = self.show_queryset(actor).filter(pk=self.normalize_key(key))
            rows = list(export_rows(table, queryset))
            if rows:
                found.append(self.show_row(rows[0]))
            else:
                missing.append(key)
        if options.get("json"):
            self.stdout.write(
                json.dumps(
                    found if len(options["key"]) > 1 else (found[0] if found else None),
                    ensure_ascii=False,
                    indent=1,
                )
            )
        else:
            for row in found:
                width = max(len(name) for name in row)
                for name, value in row.items():
                    if isinstance(value, bool):
                        value = 1 if value else 0
                    if isinstance(value, list):
                        value = ",".join(value)
                    self.stdout.write(f"{name.ljust(width)} = {value}")
                self.stdout.write("")
        if missing:
            raise CommandError(
                f"{', '.join(missing)}: no such {self.noun}, or not one of yours",
                returncode=REFUSED,
            )

    def show_queryset(self, actor: Manager) -> Any:
        return scoped_queryset(self.export_table(), actor)

    def show_row(self, row: dict[str, Any]) -> dict[str, Any]:
        return row

    def normalize_key(self, key: str) -> str:
        return key.strip().lower()

    # add, mod, del ---------------------------------------------------------------------------
    def items(self, action: str, options: dict[str, Any]) -> list[Item]:
        path = options.get("file")
        if path is None:
            if not options.get("key"):
                raise usage_error(f"name the {self.noun} ({self.key_help}) or give --file")
            values = self.item_options(action, options)
            return [Item(options["key"], values, None, self.given(action, values))]
        if options.get("key"):
            raise usage_error("give either an object on the command line or --file, not both")
        given = sorted(self.given(action, self.item_options(action, options)))
        if given:
            raise usage_error(
                "with --file, each line carries its options (found on the command line:"
                f" {', '.join(given)})"
            )
        items = []
        for number, text in self.read_lines(path):
            try:
                words = shlex.split(text, comments=True)
            except ValueError as exc:
                raise usage_error(f"{path}, line {number}: {exc}") from exc
            if not words:
                continue
            try:
                parsed = vars(self._line_parsers[action].parse_args(words))
            except CommandError as exc:
                raise usage_error(f"{path}, line {number}: {exc}") from exc
            key = parsed.pop("key")
            items.append(Item(key, parsed, number, self.given(action, parsed)))
        if not items:
            raise usage_error(f"{path}: no objects in it")
        return items

    def given(self, action: str, values: dict[str, Any]) -> frozenset[str]:
        parser = self._line_parsers[action]
        return frozenset(
            name for name, value in values.items() if value != parser.get_default(name)
        )

    def item_options(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """The options of one object: those a line of a batch file may carry."""
        dests = {a.dest for a in self._line_parsers[action]._actions} - {"help", "key"}
        return {name: options.get(name) for name in dests}

    def read_lines(self, path: str) -> Iterator[tuple[int, str]]:
        try:
            if path == "-":
                text = sys.stdin.read()
            else:
                with open(path, encoding="utf-8-sig") as handle:
                    text = handle.read()
        except OSError as exc:
            raise usage_error(f"{path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise usage_error(f"{path}: not UTF-8 text") from exc
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield number, line

    def command_line_password(self, options: dict[str, Any]) -> None:
        """``--password-stdin``/``--insecure-password`` become the item's ``password``."""
        if options.pop("clear_password", None) is not None:
            raise usage_error(
                "--password: other users can read the command line; use --password-stdin or"
                " --generate-password (or --insecure-password if you must)"
            )
        if options.get("password_stdin"):
            if options.get("file") == "-":
                raise usage_error("--password-stdin and --file - both want stdin")
            line = sys.stdin.readline()
            if not line:
                raise usage_error("--password-stdin: nothing on stdin")
            options["password"] = line.rstrip("\r\n")
        elif options.get("insecure_password") is not None:
            options["password"] = options["insecure_password"]
        options.pop("insecure_password", None)
        options.pop("password_stdin", None)

    def change(self, action: str, actor: Manager, options: dict[str, Any]) -> None:
        self.command_line_password(options)
        items = self.items(action, options)
        dry_run = bool(options.get("dry_run"))
        keep_going = bool(options.get("keep_going"))
        if (dry_run or (len(items) > 1 and not keep_going)) and not can_roll_back():
            raise usage_error(
                "the extmail tables of this database are not InnoDB (ExtMan's MyISAM), so a"
                " transaction cannot undo what it wrote: a dry run would write, and a batch"
                " cannot be all or nothing. Use --continue for a batch (each line on its own),"
                " or convert the tables (docs/adopting.md)."
            )
        perform: Callable[[Manager, Item], Result] = getattr(self, f"perform_{action}")
        results: list[Result] = []
        note = f"command line, OS user {self.os_user}" + (", dry run" if dry_run else "")
        with audit_origin("cli", note), transaction.atomic():
            for item in items:
                try:
                    with transaction.atomic():
                        results.append(perform(actor, item))
                except (
                    Refused,
                    ValidationError,
                    PermissionDenied,
                    ObjectDoesNotExist,
                ) as exc:
                    results.append(Result(item, ok=False, messages=refusal_messages(exc)))
            refused = [r for r in results if not r.ok]
            committed = not dry_run and (not refused or keep_going)
            if not committed:
                transaction.set_rollback(True)
        self.report(action, results, dry_run=dry_run, committed=committed, options=options)
        if refused:
            if dry_run:
                summary = f"{len(refused)} of {len(results)} would be refused; nothing written"
            elif committed:
                summary = f"{len(refused)} of {len(results)} refused; the others were done"
            else:
                summary = f"{len(refused)} of {len(results)} refused; nothing written"
            raise CommandError(summary, returncode=REFUSED)

    def report(
        self,
        action: str,
        results: list[Result],
        *,
        dry_run: bool,
        committed: bool,
        options: dict[str, Any],
    ) -> None:
        if options.get("json"):
            self.stdout.write(
                json.dumps(
                    {
                        "action": action,
                        "dry_run": dry_run,
                        "committed": committed,
                        "ok": all(r.ok for r in results),
                        "results": [r.as_json(show_password=committed) for r in results],
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
            return
        for result in results:
            where = f"line {result.item.line}: " if result.item.line is not None else ""
            if result.ok:
                verb = f"would be {result.done}" if dry_run else result.done
                if not committed and not dry_run:
                    verb = f"not {result.done} (another object was refused)"
                text = f"{where}{result.item.key}: {verb}"
                if result.password and committed:
                    text += f"; password: {result.password}"
                self.stdout.write(text)
            else:
                for message in result.messages:
                    self.stderr.write(f"{where}{result.item.key}: refused: {message}")

    def new_password(self, item: Item) -> tuple[str, str]:
        """``(password, generated)``: the item's password, or a generated one to show."""
        if item.options.get("generate_password"):
            password = generate_password()
            return password, password
        return item.options.get("password") or "", ""


LEGACY_TABLES = ("domain", "mailbox", "alias", "manager", "domain_manager")


def can_roll_back() -> bool:
    """Whether the extmail tables can undo a transaction: not on MyISAM (or Aria), where
    ExtMan created them and an adopted database may still have them (docs/adopting.md)."""
    if connection.vendor != "mysql":
        return True
    return all(table_storage(connection, table)[0] == "innodb" for table in LEGACY_TABLES)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())
