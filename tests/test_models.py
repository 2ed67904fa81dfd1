"""The models on the extmail tables: legacy conventions, scoping, natural keys."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection

from accounts.models import DomainManager, Manager
from aliases.models import Alias
from domains.models import Domain
from mailadmin.lib import schema
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

MODELS = {"domain": Domain, "mailbox": Mailbox, "alias": Alias, "manager": Manager}


@pytest.mark.parametrize("table", [*MODELS, "domain_manager"])
def test_models_map_exactly_the_legacy_columns(table):
    model = MODELS.get(table, DomainManager)
    columns = {f.column for f in model._meta.concrete_fields if f.column}
    assert columns == {c.name for c in schema.TABLES[table].columns}
    assert model._meta.db_table == table
    assert model._meta.managed is False


def test_never_is_stored_as_the_zero_date(make_domain):
    make_domain("zero.test")
    with connection.cursor() as cursor:
        cursor.execute("SELECT expiredate FROM domain WHERE domain = %s", ["zero.test"])
        (raw,) = cursor.fetchone()
    # MySQLdb reads a zero date as None, SQLite returns the stored text.
    assert raw in (None, schema.ZERO_DATE)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM domain WHERE domain = %s AND expiredate = %s",
            ["zero.test", schema.ZERO_DATE],
        )
        assert cursor.fetchone()[0] == 1
    assert Domain.objects.get(pk="zero.test").expiredate is None


def test_a_real_date_round_trips(make_domain):
    make_domain("dated.test", expiredate=datetime.date(2030, 12, 31))
    assert Domain.objects.get(pk="dated.test").expiredate == datetime.date(2030, 12, 31)


def test_filtering_on_never_matches_the_zero_date(make_domain):
    make_domain("never.test")
    make_domain("ends.test", expiredate=datetime.date(2030, 1, 1))
    assert list(Domain.objects.filter(expiredate=None).values_list("pk", flat=True)) == [
        "never.test"
    ]
    assert list(Domain.objects.filter(expiredate__isnull=False).values_list("pk", flat=True)) == [
        "ends.test"
    ]


def test_createdate_is_local_time_to_the_second(make_domain):
    domain = make_domain("created.test")
    stored = Domain.objects.get(pk="created.test").createdate
    assert stored == domain.createdate
    assert stored.tzinfo is None and stored.microsecond == 0


def test_service_flags_read_null_as_enabled_and_write_only_changes(make_domain):
    domain = make_domain("flags.test", disableimap=1)
    assert domain.enable_smtpd is True and domain.disablesmtpd is None
    assert domain.enable_imap is False
    domain.enable_smtpd = True
    assert domain.disablesmtpd is None  # unchanged meaning keeps the legacy NULL
    domain.enable_pop3 = False
    domain.enable_imap = True
    assert (domain.disablepop3, domain.disableimap) == (1, 0)
    assert domain.enabled_services == ["smtpd", "smtp", "webmail", "netdisk", "imap"]


def test_domain_template_expiry_is_capped_by_the_domain(make_domain):
    domain = make_domain("life.test", default_expire="1y", expiredate=datetime.date(2027, 1, 1))
    assert domain.default_mailbox_expiry(datetime.date(2026, 6, 1)) == datetime.date(2027, 1, 1)
    domain.expiredate = None
    assert domain.default_mailbox_expiry(datetime.date(2026, 6, 1)) == datetime.date(2027, 6, 1)
    domain.default_expire = ""
    assert domain.default_mailbox_expiry(datetime.date(2026, 6, 1)) is None


def test_superadmin_sees_everything(personas, make_mailbox):
    root = personas["superadmin"]
    assert set(Domain.objects.visible_to(root).values_list("pk", flat=True)) == {"a.test", "b.test"}
    assert Mailbox.objects.visible_to(root).count() == 1
    assert Manager.objects.visible_to(root).count() == 3


def test_domain_admin_sees_only_their_domains(personas, make_mailbox):
    make_mailbox("other@b.test")
    Alias.objects.create(address="list@b.test", goto="other@b.test", domain_id="b.test")
    admin_a = personas["admin_a"]
    assert list(Domain.objects.visible_to(admin_a).values_list("pk", flat=True)) == ["a.test"]
    assert list(Mailbox.objects.visible_to(admin_a).values_list("pk", flat=True)) == ["user@a.test"]
    assert not Alias.objects.visible_to(admin_a).exists()
    assert list(Manager.objects.visible_to(admin_a)) == [admin_a]


def test_an_inactive_assignment_gives_no_access(personas):
    DomainManager.objects.filter(manager=personas["admin_a"]).update(active=False)
    assert not Domain.objects.visible_to(personas["admin_a"]).exists()


def test_anonymous_sees_nothing(personas):
    from django.contrib.auth.models import AnonymousUser

    for queryset in (Domain.objects, Mailbox.objects, Alias.objects, Manager.objects):
        assert not queryset.visible_to(AnonymousUser()).exists()
        assert not queryset.visible_to(None).exists()


def test_duplicate_legacy_assignment_rows_are_harmless(personas):
    admin_a = personas["admin_a"]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO domain_manager (username, domain, createdate, active)"
            " VALUES (%s, %s, %s, 1)",
            [admin_a.pk, "a.test", schema.ZERO_DATETIME],
        )
    assert list(Domain.objects.visible_to(admin_a).values_list("pk", flat=True)) == ["a.test"]
    assert admin_a.domain_names() == ["a.test"]


def test_manager_role_comes_from_the_type_column(personas):
    assert personas["superadmin"].is_superadmin
    assert not personas["admin_a"].is_superadmin
    legacy = Manager(username="odd@a.test", type="domainadmin")
    assert not legacy.is_superadmin


def test_expired_or_inactive_managers_are_not_active(personas):
    manager = personas["admin_a"]
    assert manager.is_active
    manager.expiredate = datetime.date(2013, 3, 1)
    assert not manager.is_active
    manager.expiredate = None
    manager.active = False
    assert not manager.is_active


def test_manager_passwords_use_the_mail_stack_format(personas):
    manager = personas["admin_a"]
    assert manager.password.startswith("$1$")
    assert manager.check_password("Correct-Horse-9")
    assert not manager.check_password("wrong")
