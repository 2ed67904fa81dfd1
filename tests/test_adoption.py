"""Adopting an existing ExtMan database: `migrate` changes no legacy data and no legacy column.

The fixture is loaded into its own MariaDB database with the real `mysql` client, dumped with
the real `mysqldump`, adopted by the real `manage.py migrate`, and dumped again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import MySQLdb
import pytest
from django.db import connection

from conftest import HOSTILE_SQL, load_legacy_fixture, mysql_client_args

pytestmark = pytest.mark.mariadb

ROOT = Path(__file__).resolve().parent.parent
LEGACY_TABLES = ["domain", "mailbox", "alias", "manager", "domain_manager"]
ADDITIVE_KEY_LINES = {
    "mailbox": [
        "KEY `mailadmin_mailbox_domain` (`domain`)",
        "KEY `mailadmin_mailbox_homedir` (`homedir`)",
        "KEY `mailadmin_mailbox_maildir` (`maildir`)",
        # The sort orders of a domain's list (keyset paging); MyISAM's 1000-byte key limit
        # takes prefixes of the two varchar columns.
        "KEY `mailadmin_mailbox_domain_name` (`domain`(166),`name`(166))",
        "KEY `mailadmin_mailbox_domain_expiry` (`domain`,`expiredate`)",
        "KEY `mailadmin_mailbox_domain_active` (`domain`,`active`)",
        # The expiry page (utf8: 1 + 3 + 765 bytes fit the key limit whole).
        "KEY `mailadmin_mailbox_active_expiry` (`active`,`expiredate`,`username`)",
        "KEY `mailadmin_mailbox_domain_active_expiry` (`domain`,`active`,`expiredate`)",
    ],
    "domain": [
        "KEY `mailadmin_domain_active_expiry` (`active`,`expiredate`,`domain`)",
        "KEY `mailadmin_domain_description` (`description`)",
    ],
    "alias": ["KEY `mailadmin_alias_domain` (`domain`)"],
    "domain_manager": ["KEY `mailadmin_dm_username_domain` (`username`(166),`domain`(166))"],
}
PANEL_TABLE = re.compile(r"^(mailadmin_|django_|auth_|axes_|captcha_)")


def raw_sql(sql: str, params: tuple = ()) -> list[tuple]:
    """Run SQL on its own server connection, outside the test's transaction (DDL commits)."""
    s = connection.settings_dict
    conn = MySQLdb.connect(
        host=s["HOST"] or "127.0.0.1",
        port=int(s["PORT"] or 3306),
        user=s["USER"],
        password=s["PASSWORD"],
        charset="utf8mb4",
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params or None)
            return list(cursor.fetchall())
    finally:
        conn.close()


@pytest.fixture
def legacy_database():
    name = f"test_mailadmin_adopt_{os.getpid()}"
    raw_sql(f"DROP DATABASE IF EXISTS `{name}`")
    raw_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8")
    load_legacy_fixture(connection.settings_dict, name)
    yield name
    raw_sql(f"DROP DATABASE IF EXISTS `{name}`")


def _url(name: str) -> str:
    s = connection.settings_dict
    return (
        f"mysql://{s['USER']}:{s['PASSWORD']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{name}"
    )


def manage(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": _url(name), "SECRET_KEY": "adoption-test"},
        capture_output=True,
        text=True,
        check=False,
    )


def dump_data(name: str) -> list[str]:
    """Every legacy row as an INSERT line, sorted (domain_manager has no key to order by)."""
    s = connection.settings_dict
    args, env = mysql_client_args(s)
    args = [
        "mysqldump",
        *args[1:],
        "--no-create-info",
        "--skip-extended-insert",
        "--skip-comments",
        "--skip-dump-date",
        "--compact",
        "--hex-blob",
        name,
        *LEGACY_TABLES,
    ]
    result = subprocess.run(args, env=env, capture_output=True, check=True)
    lines = result.stdout.decode("utf-8").splitlines()
    return sorted(line for line in lines if line.startswith("INSERT INTO"))


def show_create(name: str, table: str) -> list[str]:
    args, env = mysql_client_args(connection.settings_dict, name)
    result = subprocess.run(
        [*args, "--batch", "--raw", "--skip-column-names", "-e", f"SHOW CREATE TABLE `{table}`"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    ddl = result.stdout.split("\t", 1)[1]
    return [line.strip().rstrip(",") for line in ddl.splitlines()]


def tables(name: str) -> set[str]:
    rows = raw_sql(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,)
    )
    return {row[0] for row in rows}


def test_migrate_adopts_the_legacy_database_without_touching_its_data(legacy_database):
    name = legacy_database
    data_before = dump_data(name)
    ddl_before = {table: show_create(name, table) for table in LEGACY_TABLES}
    assert len(data_before) == 3 + 9 + 4 + 5 + 7  # every fixture row is there

    report = manage(name, "check_schema")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "engine myisam" in report.stdout and "ERROR" not in report.stdout

    result = manage(name, "migrate", "--no-input")
    assert result.returncode == 0, result.stderr
    assert dump_data(name) == data_before

    for table in LEGACY_TABLES:
        after = show_create(name, table)
        added = [line for line in after if line not in ddl_before[table]]
        assert added == ADDITIVE_KEY_LINES.get(table, []), table
        assert [line for line in ddl_before[table] if line not in after] == []

    new_tables = tables(name) - set(LEGACY_TABLES)
    assert new_tables and all(PANEL_TABLE.match(t) for t in new_tables), new_tables

    again = manage(name, "migrate", "--no-input")
    assert again.returncode == 0 and "No migrations to apply" in again.stdout
    assert dump_data(name) == data_before

    report = manage(name, "check_schema")
    assert report.returncode == 0 and "index" not in report.stdout


def test_migrate_adopts_the_hostile_rows_without_touching_them(legacy_database):
    """Odd keys, foreign homes, bare quotas, zero dates (tests/fixtures/extman-hostile.sql)."""
    name = legacy_database
    load_legacy_fixture(connection.settings_dict, name, HOSTILE_SQL)
    data_before = dump_data(name)
    assert len(data_before) == (3 + 9 + 4 + 5 + 7) + (6 + 17 + 7 + 4 + 6)

    result = manage(name, "migrate", "--no-input")
    assert result.returncode == 0, result.stderr
    assert dump_data(name) == data_before
    table = f"`{name}`.mailadmin_domain_usage"  # the test's own database
    usage = dict(raw_sql(f"SELECT domain, mailboxes FROM {table}"))  # noqa: S608
    assert usage[""] == 1 and usage["odd_domain!.example"] == 1 and usage["shop.example"] == 12


def test_check_schema_names_a_missing_column_and_fails(legacy_database):
    name = legacy_database
    raw_sql(f"ALTER TABLE `{name}`.`mailbox` DROP COLUMN `netdiskquota`")
    raw_sql(f"ALTER TABLE `{name}`.`domain` MODIFY `maxusers` varchar(10) NOT NULL DEFAULT '0'")
    report = manage(name, "check_schema")
    assert report.returncode == 1
    assert "mailbox: column netdiskquota is missing" in report.stdout
    assert "domain: column maxusers is varchar, expected int(10)" in report.stdout
