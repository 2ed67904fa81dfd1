"""The panel on a MariaDB loaded from tests/fixtures/extman-legacy.sql (and the hostile rows of
extman-hostile.sql on top of it) and adopted by migrate.

These run in their own pass of scripts/test.sh (marker ``legacy``). The legacy tables are
MyISAM, so nothing here may change their data: the test transaction cannot roll it back.
"""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test import Client

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from domains.models import Domain
from mailadmin.lib import passwords
from mailboxes.auth import authenticate_mailbox
from mailboxes.models import Mailbox
from tests.test_adoption import dump_data

pytestmark = [pytest.mark.legacy, pytest.mark.django_db]

#: The domains of extman-legacy.sql (extman-hostile.sql adds others).
LEGACY_DOMAINS = ("extmail.org", "example.net", "old.example")
MANAGERS = [
    ("root@extmail.org", "extmail*123*", True),
    ("pm@example.net", "pm-example-1", True),
    ("multi@extmail.org", "multi-pw-1", True),
    ("gone@example.net", "gone-pw-1", False),  # active = 0
    ("late@example.net", "late-pw-1", False),  # expired 2013-03-01
]
MAILBOXES = [
    ("postmaster@extmail.org", "extmail", True),
    ("alice@example.net", "Alice-pass-1", True),
    ("bob@example.net", "bob-secret", True),
    ("carol@example.net", "carol-pw", False),  # active = 0
    ("dave@example.net", "dave-pw", False),  # expired 2011-05-01
    ("erin@example.net", "erinpass", True),
    ("frank@example.net", "frank-pw", True),
    ("gina@example.net", "gina-plain", True),
    ("zed@old.example", "zed-pw", False),  # domain inactive and expired
]


@pytest.mark.parametrize(("username", "password", "allowed"), MANAGERS)
def test_fixture_managers_log_in_or_are_refused_as_documented(username, password, allowed):
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    assert (response.status_code == 302) is allowed
    # The stored hash verifies either way: refusals come from active/expiredate.
    assert passwords.verify_password(password, Manager.objects.get(pk=username).password)


@pytest.mark.parametrize(("address", "password", "allowed"), MAILBOXES)
def test_fixture_mailboxes_log_in_or_are_refused_as_documented(address, password, allowed):
    assert (authenticate_mailbox(address, password) is not None) is allowed
    assert passwords.verify_password(password, Mailbox.objects.get(pk=address).password)
    # (DES crypt reads only 8 characters, so the wrong password differs in the first one.)
    assert authenticate_mailbox(address, "x" + password) is None


def test_a_domain_admin_listed_twice_sees_the_domain_once():
    client = Client()
    client.post("/login/", {"username": "pm@example.net", "password": "pm-example-1"})
    assert Manager.objects.get(pk="pm@example.net").domain_names() == ["example.net"]
    assert client.get("/").content.decode().count("example.net</span>") == 1


def test_assignments_to_deleted_domains_are_ignored():
    multi = Manager.objects.get(pk="multi@extmail.org")
    assert DomainManager.objects.filter(manager=multi).count() == 3
    assert multi.domain_names() == ["extmail.org", "old.example"]


def test_every_row_reads_without_error():
    # extman-legacy.sql + extman-hostile.sql
    assert Domain.objects.count() == 3 + 6
    assert Mailbox.objects.count() == 9 + 17
    assert Alias.objects.count() == 4 + 7
    assert Manager.objects.count() == 5 + 4
    assert DomainManager.objects.count() == 7 + 6
    for domain in Domain.objects.all():
        assert domain.max_quota_bytes >= 0 and domain.default_quota_bytes >= 0
        expiry = domain.default_mailbox_expiry()  # "forever" is an unreadable lifetime
        assert expiry is None or domain.expiredate is None or expiry <= domain.expiredate
    for mailbox in Mailbox.objects.all():
        assert mailbox.quota_bytes >= 0 and mailbox.netdisk_bytes >= 0
        assert set(mailbox.enabled_services) <= {
            "smtpd",
            "smtp",
            "webmail",
            "netdisk",
            "imap",
            "pop3",
        }
    # The rows the pages flag (tests/fixtures/README.md), and only those.
    flagged = {m.pk: m.key_problems for m in Mailbox.objects.all() if m.key_problems}
    assert flagged == {
        "a/b@x.example": ["invalid address"],
        "nobody@": ["invalid address"],
        "user@odd_domain!.example": ["invalid address"],
        "Upper@shop.example": ["invalid address"],
        "with space@shop.example": ["invalid address"],
        "müller@shop.example": ["invalid address"],
        "mismatch@corp.example": ["domain mismatch"],
    }
    flagged = {a.pk: a.key_problems for a in Alias.objects.all() if a.key_problems}
    assert flagged == {
        "a@b@c": ["invalid address", "domain mismatch"],
        "@": ["invalid address"],
        "@odd_domain!.example": ["invalid address"],
        "x@corp.example": ["domain mismatch"],
    }
    assert [d.pk for d in Domain.objects.all() if d.key_problems] == [
        "",
        "odd_domain!.example",
        "Upper.Example",
    ]


def test_legacy_values_read_as_typed_values():
    dave = Mailbox.objects.get(pk="dave@example.net")
    assert dave.quota_bytes == 104857600 and dave.quota == "104857600S,2000C"
    assert dave.expiredate == datetime.date(2011, 5, 1) and dave.is_expired
    assert (dave.uidnumber, dave.gidnumber) == (1001, 1001)
    assert dave.enabled_services == ["smtp", "webmail"]
    assert dave.homedir == "A0/B0/example.net/3F/9C/dave"
    bob = Mailbox.objects.get(pk="bob@example.net")
    assert bob.quota_bytes == 104857600 and bob.password_change_disabled
    carol = Mailbox.objects.get(pk="carol@example.net")
    assert carol.disablepwdchange is None and carol.enable_imap and not carol.active
    postmaster = Mailbox.objects.get(pk="postmaster@extmail.org")
    assert postmaster.expiredate is None
    assert postmaster.createdate == datetime.datetime(2009, 6, 12, 10, 20, 30)
    extmail = Domain.objects.get(pk="extmail.org")
    assert extmail.max_quota_bytes == 1073741824 and extmail.default_expire == "1y"
    assert extmail.enable_imap is False and extmail.transport is None
    catchall = Alias.objects.get(pk="@example.net")
    assert catchall.is_catchall and catchall.targets == ["alice@example.net"]


def test_saving_every_row_without_edits_writes_it_back_unchanged():
    before = dump_data(connection.settings_dict["NAME"])
    for model in (Domain, Mailbox, Alias, Manager):
        for obj in model.objects.all():
            obj.save()
    after = dump_data(connection.settings_dict["NAME"])
    assert after == before


def test_the_legacy_zero_dates_are_still_zero_dates():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM mailbox WHERE expiredate = '0000-00-00'"
            " AND createdate <> '0000-00-00 00:00:00' AND domain IN %s",
            [LEGACY_DOMAINS],
        )
        assert cursor.fetchone()[0] == 6
    assert Mailbox.objects.filter(expiredate=None, domain_id__in=LEGACY_DOMAINS).count() == 6


def test_migrate_filled_the_usage_rows_from_the_legacy_rows():
    """Counted independently here: quotas parsed in Python from the legacy strings."""
    from domains.models import DomainUsage
    from mailadmin.lib.quota import quota_bytes

    rows = {row.pk: row for row in DomainUsage.objects.all()}
    assert set(rows) == set(Domain.objects.values_list("pk", flat=True))
    mailbox_addresses = set(Mailbox.objects.values_list("pk", flat=True))
    for name, row in rows.items():
        mailboxes = list(Mailbox.objects.filter(domain_id=name))
        aliases = Alias.objects.filter(domain_id=name).exclude(pk__in=mailbox_addresses)
        assert row.mailboxes == len(mailboxes), name
        assert row.aliases == aliases.count(), name
        assert row.quota_bytes == sum(quota_bytes(m.quota) for m in mailboxes), name
        assert row.netdisk_bytes == sum(quota_bytes(m.netdiskquota) for m in mailboxes), name
    assert rows["example.net"].mailboxes > 1 and rows["example.net"].aliases > 1


def test_changes_on_the_legacy_tables_keep_the_usage_rows_right():
    """Create and delete a mailbox and an alias through the services; the MyISAM rows end as
    they began (the test transaction cannot roll them back)."""
    from aliases import services as alias_services
    from domains.models import DomainUsage
    from domains.usage import count_usage, recompute_all
    from mailboxes import services as mailbox_services

    root = Manager.objects.get(pk="root@extmail.org")
    before = dump_data(connection.settings_dict["NAME"])

    def assert_right() -> None:
        row = DomainUsage.objects.filter(pk="example.net").values(
            "mailboxes", "aliases", "quota_bytes", "netdisk_bytes"
        )[0]
        assert row == count_usage(["example.net"])["example.net"]

    try:
        mailbox = mailbox_services.mailbox_create(
            domain="example.net", local_part="usage-check", password="Usage-check-1", actor=root
        )
        assert_right()
        mailbox_services.mailbox_update(mailbox=mailbox, quota=3, actor=root)
        assert_right()
        alias = alias_services.alias_create(
            actor=root, local_part="usage-alias", domain="example.net", goto=["alice@example.net"]
        )
        assert_right()
        alias_services.alias_delete(actor=root, alias=alias)
        mailbox_services.mailbox_delete(mailbox=Mailbox.objects.get(pk=mailbox.pk), actor=root)
        assert_right()
        assert recompute_all() == 0
    finally:
        Mailbox.objects.filter(pk="usage-check@example.net").delete()
        Alias.objects.filter(pk__in=["usage-check@example.net", "usage-alias@example.net"]).delete()
    assert dump_data(connection.settings_dict["NAME"]) == before


def test_a_legacy_manager_enrols_and_signs_in_with_a_code():
    """The authenticator tables sit beside the legacy MyISAM ``manager`` table, without a
    foreign key to it: an ExtMan manager enrols and signs in with a code like any other."""
    import time

    import pyotp

    from accounts import twofactor

    manager = Manager.objects.get(pk="pm@example.net")
    secret = twofactor.new_secret()
    assert twofactor.enrol(manager=manager, secret=secret, code=pyotp.TOTP(secret).now())
    client = Client()
    first = client.post("/login/", {"username": "pm@example.net", "password": "pm-example-1"})
    assert first["Location"] == "/login/code/"
    code = pyotp.TOTP(secret).at(time.time() + twofactor.STEP)
    assert client.post("/login/code/", {"code": code}).status_code == 302
    assert client.get("/").status_code == 200
