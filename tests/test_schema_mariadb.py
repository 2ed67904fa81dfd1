"""A fresh MariaDB after `migrate`: ExtMan's tables, and the mail stack's queries run on them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from mailadmin.lib import schema

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db]

# ExtMan's recommended Postfix mysql: maps, Courier authlib's select clause (EMOS) and a
# Dovecot setup on the extmail schema, verbatim; %s/%u/%d are filled in as the readers do.
POSTFIX_QUERIES = {
    "domains": "SELECT domain FROM domain WHERE domain='%s' AND active='1'",
    "mailboxes": "SELECT maildir FROM mailbox WHERE username='%s' AND active='1'",
    "aliases": "SELECT goto FROM alias WHERE address='%s' AND active='1'",
    "quota": "SELECT quota FROM mailbox WHERE username='%s' AND active='1'",
    "sender login": "SELECT username FROM mailbox WHERE username='%s' AND active='1'",
}
AUTHLIB_SELECT = (
    'SELECT username,password,"",uidnumber,gidnumber,'
    " CONCAT('/home/domains/',homedir), CONCAT('/home/domains/',maildir), quota, name"
    " FROM mailbox WHERE username = '$(local_part)@$(domain)'"
)
DOVECOT_PASSWORD = (
    "SELECT username, domain, password FROM mailbox WHERE username = '%u' AND domain = '%d'"
)
DOVECOT_USER = "SELECT maildir, 600 AS uid, 600 AS gid FROM mailbox WHERE username = '%u'"


def fetch(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return list(cursor.fetchall())


def test_fresh_tables_match_extmans_schema_exactly():
    assert schema.compare_schema(connection) == []


def test_fresh_tables_are_innodb_utf8mb4():
    for table in schema.TABLES:
        assert schema.table_storage(connection, table) == ("innodb", "utf8mb4")


def test_fresh_tables_have_the_additive_indexes():
    for index in schema.ADDITIVE_INDEXES:
        assert index.name in schema.index_names(connection, index.table)


def test_fresh_columns_have_extmans_types_and_defaults():
    rows = fetch(
        "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT"
        " FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME IN ('domain','mailbox','alias','manager','domain_manager')"
    )
    live = {(t, c): (ty, n, d) for t, c, ty, n, d in rows}
    assert live[("mailbox", "quota")] == ("varchar(16)", "NO", "'0'")
    assert live[("mailbox", "expiredate")] == ("date", "NO", "'0000-00-00'")
    assert live[("mailbox", "active")] == ("smallint(1)", "NO", "1")
    assert live[("mailbox", "disableimap")][:2] == ("smallint(1)", "YES")
    assert live[("domain", "transport")][:2] == ("varchar(255)", "YES")
    assert live[("manager", "type")] == ("varchar(64)", "NO", "'postmaster'")
    assert live[("alias", "goto")][:2] == ("text", "NO")
    expected = {(t.name, c.name) for t in schema.TABLES.values() for c in t.columns}
    assert set(live) == expected


def test_the_mail_stack_queries_run_unchanged(make_domain, make_mailbox):
    from aliases.models import Alias

    make_domain("live.test")
    make_domain("off.test", active=False)
    make_mailbox("alice@live.test", quota="104857600S", name="Alice")
    make_mailbox("gone@live.test", active=False)
    Alias.objects.create(
        address="team@live.test", goto="alice@live.test,x@else.test", domain_id="live.test"
    )

    def query(name: str, value: str) -> list[tuple]:
        return fetch(POSTFIX_QUERIES[name].replace("%s", value))

    assert query("domains", "live.test") == [("live.test",)]
    assert query("domains", "off.test") == []
    assert query("mailboxes", "alice@live.test") == [("live.test/alice/Maildir/",)]
    assert query("mailboxes", "gone@live.test") == []
    assert query("aliases", "team@live.test") == [("alice@live.test,x@else.test",)]
    assert query("quota", "alice@live.test") == [("104857600S",)]
    assert query("sender login", "alice@live.test") == [("alice@live.test",)]

    (row,) = fetch(
        AUTHLIB_SELECT.replace("$(local_part)", "alice").replace("$(domain)", "live.test")
    )
    assert row[0] == "alice@live.test" and row[1].startswith("$1$")
    assert row[3:] == (
        1000,
        1000,
        "/home/domains/live.test/alice",
        "/home/domains/live.test/alice/Maildir/",
        "104857600S",
        "Alice",
    )
    assert fetch(DOVECOT_PASSWORD.replace("%u", "alice@live.test").replace("%d", "live.test"))
    assert fetch(DOVECOT_USER.replace("%u", "alice@live.test")) == [
        ("live.test/alice/Maildir/", 600, 600)
    ]


def test_check_schema_is_clean_on_a_fresh_database(capsys):
    call_command("check_schema", "--strict")
    assert "match the expected schema" in capsys.readouterr().out
