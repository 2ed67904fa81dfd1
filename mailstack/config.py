"""Configuration files for the mail stack, rendered from the panel's own database settings.

The Postfix ``mysql:`` maps keep ExtMan/EMOS's file names and answers, so an EMOS ``main.cf``
can point at them unchanged; they add what the classic files lack: every lookup checks
``active`` of the row and of its domain, and the alias map answers an existing mailbox with
its own address, so that a domain's catch-all never takes a mailbox's mail. The Dovecot and
Courier authlib snippets refuse inactive mailboxes and domains and honour the service flags.
"""

from __future__ import annotations

import re
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


# --- Postfix mysql: maps ------------------------------------------------------------------------
def _domain_active(table: str) -> str:
    return f"EXISTS (SELECT 1 FROM domain d WHERE d.domain = {table}.domain AND d.active = '1')"


POSTFIX_QUERIES: dict[str, tuple[str, str]] = {
    DOMAINS_MAP: (
        "virtual_mailbox_domains: an active domain",
        "SELECT domain FROM domain WHERE domain = '%s' AND active = '1'",
    ),
    MAILBOX_MAP: (
        "virtual_mailbox_maps: the Maildir of an active mailbox",
        "SELECT maildir FROM mailbox WHERE username = '%s' AND active = '1'\n"
        f"    AND {_domain_active('mailbox')}",
    ),
    ALIAS_MAP: (
        "virtual_alias_maps: the targets of an active alias; an active mailbox without one\n"
        "# answers itself, so that Postfix never falls back to the domain's catch-all for it",
        "SELECT goto FROM alias WHERE address = '%s' AND active = '1'\n"
        f"    AND {_domain_active('alias')}\n"
        "  UNION ALL\n"
        "  SELECT username FROM mailbox WHERE username = '%s' AND active = '1'\n"
        f"    AND {_domain_active('mailbox')}\n"
        "    AND NOT EXISTS (SELECT 1 FROM alias a WHERE a.address = '%s' AND a.active = '1')",
    ),
    LIMIT_MAP: (
        "virtual_mailbox_limit_maps (VDA quota patch): the quota of an active mailbox",
        "SELECT quota FROM mailbox WHERE username = '%s' AND active = '1'\n"
        f"    AND {_domain_active('mailbox')}",
    ),
    SENDER_MAP: (
        "smtpd_sender_login_maps: the login that may send as an active mailbox",
        "SELECT username FROM mailbox WHERE username = '%s' AND active = '1'\n"
        f"    AND {_domain_active('mailbox')}",
    ),
}


def postfix_map(name: str, db: DatabaseParams) -> str:
    description, query = POSTFIX_QUERIES[name]
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
  WHERE username = '%u' AND active = '1' \\
  AND {_domain_active("mailbox")} \\
  AND ('%s' <> 'imap' OR COALESCE(disableimap, 0) = 0) \\
  AND ('%s' <> 'pop3' OR COALESCE(disablepop3, 0) = 0) \\
  AND ('%s' NOT IN ('smtp', 'submission') OR COALESCE(disablesmtpd, 0) = 0)

user_query = SELECT CONCAT('{base}/', homedir) AS home, \\
  CONCAT('maildir:{base}/', maildir) AS mail, \\
  uidnumber AS uid, gidnumber AS gid, \\
  CONCAT('*:bytes=', {_quota_bytes_sql("quota")}) AS quota_rule \\
  FROM mailbox WHERE username = '%u' AND active = '1' \\
  AND {_domain_active("mailbox")}

iterate_query = SELECT username AS user FROM mailbox WHERE active = '1'
"""


def dovecot_auth(directory: str) -> str:
    return f"""# Generated by mailadmin: include from conf.d/10-auth.conf (not auth-sql.conf.ext).
passdb {{
  driver = sql
  args = {directory}/{DOVECOT_SQL}
}}
userdb {{
  driver = sql
  args = {directory}/{DOVECOT_SQL}
}}
"""


# --- Courier authlib ----------------------------------------------------------------------------
def authmysqlrc(db: DatabaseParams) -> str:
    base = _mail_base()
    lines = [
        "# Generated by mailadmin: Courier authlib (authmysql) on the extmail tables.",
        "# Inactive mailboxes and mailboxes of inactive domains are unknown; the service flags",
        "# travel as options (disableimap=1, disablepop3=1, disablewebmail=1...).",
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
        "                        quota, name, \\",
        "                        CONCAT('disablesmtpd=', COALESCE(disablesmtpd, 0), \\",
        "                        ',disablesmtp=', COALESCE(disablesmtp, 0), \\",
        "                        ',disablewebmail=', COALESCE(disablewebmail, 0), \\",
        "                        ',disablenetdisk=', COALESCE(disablenetdisk, 0), \\",
        "                        ',disableimap=', COALESCE(disableimap, 0), \\",
        "                        ',disablepop3=', COALESCE(disablepop3, 0), \\",
        "                        ',netdiskquota=', netdiskquota) \\",
        "                        FROM mailbox \\",
        "                        WHERE username = '$(local_part)@$(domain)' AND active = '1' \\",
        f"                        AND {_domain_active('mailbox')}",
    ]
    return "\n".join(lines) + "\n"


# --- main.cf ------------------------------------------------------------------------------------
def main_cf(directory: str | None = None) -> str:
    """The ``main.cf`` lines that use the generated maps and the managed hash tables."""
    maps = directory or _postfix_dir()
    tables = _postfix_dir()
    text = f"""# Generated by mailadmin: merge into /etc/postfix/main.cf.
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
# Refuse outsiders that claim one of our domains as sender (EMOS main.cf has these):
smtpd_sender_restrictions =
        permit_mynetworks,
        reject_sender_login_mismatch,
        reject_authenticated_sender_login_mismatch,
        reject_unauthenticated_sender_login_mismatch
"""
    if settings.MAILADMIN_TRANSPORT_MAP:
        text += (
            "\n# Per-domain transports from domain.transport:\n"
            f"transport_maps = hash:{tables}/transport\n"
        )
    return text


# --- all files ----------------------------------------------------------------------------------
def render_all(db: DatabaseParams, directory: str | None = None) -> dict[str, str]:
    """``{file name: content}`` of every generated file; ``directory`` is where they will be
    installed (it appears in main.cf and the Dovecot include)."""
    where = directory or _postfix_dir()
    files = {name: postfix_map(name, db) for name in POSTFIX_QUERIES}
    files[DOVECOT_SQL] = dovecot_sql(db)
    files[DOVECOT_AUTH] = dovecot_auth(where)
    files[AUTHMYSQLRC] = authmysqlrc(db)
    files[MAIN_CF] = main_cf(where)
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
