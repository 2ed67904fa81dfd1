"""``manage.py manager list|show|add|mod|del``: ExtMan's ``adminctl.pl`` through the panel's
manager form and services (docs/cli.md). Superadmins manage managers, as on the pages; a domain
admin sees only themselves."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from typing import Any

from django.core.management.base import CommandError

from accounts.manager_forms import ManagerForm
from accounts.models import DomainManager, Manager
from accounts.services import assigned_domains, manager_create, manager_delete, manager_update
from cli.base import Item, ObjectCommand, Refused, Result, flag, form_data, names, valid
from cli.options import active_argument, copy, expire_argument, expire_value
from exports.formats import csv_pieces, json_pieces

COLUMNS = (
    "username",
    "name",
    "type",
    "active",
    "expiredate",
    "disablepwdchange",
    "domains",
    "createdate",
)


def _row(manager: Manager, domains: list[str]) -> dict[str, Any]:
    return {
        "username": manager.pk,
        "name": manager.name,
        "type": "admin" if manager.is_superadmin else manager.type,
        "active": bool(manager.active),
        "expiredate": manager.expiredate.isoformat() if manager.expiredate else "",
        "disablepwdchange": bool(manager.disablepwdchange),
        "domains": ",".join(domains),
        "createdate": manager.createdate.isoformat() if manager.createdate else "",
    }


class Command(ObjectCommand):
    help = "List, show, add, change and delete managers (ExtMan's adminctl.pl)."
    noun = "manager"
    table = "managers"
    key_help = "the manager's username"

    def object_arguments(
        self, parser: argparse.ArgumentParser, action: str, *, in_file: bool = False
    ) -> None:
        if action in ("add", "mod"):
            parser.add_argument("--name", "-n", help="name")
            parser.add_argument(
                "--type",
                choices=("admin", "postmaster"),
                help="admin (superadmin) or postmaster (domain admin)",
            )
            self.password_arguments(parser, in_file=in_file)
            expire_argument(parser)
            active_argument(parser)
            parser.add_argument(
                "--disablepwdchange",
                "--changepwd",
                "-c",
                dest="disablepwdchange",
                type=flag,
                metavar="1|0",
                help="1: the manager may not change their own password",
            )
            parser.add_argument(
                "--domains",
                "-d",
                type=names,
                metavar="LIST",
                help="exactly these domains (comma list; empty for none)",
            )
            if action == "mod":
                parser.add_argument(
                    "--add-domains",
                    "--adddomains",
                    dest="add_domains",
                    type=names,
                    metavar="LIST",
                    help="add these domains",
                )
                parser.add_argument(
                    "--del-domains",
                    "--deldomains",
                    dest="del_domains",
                    type=names,
                    metavar="LIST",
                    help="remove these domains",
                )

    # list and show: managers are no export table ------------------------------------------
    def _rows(self, queryset: Any) -> Iterator[dict[str, Any]]:
        managers = list(queryset.order_by("username"))
        links: dict[str, list[str]] = {}
        for username, domain in (
            DomainManager.objects.filter(manager_id__in=[m.pk for m in managers], active=True)
            .order_by("domain_id")
            .values_list("manager_id", "domain_id")
            .distinct()
        ):
            links.setdefault(username, []).append(domain)
        for manager in managers:
            yield _row(manager, links.get(manager.pk, []))

    def list(self, actor: Manager, options: dict[str, Any]) -> None:
        rows = self._rows(Manager.objects.visible_to(actor))
        if options.get("json"):
            self.write_pieces(json_pieces(rows))
        elif options.get("csv"):
            self.write_pieces(csv_pieces(COLUMNS, rows))
        else:
            for row in rows:
                self.stdout.write(row["username"])

    def show(self, actor: Manager, options: dict[str, Any]) -> None:
        wanted = [self.normalize_key(key) for key in options["key"]]
        found = {
            row["username"]: row
            for row in self._rows(Manager.objects.visible_to(actor).filter(pk__in=wanted))
        }
        rows = [found[key] for key in wanted if key in found]
        if options.get("json"):
            self.stdout.write(
                json.dumps(
                    rows if len(wanted) > 1 else (rows[0] if rows else None),
                    ensure_ascii=False,
                    indent=1,
                )
            )
        else:
            for row in rows:
                for name, value in row.items():
                    value = int(value) if isinstance(value, bool) else value
                    self.stdout.write(f"{name.ljust(16)} = {value}")
                self.stdout.write("")
        missing = [key for key in wanted if key not in found]
        if missing:
            raise CommandError(f"{', '.join(missing)}: no such manager, or not yours", returncode=1)

    # add, mod, del -----------------------------------------------------------------------
    def values(self, item: Item) -> dict[str, Any]:
        options = item.options
        values: dict[str, Any] = {}
        copy(options, values, "name", "type", "active", "disablepwdchange")
        if options.get("domains") is not None:
            values["domains"] = options["domains"]
        expire_value(options, values)
        return values

    def _check_superadmin(self, actor: Manager) -> None:
        if not actor.is_superadmin:
            raise Refused("only a superadmin manages managers")

    def perform_add(self, actor: Manager, item: Item) -> Result:
        self._check_superadmin(actor)
        password, generated = self.new_password(item)
        values = {
            **self.values(item),
            "username": item.key,
            "password1": password,
            "password2": password,
        }
        form = valid(ManagerForm(form_data(ManagerForm(), values)))
        data = form.cleaned_data
        manager_create(
            actor=actor,
            username=data["username"],
            password=data["password1"],
            name=data["name"],
            type=data["type"],
            expiredate=data["expiredate"],
            active=data["active"],
            disablepwdchange=data["disablepwdchange"],
            domains=data["domains"],
        )
        return Result(item, ok=True, done="added", password=generated)

    def perform_mod(self, actor: Manager, item: Item) -> Result:
        self._check_superadmin(actor)
        options = item.options
        if not item.given:
            raise Refused("nothing to change: give an option")
        manager = Manager.objects.get(pk=self.normalize_key(item.key))
        initial = {
            "username": manager.pk,
            "name": manager.name,
            "type": Manager.Role.SUPERADMIN if manager.is_superadmin else Manager.Role.DOMAIN_ADMIN,
            "expiredate": manager.expiredate,
            "active": manager.active,
            "disablepwdchange": manager.password_change_disabled,
            "domains": assigned_domains(manager),
        }
        values = self.values(item)
        domains = list(values.get("domains", initial["domains"]))
        domains += [d for d in options.get("add_domains") or [] if d not in domains]
        removed = set(options.get("del_domains") or [])
        values["domains"] = [d for d in domains if d not in removed]
        password, generated = self.new_password(item)
        values.update(password1=password, password2=password)
        blank = ManagerForm(instance=manager, initial=initial)
        form = valid(ManagerForm(form_data(blank, values), instance=manager, initial=initial))
        data = form.cleaned_data
        manager_update(
            actor=actor,
            manager=manager,
            name=data["name"],
            type=data["type"],
            expiredate=data["expiredate"],
            active=data["active"],
            disablepwdchange=data["disablepwdchange"],
            domains=data["domains"],
            password=data["password1"] or None,
        )
        return Result(item, ok=True, done="changed", password=generated)

    def perform_del(self, actor: Manager, item: Item) -> Result:
        self._check_superadmin(actor)
        manager = Manager.objects.get(pk=self.normalize_key(item.key))
        manager_delete(actor=actor, manager=manager)
        return Result(item, ok=True, done="deleted")
