"""``manage.py alias list|show|add|mod|del``: ExtMan's ``aliasctl.pl`` through the panel's alias
forms and services (docs/cli.md)."""

from __future__ import annotations

import argparse
from typing import Any

from accounts.models import Manager
from aliases.forms import AliasEditForm, AliasForm
from aliases.models import Alias
from aliases.services import alias_create, alias_delete, alias_update, missing_local_targets
from aliases.views import NOT_FORWARDING
from cli.base import Item, ObjectCommand, Refused, Result, domain_key, flag, form_data, names, valid
from cli.options import active_argument
from mailstack.services import is_internal_only


def _targets(groups: list[list[str]] | None) -> list[str]:
    return [target for group in groups or [] for target in group]


class Command(ObjectCommand):
    help = "List, show, add, change and delete aliases (ExtMan's aliasctl.pl)."
    noun = "alias"
    table = "aliases"
    key_help = "the address, local@domain (@domain for the catch-all)"

    def object_arguments(
        self, parser: argparse.ArgumentParser, action: str, *, in_file: bool = False
    ) -> None:
        if action == "list":
            parser.add_argument("--domain", "-d", help="only this domain")
            parser.add_argument("--search", "-s", help="as the list page's search")
            parser.add_argument("--match", choices=("prefix", "contains"), default="prefix")
        elif action in ("add", "mod"):
            parser.add_argument(
                "--goto",
                "-g",
                action="append",
                type=names,
                metavar="LIST",
                help="the targets (comma list or repeated)"
                + ("; replaces them all" if action == "mod" else ""),
            )
            if action == "mod":
                parser.add_argument(
                    "--add-goto",
                    action="append",
                    type=names,
                    metavar="LIST",
                    help="add these targets",
                )
                parser.add_argument(
                    "--del-goto",
                    action="append",
                    type=names,
                    metavar="LIST",
                    help="remove these targets",
                )
            active_argument(parser)
            parser.add_argument("--internal-only", type=flag, metavar="1|0")

    def perform_add(self, actor: Manager, item: Item) -> Result:
        local, at, domain_name = item.key.strip().lower().rpartition("@")
        if not at:
            raise Refused("give the address as local@domain, or @domain for the catch-all")
        domain_name = domain_key(domain_name)
        blank = AliasForm(manager=actor)
        values: dict[str, Any] = {
            "local_part": local or "@",
            "domain": domain_name,
            "goto": _targets(item.options.get("goto")),
        }
        for name in ("active", "internal_only"):
            if item.options.get(name) is not None:
                values[name] = item.options[name]
        form = valid(AliasForm(form_data(blank, values), manager=actor))
        data = form.cleaned_data
        alias = alias_create(
            actor=actor,
            local_part=data["local_part"],
            domain=data["domain"],
            goto=data["goto"],
            active=data["active"],
            internal_only=data["internal_only"],
        )
        return Result(item, ok=True, done=self._done("added", actor, alias))

    def _done(self, verb: str, actor: Manager, alias: Alias) -> str:
        missing = missing_local_targets(alias.targets, actor=actor)
        if missing:
            return f"{verb} (warning: neither a mailbox nor an alias: {', '.join(missing)})"
        return verb

    def _alias(self, actor: Manager, item: Item) -> Alias:
        return (
            Alias.objects.visible_to(actor)
            .filter(NOT_FORWARDING)
            .get(pk=self.normalize_key(item.key))
        )

    def perform_mod(self, actor: Manager, item: Item) -> Result:
        options = item.options
        if not item.given:
            raise Refused("nothing to change: give an option")
        alias = self._alias(actor, item)
        initial = {
            "goto": alias.targets,
            "active": alias.active,
            "internal_only": is_internal_only(alias.address),
        }
        goto = _targets(options.get("goto")) if options.get("goto") else list(alias.targets)
        goto += [t for t in _targets(options.get("add_goto")) if t not in goto]
        removed = {t.lower() for t in _targets(options.get("del_goto"))}
        values: dict[str, Any] = {"goto": [t for t in goto if t.lower() not in removed]}
        for name in ("active", "internal_only"):
            if options.get(name) is not None:
                values[name] = options[name]
        blank = AliasEditForm(initial=initial)
        form = valid(AliasEditForm(form_data(blank, values), initial=initial))
        data = form.cleaned_data
        alias_update(
            actor=actor,
            alias=alias,
            goto=data["goto"],
            active=data["active"],
            internal_only=data["internal_only"],
        )
        return Result(item, ok=True, done=self._done("changed", actor, alias))

    def perform_del(self, actor: Manager, item: Item) -> Result:
        alias_delete(actor=actor, alias=self._alias(actor, item))
        return Result(item, ok=True, done="deleted")
