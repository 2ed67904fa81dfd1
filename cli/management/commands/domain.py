"""``manage.py domain list|show|add|mod|del``: ExtMan's ``domainctl.pl`` through the panel's
domain forms and services (docs/cli.md). Changes are for superadmins, as on the pages."""

from __future__ import annotations

import argparse
from typing import Any

from accounts.models import Manager
from cli.base import Item, ObjectCommand, Refused, Result, domain_key, flag, form_data, valid
from cli.options import (
    active_argument,
    copy,
    expire_argument,
    expire_value,
    service_arguments,
    service_values,
)
from domains.forms import DomainAddForm, DomainEditForm
from domains.models import Domain
from domains.services import domain_create, domain_delete, domain_update


class Command(ObjectCommand):
    help = "List, show, add, change and delete domains (ExtMan's domainctl.pl)."
    noun = "domain"
    table = "domains"
    key_help = "the domain name"

    def object_arguments(
        self, parser: argparse.ArgumentParser, action: str, *, in_file: bool = False
    ) -> None:
        if action == "list":
            parser.add_argument("--search", "-s", help="as the list page's search")
            parser.add_argument("--match", choices=("prefix", "contains"), default="prefix")
        elif action in ("add", "mod"):
            parser.add_argument("--description", help="description")
            parser.add_argument(
                "--maxusers", "--maxuser", type=int, help="max mailboxes; 0 = unlimited"
            )
            parser.add_argument("--maxalias", type=int, help="max aliases; 0 = unlimited")
            parser.add_argument(
                "--maxquota", type=int, metavar="MB", help="max total quota in MB; 0 = unlimited"
            )
            parser.add_argument(
                "--maxnetdiskquota",
                "--maxndquota",
                type=int,
                metavar="MB",
                help="max total netdisk quota in MB",
            )
            parser.add_argument("--transport", "-t", help="Postfix transport; empty for none")
            parser.add_argument(
                "--can-signup",
                "--signup",
                dest="can_signup",
                type=flag,
                metavar="1|0",
                help="public signup allowed",
            )
            active_argument(parser)
            expire_argument(parser)
            parser.add_argument(
                "--default-quota",
                "--userquota",
                "--accountquota",
                dest="default_quota",
                type=int,
                metavar="MB",
                help="quota of new mailboxes (MB)",
            )
            parser.add_argument(
                "--default-netdiskquota",
                "--userndquota",
                "--accountndquota",
                dest="default_netdiskquota",
                type=int,
                metavar="MB",
                help="netdisk quota of new mailboxes (MB)",
            )
            parser.add_argument(
                "--default-expire",
                "--userlifetime",
                "--accountlifetime",
                dest="default_expire",
                metavar="LIFETIME",
                help="lifetime of new mailboxes: 30d, 6w, 12m, 1y; never for none",
            )
            service_arguments(parser, template=True)
            if action == "mod":
                parser.add_argument(
                    "--apply-template",
                    action="store_true",
                    help="apply the service template to every mailbox of the domain",
                )
        elif action == "del":
            parser.add_argument(
                "--delete-all",
                action="store_true",
                help="also delete its mailboxes (data archived) and aliases",
            )

    def values(self, item: Item) -> dict[str, Any]:
        options = item.options
        values = service_values(options)
        copy(
            options,
            values,
            "description",
            "maxusers",
            "maxalias",
            "maxquota",
            "maxnetdiskquota",
            "transport",
            "can_signup",
            "active",
            "default_quota",
            "default_netdiskquota",
        )
        if options.get("default_expire") is not None:
            text = options["default_expire"].strip()
            values["default_expire"] = "" if text.lower() in ("never", "0") else text
        expire_value(options, values)
        return values

    def normalize_key(self, key: str) -> str:
        return domain_key(key)

    def _check_superadmin(self, actor: Manager) -> None:
        if not actor.is_superadmin:  # as the pages: domain admins see their domains only
            raise Refused("only a superadmin changes domains")

    def perform_add(self, actor: Manager, item: Item) -> Result:
        self._check_superadmin(actor)
        values = {**self.values(item), "domain": item.key}
        form = valid(DomainAddForm(form_data(DomainAddForm(), values)))
        domain_create(name=form.cleaned_data["domain"], values=form.values(), actor=actor)
        return Result(item, ok=True, done="added")

    def _domain(self, actor: Manager, item: Item) -> Domain:
        self._check_superadmin(actor)
        return Domain.objects.visible_to(actor).get(pk=self.normalize_key(item.key))

    def perform_mod(self, actor: Manager, item: Item) -> Result:
        if not item.given:
            raise Refused("nothing to change: give an option")
        domain = self._domain(actor, item)
        values = self.values(item)
        values["apply_template"] = bool(item.options.get("apply_template"))
        blank = DomainEditForm(instance=domain)
        form = valid(DomainEditForm(form_data(blank, values), instance=domain))
        domain_update(
            domain=domain,
            values=form.values(),
            apply_template=form.cleaned_data["apply_template"],
            actor=actor,
        )
        return Result(item, ok=True, done="changed")

    def perform_del(self, actor: Manager, item: Item) -> Result:
        domain = self._domain(actor, item)
        delete_all = bool(item.options.get("delete_all"))
        result = domain_delete(
            domain=domain,
            delete_all=delete_all,
            confirm_domain=domain.pk if delete_all else "",
            actor=actor,
        )
        done = "deleted"
        if result.changed_aliases or result.deleted_aliases:
            done += (
                f" (aliases changed: {', '.join(result.changed_aliases) or '-'};"
                f" deleted: {', '.join(result.deleted_aliases) or '-'})"
            )
        return Result(item, ok=True, done=done)
