"""``manage.py mailbox list|show|add|mod|del``: ExtMan's ``userctl.pl`` through the panel's
mailbox form and services (docs/cli.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError

from accounts.models import Manager
from audit.services import audit_origin
from cli.base import (
    REFUSED,
    Item,
    ObjectCommand,
    Refused,
    Result,
    domain_key,
    flag,
    form_data,
    names,
    os_user,
    usage_error,
    valid,
)
from cli.options import (
    active_argument,
    copy,
    expire_argument,
    expire_value,
    service_arguments,
    service_values,
)
from domains.models import Domain
from mailadmin.lib.passwords import importable_hash
from mailboxes import bulk
from mailboxes.forms import ImportForm, MailboxForm
from mailboxes.models import Mailbox
from mailboxes.services import mailbox_create, mailbox_delete, mailbox_update


class Command(ObjectCommand):
    help = "List, show, add, change and delete mailboxes (ExtMan's userctl.pl)."
    noun = "mailbox"
    table = "mailboxes"
    key_help = "the address, local@domain"
    actions = ("list", "show", "add", "mod", "del", "import")

    def object_arguments(
        self, parser: argparse.ArgumentParser, action: str, *, in_file: bool = False
    ) -> None:
        if action == "list":
            parser.add_argument("--domain", "-d", help="only this domain")
            parser.add_argument("--search", "-s", help="as the list page's search")
            parser.add_argument("--match", choices=("prefix", "contains"), default="prefix")
        elif action in ("add", "mod"):
            parser.add_argument("--name", "-n", help="display name")
            self.password_arguments(parser, in_file=in_file)
            if action == "add":
                parser.add_argument(
                    "--password-hash",
                    metavar="HASH",
                    help="an existing hash ($1$…, {CRYPT}$6$…, {SHA}…, …) instead of a password",
                )
            parser.add_argument("--quota", "-q", type=int, metavar="MB", help="quota in MB")
            parser.add_argument(
                "--netdiskquota",
                "--ndquota",
                "-N",
                type=int,
                metavar="MB",
                help="netdisk quota in MB",
            )
            expire_argument(parser)
            active_argument(parser)
            service_arguments(parser)
            parser.add_argument(
                "--disablepwdchange",
                type=flag,
                metavar="1|0",
                help="1: the user may not change their password",
            )
            parser.add_argument("--question", "-Q", help="recovery question")
            parser.add_argument("--answer", "-A", help="recovery answer (stored hashed)")
            parser.add_argument("--mailhost", "-H", help="storage host (superadmin)")
            parser.add_argument("--uidnumber", "-U", type=int, help="uid (superadmin)")
            parser.add_argument("--gidnumber", "-G", type=int, help="gid (superadmin)")
            parser.add_argument(
                "--forward-to",
                type=names,
                metavar="LIST",
                help="forward to these addresses (comma list; empty: no forwarding)",
            )
            parser.add_argument("--forward-keep-copy", type=flag, metavar="1|0")
            parser.add_argument("--internal-only", type=flag, metavar="1|0")
        elif action == "import":
            parser.add_argument("--domain", "-d", required=True, help="the domain to fill")
            parser.add_argument(
                "--file",
                "-f",
                required=True,
                metavar="PATH",
                help="the CSV file of the import page (local_part,name,password,quota,"
                "password_hash); - for stdin",
            )
            parser.add_argument(
                "--dry-run", action="store_true", help="check every line, write nothing"
            )
        elif action == "del":
            parser.add_argument(
                "--purge",
                "--delmaildir",
                "-D",
                dest="purge",
                action="store_true",
                help="delete the mail data instead of archiving it (where allowed)",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "import":
            super().handle(*args, **options)
            return
        actor = self.actor(options)
        self.os_user = os_user()
        self.import_file(actor, options)

    def import_file(self, actor: Manager, options: dict[str, Any]) -> None:
        """The import page's all-or-nothing import (``mailboxes.bulk.mailbox_import``): its
        CSV format, its checks, its batch Maildir jobs."""
        name = domain_key(options["domain"])
        domain = Domain.objects.visible_to(actor).filter(pk=name).first()
        if domain is None:
            raise CommandError(f"{name}: no such domain, or not one of yours", returncode=REFUSED)
        path = options["file"]
        try:
            if path == "-":
                data = (
                    sys.stdin.buffer.read()
                    if hasattr(sys.stdin, "buffer")
                    else (sys.stdin.read().encode())
                )
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
        except OSError as exc:
            raise usage_error(f"{path}: {exc.strerror}") from exc
        form = ImportForm(files={"file": SimpleUploadedFile("import.csv", data)})
        if not form.is_valid():
            raise usage_error("; ".join(str(e) for e in form.errors.get("file", [])))
        dry_run = bool(options["dry_run"])
        note = f"command line, OS user {self.os_user}"
        try:
            with audit_origin("cli", note):
                created = bulk.mailbox_import(
                    domain=domain.pk,
                    rows=form.cleaned_data["file"],
                    actor=actor,
                    dry_run=dry_run,
                )
        except bulk.ImportRejected as exc:
            if options.get("json"):
                self.stdout.write(
                    json.dumps(
                        {
                            "action": "import",
                            "dry_run": dry_run,
                            "committed": False,
                            "ok": False,
                            "errors": [
                                {"line": line, "message": message} for line, message in exc.lines
                            ],
                        },
                        ensure_ascii=False,
                        indent=1,
                    )
                )
            else:
                for message in exc.messages:
                    self.stderr.write(message)
            raise CommandError("nothing was imported", returncode=REFUSED) from exc
        addresses = [mailbox.username for mailbox in created]
        if options.get("json"):
            self.stdout.write(
                json.dumps(
                    {
                        "action": "import",
                        "dry_run": dry_run,
                        "committed": not dry_run,
                        "ok": True,
                        "created": addresses,
                    },
                    ensure_ascii=False,
                    indent=1,
                )
            )
        else:
            verb = "would be imported (dry run)" if dry_run else "imported"
            self.stdout.write(f"{len(addresses)} mailboxes {verb}")

    def values(self, item: Item) -> dict[str, Any]:
        options = item.options
        values = service_values(options, pwdchange=True)
        copy(
            options,
            values,
            "name",
            "quota",
            "netdiskquota",
            "active",
            "disablepwdchange",
            "question",
            "answer",
            "mailhost",
            "uidnumber",
            "gidnumber",
            "forward_keep_copy",
            "internal_only",
        )
        if options.get("forward_to") is not None:
            values["forward_to"] = options["forward_to"]
        expire_value(options, values)
        return values

    def perform_add(self, actor: Manager, item: Item) -> Result:
        local, at, domain_name = item.key.strip().lower().rpartition("@")
        if not at or not local:
            raise Refused("give the address as local@domain")
        domain_name = domain_key(domain_name)
        domain = Domain.objects.visible_to(actor).filter(pk=domain_name).first()
        if domain is None:
            raise Refused(f"{domain_name}: no such domain, or not one of yours")
        blank = MailboxForm(actor=actor, domain=domain)
        values = self.values(item)
        password, generated = self.new_password(item)
        values.update(local_part=local, domain=domain.pk, password1=password, password2=password)
        form = MailboxForm(form_data(blank, values), actor=actor, domain=domain)
        stored_hash = item.options.get("password_hash")
        if stored_hash:
            if password:
                raise Refused("give a password or a hash, not both")
            try:
                stored_hash = importable_hash(stored_hash)
            except ValueError as exc:
                raise Refused(f"password hash: {exc}") from exc
            form.fields["password1"].required = form.fields["password2"].required = False
        kwargs = valid(form).service_kwargs()
        mailbox_create(**kwargs, password_hash=stored_hash or "", actor=actor)
        return Result(item, ok=True, done="added", password=generated)

    def _mailbox(self, actor: Manager, item: Item) -> Mailbox:
        return (
            Mailbox.objects.visible_to(actor)
            .select_related("domain")
            .get(pk=self.normalize_key(item.key))
        )

    def perform_mod(self, actor: Manager, item: Item) -> Result:
        if not item.given:
            raise Refused("nothing to change: give an option")
        mailbox = self._mailbox(actor, item)
        blank = MailboxForm(actor=actor, mailbox=mailbox)
        values = self.values(item)
        password, generated = self.new_password(item)
        values.update(password1=password, password2=password)
        form = MailboxForm(form_data(blank, values), actor=actor, mailbox=mailbox)
        mailbox_update(mailbox=mailbox, **valid(form).service_kwargs(), actor=actor)
        return Result(item, ok=True, done="changed", password=generated)

    def perform_del(self, actor: Manager, item: Item) -> Result:
        mailbox = self._mailbox(actor, item)
        result = mailbox_delete(mailbox=mailbox, actor=actor, purge=bool(item.options["purge"]))
        done = "deleted (data purged)" if result.purged else "deleted (data archived)"
        if result.home_problem:
            done = f"deleted (data left on disk: {result.home_problem})"
        return Result(item, ok=True, done=done)
