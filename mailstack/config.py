"""Configuration files for the mail stack, rendered from the panel's own database settings.

The Postfix ``mysql:`` maps keep ExtMan/EMOS's file names and answers, so an EMOS ``main.cf``
can point at them unchanged; they add what the classic files lack: every lookup checks
``active`` of the row and of its domain, and the alias map answers an existing mailbox with
its own address, so that a domain's catch-all never takes a mailbox's mail. The Dovecot and
Courier authlib snippets refuse inactive mailboxes and domains and honour the service flags.
The ``main.cf`` lines turn on SMTP AUTH through Dovecot, without which Postfix ignores the
sender login checks; the Dovecot include gives Postfix its authentication socket.

Where each file is installed is decided here once (``install_plan``): the files that point at
another one (``main.cf`` at the maps, the Dovecot include at the SQL file and at Postfix's
queue directory) are rendered with the same directories the install commands use.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

MASK = "********"

# Names as EMOS ships them (main.cf refers to these).
DOMAINS_MAP = "mysql_virtual_domains_maps.cf"
MAILBOX_MAP = "mysql_virtual_mailbox_maps.cf"
ALIAS_MAP = "mysql_virtual_alias_maps.cf"
LIMIT_MAP = "mysql_virtual_limit_maps.cf"
SENDER_MAP = "mysql_virtual_sender_maps.cf"
DOVECOT_SQL = "dovecot-sql.conf.ext"
AUTHMYSQLRC = "authmysqlrc"
MAIN_CF = "main.cf.mailadmin"
DOVECOT_AUTH = "auth-mailadmin.conf.ext"

# Where the files go on Debian and Ubuntu (docs/mailstack.md; EMOS/CentOS keep authlib's files
# in /etc/authlib).
DOVECOT_DIR = "/etc/dovecot"
COURIER_DIR = "/etc/courier"
POSTFIX_QUEUE_DIR = "/var/spool/postfix"
POSTFIX_MAIN_CF = "/etc/postfix/main.cf"
# Relative to Postfix's queue directory, where Dovecot puts the SASL socket for Postfix.
SASL_SOCKET = "private/auth"

# courier-authlib refuses an rc file without the marker section at its end ("marker line not
# found ... forgot to run sysconftool") and then fails every login and delivery; sysconftool
# reads the version line when a package upgrade merges new settings. This is the version line
# of Debian's authmysqlrc (courier-authlib 0.71).
AUTHMYSQLRC_VERSION = "##VERSION: $Id: 01c3b327e4d5b8f4123500ce4c8d0ef7a690c10d-20210515150130$"
AUTHLIB_MARKER = "##NAME: MARKER:0"

#: Files that carry the database password.
SECRET_FILES = frozenset(
    {DOMAINS_MAP, MAILBOX_MAP, ALIAS_MAP, LIMIT_MAP, SENDER_MAP, DOVECOT_SQL, AUTHMYSQLRC}
)

# Characters none of the three config syntaxes can carry in a value (Dovecot splits its
# connect string on spaces, authlib and Postfix end a value at the line end).
_UNSAFE_VALUE = re.compile(r"[\s'\"\\#]")
_UNSAFE_PATH = re.compile(r"[\s'\"\\#%$]")


class MailstackConfigError(ValueError):
    """The database settings cannot be written into the mail stack's configuration."""


@dataclass(frozen=True)
class DatabaseParams:
    """How the mail stack reaches the extmail database."""

    name: str
    user: str
    password: str
    host: str = "localhost"
    port: int | None = None
    socket: str = ""


def database_params(config: dict[str, Any] | None = None) -> DatabaseParams:
    """The connection of ``config`` (default: the panel's own ``DATABASES['default']``)."""
    config = config if config is not None else settings.DATABASES["default"]
    if not str(config.get("ENGINE", "")).endswith("mysql"):
        raise MailstackConfigError(
            "the panel does not use a MySQL/MariaDB database (DATABASE_URL), so there is no"
            " database for Postfix and Dovecot to read"
        )
    host = str(config.get("HOST") or "")
    options = config.get("OPTIONS") or {}
    socket = str(options.get("unix_socket") or "")
    if host.startswith("/"):
        socket, host = host, "localhost"
    port = int(config["PORT"]) if config.get("PORT") else None
    params = DatabaseParams(
        name=str(config.get("NAME") or ""),
        user=str(config.get("USER") or ""),
        password=str(config.get("PASSWORD") or ""),
        host=host or "localhost",
        port=port,
        socket=socket,
    )
    problems = [
        label
        for label, value in (
            ("database name", params.name),
            ("user", params.user),
            ("host", params.host),
            ("socket", params.socket),
        )
        if _UNSAFE_VALUE.search(value) or (label in ("database name", "user") and not value)
    ]
    if _UNSAFE_VALUE.search(params.password):
        problems.append("password")
    if problems:
        raise MailstackConfigError(
            f"the database {', '.join(problems)} cannot be written into Postfix, Dovecot and"
            " authlib files (empty, or containing spaces, quotes, backslashes or #)"
        )
    return params


def _mail_base() -> str:
    base = str(settings.MAILADMIN_MAIL_BASE).rstrip("/")
    if _UNSAFE_PATH.search(base):
        raise MailstackConfigError("MAILADMIN_MAIL_BASE cannot be written into an SQL query")
    return base


def _postfix_dir() -> str:
    return str(settings.MAILADMIN_POSTFIX_DIR).rstrip("/")


@dataclass(frozen=True)
class InstallDirs:
    """Where the generated files live on the mail host."""

    postfix: str
    dovecot: str = DOVECOT_DIR
    courier: str = COURIER_DIR
    postfix_queue: str = POSTFIX_QUEUE_DIR


def install_dirs(
    postfix: str = "",
    dovecot: str = DOVECOT_DIR,
    courier: str = COURIER_DIR,
    postfix_queue: str = POSTFIX_QUEUE_DIR,
) -> InstallDirs:
    """The install directories, checked; the Postfix maps default to ``MAILADMIN_POSTFIX_DIR``
    (beside the managed tables, as the page shows them)."""
    dirs = InstallDirs(
        postfix=(postfix or _postfix_dir()).rstrip("/") or "/",
        dovecot=dovecot.rstrip("/") or "/",
        courier=courier.rstrip("/") or "/",
        postfix_queue=postfix_queue.rstrip("/") or "/",
    )
    for label, value in vars(dirs).items():
        if not value.startswith("/") or _UNSAFE_PATH.search(value):
            raise MailstackConfigError(
                f"the {label} directory {value!r} must be an absolute path without spaces,"
                " quotes, backslashes, #, % or $"
            )
    return dirs


@dataclass(frozen=True)
class Install:
    """How one generated file is installed: into ``directory`` with owner, group and mode;
    ``directory`` empty means it is merged by hand into ``merge_into``."""

    name: str
    directory: str = ""
    owner: str = "root"
    group: str = "root"
    mode: str = "0644"
    merge_into: str = ""

    @property
    def path(self) -> str:
        return f"{self.directory}/{self.name}" if self.directory else self.merge_into


def install_plan(dirs: InstallDirs) -> list[Install]:
    """Every generated file and where it goes, in the order of ``render_all``."""
    maps = [Install(name, dirs.postfix, "root", "postfix", "0640") for name in POSTFIX_MAPS]
    return [
        *maps,
        Install(DOVECOT_SQL, dirs.dovecot, "root", "dovecot", "0640"),
        Install(DOVECOT_AUTH, f"{dirs.dovecot}/conf.d", "root", "root", "0644"),
        # Debian's authdaemond reads it as root; the package ships it root:courier 0640.
        Install(AUTHMYSQLRC, dirs.courier, "root", "courier", "0640"),
        Install(MAIN_CF, merge_into=POSTFIX_MAIN_CF),
    ]


def install_commands(output: str, dirs: InstallDirs) -> list[str]:
    """The shell commands (for the operator, as root on the mail host) that install the files
    written to ``output``: one ``install`` per target directory and owner."""
    groups: dict[tuple[str, str, str, str], list[str]] = {}
    for item in install_plan(dirs):
        if item.directory:
            key = (item.directory, item.owner, item.group, item.mode)
            groups.setdefault(key, []).append(item.name)
    commands = []
    for (directory, owner, group, mode), names in groups.items():
        sources = " ".join(shlex.quote(f"{output.rstrip('/')}/{name}") for name in names)
        commands.append(
            f"install -o {owner} -g {group} -m {mode} -D -t {shlex.quote(directory)} {sources}"
        )
    return commands


# --- Postfix mysql: maps ------------------------------------------------------------------------
POSTFIX_MAPS = (DOMAINS_MAP, MAILBOX_MAP, ALIAS_MAP, LIMIT_MAP, SENDER_MAP)


def _not_expired(column: str) -> str:
    """With ``MAILADMIN_MAILSTACK_REFUSE_EXPIRED``: ``column`` is no expiry date or one not
    passed yet. The date is the last valid day; ``0000-00-00`` (ExtMan's "never", below any
    real date) and NULL never expire. Without the setting: nothing (the daily expiry run acts)."""
    if not settings.MAILADMIN_MAILSTACK_REFUSE_EXPIRED:
        return ""
    return f" AND ({column} IS NULL OR {column} < '1000-01-01' OR {column} >= CURDATE())"


def _domain_active(table: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM domain d WHERE d.domain = {table}.domain AND d.active = '1'"
        f"{_not_expired('d.expiredate')})"
    )


def postfix_queries() -> dict[str, tuple[str, str]]:
    """``{map file: (description, query)}``. A mailbox past its own expiry date, or of a domain
    past its date, is refused as an inactive one is when ``MAILADMIN_MAILSTACK_REFUSE_EXPIRED``
    is on (a mailbox without a date follows its domain)."""
    mailbox_ok = f"active = '1'{_not_expired('mailbox.expiredate')}"
    return {
        DOMAINS_MAP: (
            "virtual_mailbox_domains: an active domain",
            "SELECT domain FROM domain WHERE domain = '%s' AND active = '1'"
            f"{_not_expired('domain.expiredate')}",
        ),
        MAILBOX_MAP: (
            "virtual_mailbox_maps: the Maildir of an active mailbox",
            f"SELECT maildir FROM mailbox WHERE username = '%s' AND {mailbox_ok}\n"
            f"    AND {_domain_active('mailbox')}",
        ),
        ALIAS_MAP: (
            "virtual_alias_maps: the targets of an active alias; an active mailbox without one\n"
            "# answers itself, so that Postfix never falls back to the domain's catch-all for it",
            "SELECT goto FROM alias WHERE address = '%s' AND active = '1'\n"
            f"    AND {_domain_active('alias')}\n"
            "  UNION ALL\n"
            f"  SELECT username FROM mailbox WHERE username = '%s' AND {mailbox_ok}\n"
            f"    AND {_domain_active('mailbox')}\n"
            "    AND NOT EXISTS (SELECT 1 FROM alias a WHERE a.address = '%s' AND a.active = '1')",
        ),
        LIMIT_MAP: (
            "virtual_mailbox_limit_maps (VDA quota patch): the quota of an active mailbox",
            f"SELECT quota FROM mailbox WHERE username = '%s' AND {mailbox_ok}\n"
            f"    AND {_domain_active('mailbox')}",
        ),
        SENDER_MAP: (
            "smtpd_sender_login_maps: the login that may send as an active mailbox",
            f"SELECT username FROM mailbox WHERE username = '%s' AND {mailbox_ok}\n"
            f"    AND {_domain_active('mailbox')}",
        ),
    }


def postfix_map(name: str, db: DatabaseParams) -> str:
    description, query = postfix_queries()[name]
    if db.socket:
        hosts = f"unix:{db.socket}"
    elif db.port:
        hosts = f"inet:{db.host}:{db.port}"
    else:
        hosts = db.host
    return (
        f"# Generated by mailadmin. {description}.\n"
        f"user = {db.user}\n"
        f"password = {db.password}\n"
        f"hosts = {hosts}\n"
        f"dbname = {db.name}\n"
        f"query = {query}\n"
    )


# --- Dovecot ------------------------------------------------------------------------------------
def _quota_bytes_sql(column: str) -> str:
    # 104857600S, 104857600 and 104857600S,1000C all give 104857600.
    return f"CAST(TRIM(TRAILING 'S' FROM UPPER(SUBSTRING_INDEX({column}, ',', 1))) AS UNSIGNED)"


def dovecot_sql(db: DatabaseParams) -> str:
    base = _mail_base()
    connect = [f"host={db.socket or db.host}"]
    if db.port and not db.socket:
        connect.append(f"port={db.port}")
    connect += [f"dbname={db.name}", f"user={db.user}"]
    if db.password:
        connect.append(f"password={db.password}")
    return f"""# Generated by mailadmin: Dovecot 2.3 passdb/userdb on the extmail tables.
# Inactive mailboxes and mailboxes of inactive domains cannot log in; disableimap,
# disablepop3 and disablesmtpd refuse the service imap, pop3 and smtp/submission (SASL).
driver = mysql
connect = {" ".join(connect)}
# Bare $1$ (md5crypt, ExtMan) and {{CRYPT}}$6$ (SHA512-crypt) both verify as CRYPT.
default_pass_scheme = CRYPT

password_query = SELECT username AS user, password FROM mailbox \\
  WHERE username = '%u' AND active = '1'{_not_expired("mailbox.expiredate")} \\
  AND {_domain_active("mailbox")} \\
  AND ('%s' <> 'imap' OR COALESCE(disableimap, 0) = 0) \\
  AND ('%s' <> 'pop3' OR COALESCE(disablepop3, 0) = 0) \\
  AND ('%s' NOT IN ('smtp', 'submission') OR COALESCE(disablesmtpd, 0) = 0)

user_query = SELECT CONCAT('{base}/', homedir) AS home, \\
  CONCAT('maildir:{base}/', maildir) AS mail, \\
  uidnumber AS uid, gidnumber AS gid, \\
  CONCAT('*:bytes=', {_quota_bytes_sql("quota")}) AS quota_rule \\
  FROM mailbox WHERE username = '%u' AND active = '1'{_not_expired("mailbox.expiredate")} \\
  AND {_domain_active("mailbox")}

iterate_query = SELECT username AS user FROM mailbox WHERE active = '1'
"""


def dovecot_auth(dirs: InstallDirs) -> str:
    return f"""# Generated by mailadmin: include from conf.d/10-auth.conf in place of
# auth-system.conf.ext (!include auth-mailadmin.conf.ext).
passdb {{
  driver = sql
  args = {dirs.dovecot}/{DOVECOT_SQL}
}}
userdb {{
  driver = sql
  args = {dirs.dovecot}/{DOVECOT_SQL}
}}

# SMTP AUTH for Postfix (smtpd_sasl_type = dovecot, smtpd_sasl_path = {SASL_SOCKET}).
service auth {{
  unix_listener {dirs.postfix_queue}/{SASL_SOCKET} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


# --- Courier authlib ----------------------------------------------------------------------------
def _courier_quota_sql(column: str) -> str:
    # maildrop and courier-imap read only the Maildir++ form (104857600S); a bare 104857600
    # (ExtMan's "vda" quota type) is "not parseable" to them and the quota is not enforced.
    return (
        f"CASE WHEN {column} REGEXP '^[0-9]+(,|$)' THEN CONCAT(SUBSTRING_INDEX({column}, ',', 1),"
        f" 'S', SUBSTRING({column}, LENGTH(SUBSTRING_INDEX({column}, ',', 1)) + 1))"
        f" ELSE {column} END"
    )


def authmysqlrc(db: DatabaseParams) -> str:
    base = _mail_base()
    lines = [
        AUTHMYSQLRC_VERSION,
        "# Generated by mailadmin: Courier authlib (authmysql) on the extmail tables.",
        "# Inactive mailboxes and mailboxes of inactive domains are unknown; the service flags",
        "# travel as options (disableimap=1, disablepop3=1, disablewebmail=1...). The quota",
        "# is given in the Maildir++ form (104857600S) that maildrop enforces.",
        f"MYSQL_SERVER            {db.host}",
        f"MYSQL_USERNAME          {db.user}",
        f"MYSQL_PASSWORD          {db.password}",
    ]
    if db.socket:
        lines.append(f"MYSQL_SOCKET            {db.socket}")
    lines += [
        f"MYSQL_PORT              {db.port or 0}",
        "MYSQL_OPT               0",
        f"MYSQL_DATABASE          {db.name}",
        "MYSQL_USER_TABLE        mailbox",
        "MYSQL_CRYPT_PWFIELD     password",
        "MYSQL_UID_FIELD         uidnumber",
        "MYSQL_GID_FIELD         gidnumber",
        "MYSQL_LOGIN_FIELD       username",
        "MYSQL_HOME_FIELD        homedir",
        "MYSQL_NAME_FIELD        name",
        "MYSQL_MAILDIR_FIELD     maildir",
        "MYSQL_QUOTA_FIELD       quota",
        "MYSQL_SELECT_CLAUSE     SELECT username, password, '', uidnumber, gidnumber, \\",
        f"                        CONCAT('{base}/', homedir), \\",
        f"                        CONCAT('{base}/', maildir), \\",
        f"                        {_courier_quota_sql('quota')}, name, \\",
        "                        CONCAT('disablesmtpd=', COALESCE(disablesmtpd, 0), \\",
        "                        ',disablesmtp=', COALESCE(disablesmtp, 0), \\",
        "                        ',disablewebmail=', COALESCE(disablewebmail, 0), \\",
        "                        ',disablenetdisk=', COALESCE(disablenetdisk, 0), \\",
        "                        ',disableimap=', COALESCE(disableimap, 0), \\",
        "                        ',disablepop3=', COALESCE(disablepop3, 0), \\",
        "                        ',netdiskquota=', COALESCE(netdiskquota, '')) \\",
        "                        FROM mailbox \\",
        "                        WHERE username = '$(local_part)@$(domain)' AND active = '1'"
        f"{_not_expired('mailbox.expiredate')} \\",
        f"                        AND {_domain_active('mailbox')}",
        "",
        AUTHLIB_MARKER,
        "# authlib requires this section at the end of the file.",
    ]
    return "\n".join(lines) + "\n"


# --- main.cf ------------------------------------------------------------------------------------
def main_cf(dirs: InstallDirs | None = None) -> str:
    """The ``main.cf`` lines that use the generated maps and the managed hash tables."""
    maps = (dirs or install_dirs()).postfix
    tables = _postfix_dir()
    text = f"""# Generated by mailadmin: merge into {POSTFIX_MAIN_CF}.
virtual_mailbox_base = {_mail_base()}
virtual_mailbox_domains = mysql:{maps}/{DOMAINS_MAP}
virtual_mailbox_maps = mysql:{maps}/{MAILBOX_MAP}
virtual_alias_maps = mysql:{maps}/{ALIAS_MAP}
smtpd_sender_login_maps = mysql:{maps}/{SENDER_MAP}, mysql:{maps}/{ALIAS_MAP}
# Only with the VDA quota patch (MAILADMIN_QUOTA_TYPE=vda):
#virtual_mailbox_limit_maps = mysql:{maps}/{LIMIT_MAP}

# Internal-only recipients (EMOS recipe): addresses in local_recipient accept mail only
# from senders of the domains in local_sender.
smtpd_restriction_classes = local_only
local_only = check_sender_access hash:{tables}/local_sender, reject
smtpd_recipient_restrictions =
        permit_mynetworks,
        permit_sasl_authenticated,
        check_recipient_access hash:{tables}/local_recipient,
        reject_unauth_destination
# A sender address of ours only for the mailbox logged in as it (or an alias to it):
# outsiders get "not logged in", a logged-in user "not owned by user".
smtpd_sender_restrictions =
        permit_mynetworks,
        reject_sender_login_mismatch

# SMTP AUTH through Dovecot (auth-mailadmin.conf.ext opens the socket). Without it Postfix
# ignores reject_sender_login_mismatch and accepts any outsider using one of our addresses.
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {SASL_SOCKET}
# Once smtpd has a TLS certificate, offer AUTH only over TLS: smtpd_tls_auth_only = yes
"""
    if settings.MAILADMIN_TRANSPORT_MAP:
        text += (
            "\n# Per-domain transports from domain.transport:\n"
            f"transport_maps = hash:{tables}/transport\n"
        )
    return text


# --- all files ----------------------------------------------------------------------------------
def render_all(db: DatabaseParams, dirs: InstallDirs | None = None) -> dict[str, str]:
    """``{file name: content}`` of every generated file, for installation into ``dirs``
    (``install_plan``; they appear in main.cf and the Dovecot include)."""
    dirs = dirs or install_dirs()
    files = {name: postfix_map(name, db) for name in POSTFIX_MAPS}
    files[DOVECOT_SQL] = dovecot_sql(db)
    files[DOVECOT_AUTH] = dovecot_auth(dirs)
    files[AUTHMYSQLRC] = authmysqlrc(db)
    files[MAIN_CF] = main_cf(dirs)
    return files


def masked(db: DatabaseParams) -> DatabaseParams:
    """The same connection with the password hidden (for the page)."""
    return DatabaseParams(
        name=db.name,
        user=db.user,
        password=MASK if db.password else "",
        host=db.host,
        port=db.port,
        socket=db.socket,
    )


def write_files(files: dict[str, str], directory: Path) -> list[Path]:
    """Write each file atomically with mode 0640 (it may carry the database password)."""
    from mailstack.tables import write_atomic

    directory.mkdir(parents=True, exist_ok=True)
    return [write_atomic(directory / name, text, mode=0o640) for name, text in files.items()]
