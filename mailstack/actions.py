"""Service actions: an allow-list of fixed argument lists built from the configured programs.

Nothing a user types reaches a command: a request names one of these actions, and the job
runs its argument list without a shell.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from mailstack.tables import _postfix_config_args, run_command


def _postfix(*args: str) -> list[str]:
    return [settings.MAILADMIN_POSTFIX, *_postfix_config_args(), *args]


def _doveadm(*args: str) -> list[str]:
    return [settings.MAILADMIN_DOVEADM, *args]


#: name -> (label, argument list builder)
ACTIONS: dict[str, tuple[Promise, Callable[[], list[str]]]] = {
    "postfix_reload": (_("Reload Postfix"), lambda: _postfix("reload")),
    "postfix_status": (_("Postfix status"), lambda: _postfix("status")),
    "postfix_check": (_("Check the Postfix configuration"), lambda: _postfix("check")),
    "dovecot_reload": (_("Reload Dovecot"), lambda: _doveadm("reload")),
    "dovecot_status": (_("Dovecot status"), lambda: _doveadm("service", "status")),
}


def action_args(name: str) -> list[str]:
    """The argument list of an allowed action; KeyError for anything else."""
    return ACTIONS[name][1]()


NOT_INSTALLED = "{program} is not installed on this host: nothing was run."


def run_action(name: str) -> str:
    """The action's output; on a host without the program (the quick start has no Postfix or
    Dovecot), a sentence that says so rather than a failed job."""
    args = action_args(name)
    if not Path(args[0]).exists():
        return NOT_INSTALLED.format(program=args[0])
    return run_command(args, what=name)
