"""What the Postfix on the panel's host says about SMTP AUTH, for the mail system page.

``reject_sender_login_mismatch`` (in the generated main.cf lines, as in EMOS's) needs SASL:
with ``smtpd_sasl_auth_enable = no`` Postfix ignores it, says so only in its log, and accepts
an outsider that uses one of our addresses as sender. The page asks ``postconf`` (read-only)
when Postfix is installed here; on a panel host without Postfix it says so once.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from mailstack.tables import _postfix_config_args

POSTCONF = "/usr/sbin/postconf"
TIMEOUT = 20
PARAMETERS = (
    "smtpd_sasl_auth_enable",
    "smtpd_sasl_type",
    "smtpd_sasl_path",
    "smtpd_sender_login_maps",
    "smtpd_sender_restrictions",
)
# The restrictions that refuse an outsider (not logged in) using an address of ours.
OUTSIDER_CHECKS = frozenset(
    {
        "reject_sender_login_mismatch",
        "reject_unauthenticated_sender_login_mismatch",
        "reject_known_sender_login_mismatch",
    }
)
LOGIN_CHECKS = OUTSIDER_CHECKS | {"reject_authenticated_sender_login_mismatch"}


@dataclass(frozen=True)
class SaslCheck:
    """The outcome: ``level`` is a Bootstrap alert level (info, success, warning, danger)."""

    level: str
    message: str
    values: dict[str, str] = field(default_factory=dict)


def _words(value: str) -> set[str]:
    return set(value.replace(",", " ").split())


def postfix_sasl_check() -> SaslCheck:
    """Ask ``postconf`` whether SMTP AUTH is on and the sender login checks can work."""
    if not Path(POSTCONF).exists():
        return SaslCheck(
            "info",
            _(
                "Postfix is not installed on this host, so its SMTP AUTH settings are not"
                " checked here: on the mail host, smtpd_sasl_auth_enable must be yes."
            ),
        )
    try:
        result = subprocess.run(  # noqa: S603 - a fixed argument list
            [POSTCONF, *_postfix_config_args(), "-h", *PARAMETERS],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SaslCheck("warning", _("postconf could not be run: %(error)s") % {"error": exc})
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != len(PARAMETERS):
        output = (result.stdout + result.stderr).strip()[-1000:]
        return SaslCheck(
            "warning",
            _("postconf could not read the Postfix configuration: %(output)s")
            % {"output": output or result.returncode},
        )
    values = dict(zip(PARAMETERS, (line.strip() for line in lines), strict=True))
    restrictions = _words(values["smtpd_sender_restrictions"])
    sasl_on = values["smtpd_sasl_auth_enable"].lower() == "yes"
    if not sasl_on and restrictions & LOGIN_CHECKS:
        return SaslCheck(
            "danger",
            _(
                "SMTP AUTH is off (smtpd_sasl_auth_enable = no): Postfix ignores the sender"
                " login checks in smtpd_sender_restrictions and accepts mail from outsiders"
                " that use one of our addresses as sender. Add the SMTP AUTH lines of"
                " main.cf.mailadmin and Dovecot's auth socket (auth-mailadmin.conf.ext)."
            ),
            values,
        )
    if not sasl_on:
        return SaslCheck(
            "warning",
            _(
                "SMTP AUTH is off (smtpd_sasl_auth_enable = no): mailbox users cannot log in"
                " to send, and nothing stops outsiders using our addresses as sender. Add the"
                " SMTP AUTH lines and smtpd_sender_restrictions of main.cf.mailadmin."
            ),
            values,
        )
    if not restrictions & OUTSIDER_CHECKS or not values["smtpd_sender_login_maps"]:
        return SaslCheck(
            "warning",
            _(
                "SMTP AUTH is on, but without reject_sender_login_mismatch in"
                " smtpd_sender_restrictions (and smtpd_sender_login_maps) anyone may use our"
                " addresses as sender. Add those lines of main.cf.mailadmin."
            ),
            values,
        )
    return SaslCheck(
        "success",
        _(
            "SMTP AUTH is on (%(type)s, %(path)s) and reject_sender_login_mismatch refuses"
            " our addresses as sender to anyone not logged in as their mailbox."
        )
        % {"type": values["smtpd_sasl_type"], "path": values["smtpd_sasl_path"]},
        values,
    )
