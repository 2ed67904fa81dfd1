"""Options shared by several object commands, spelled as the forms name their fields, with
ExtMan's spellings as aliases (docs/cli.md)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.base import Refused, flag, names
from mailadmin.lib.flags import SERVICE_NAMES

NEVER = ("", "never", "0000-00-00")


def service_arguments(parser: argparse.ArgumentParser, *, template: bool = False) -> None:
    spelled = ["--services"] + (["--userservices", "--accountservices"] if template else [])
    parser.add_argument(
        *spelled,
        dest="services",
        type=names,
        metavar="LIST",
        help=f"exactly these services enabled ({','.join(SERVICE_NAMES)}; ExtMan's pwdchange"
        " too, for mailboxes)",
    )
    parser.add_argument(
        "--enable",
        action="append",
        type=names,
        default=None,
        metavar="SERVICE",
        help="enable a service (repeat, or a comma list)",
    )
    parser.add_argument(
        "--disable",
        action="append",
        type=names,
        default=None,
        metavar="SERVICE",
        help="disable a service (repeat, or a comma list)",
    )


def service_values(options: dict[str, Any], *, pwdchange: bool = False) -> dict[str, Any]:
    """``enable_<service>`` form values from ``--services``/``--enable``/``--disable``."""
    values: dict[str, Any] = {}
    known = set(SERVICE_NAMES) | ({"pwdchange"} if pwdchange else set())
    listed = options.get("services")
    enable = [s for group in options.get("enable") or [] for s in group]
    disable = [s for group in options.get("disable") or [] for s in group]
    unknown = sorted({s for s in (listed or []) + enable + disable if s not in known})
    if unknown:
        raise Refused(f"unknown services: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if listed is not None:
        for service in SERVICE_NAMES:
            values[f"enable_{service}"] = service in listed
        if pwdchange and "pwdchange" in listed:
            values["disablepwdchange"] = False
    for service in enable:
        if service == "pwdchange":
            values["disablepwdchange"] = False
        else:
            values[f"enable_{service}"] = True
    for service in disable:
        if service == "pwdchange":
            values["disablepwdchange"] = True
        else:
            values[f"enable_{service}"] = False
    return values


def expire_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--expire",
        "--expiredate",
        "-e",
        dest="expiredate",
        metavar="YYYY-MM-DD",
        help="expiry date; never (or empty) for none",
    )


def expire_value(options: dict[str, Any], values: dict[str, Any]) -> None:
    value = options.get("expiredate")
    if value is not None:
        values["expiredate"] = "" if value.strip().lower() in NEVER else value.strip()


def active_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--active", "-a", type=flag, metavar="1|0", help="enabled (1) or not (0)")


def copy(options: dict[str, Any], values: dict[str, Any], *pairs: str) -> None:
    """Copy the given options (``name`` or ``option:field``) that were given."""
    for pair in pairs:
        option, _sep, name = pair.partition(":")
        if options.get(option) is not None:
            values[name or option] = options[option]
