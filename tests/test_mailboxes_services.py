"""Mailbox services: the rules of SPEC §3.4, enforced whatever the form sends."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aliases.models import Alias
from audit.models import AuditEntry
from conftest import PASSWORD
from domains.models import Domain
from domains.selectors import domain_usage
from mailadmin.lib import dates
from mailadmin.lib.passwords import verify_password
from mailboxes import bulk, credentials, forwarding, services
from mailboxes.models import Mailbox
from provisioning.models import Job

MB = 1024 * 1024


@pytest.fixture
def actors(personas):
    return personas


def create(actor, **fields):
    fields.setdefault("domain", "a.test")
    fields.setdefault("local_part", "alice")
    fields.setdefault("password", PASSWORD)
    return services.mailbox_create(actor=actor, **fields)


def counts():
    return (
        Mailbox.objects.count(),
        Alias.objects.count(),
        Job.objects.count(),
        AuditEntry.objects.count(),
    )


def assert_refused(field, call, *args, **kwargs):
    before = counts()
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    assert field in info.value.message_dict, info.value.message_dict
    assert counts() == before
    return info.value.message_dict[field]


# --- create ------------------------------------------------------------------------------------
def test_create_stores_the_row_paths_hash_and_makes_the_maildir(actors, run_jobs, settings):
    mailbox = create(actors["admin_a"], local_part=" Alice ", name=" Alice A ", quota=100)
    stored = Mailbox.objects.get(pk="alice@a.test")
    assert (stored.uid, stored.domain_id, stored.name) == ("alice", "a.test", "Alice A")
    assert (stored.homedir, stored.maildir) == ("a.test/alice", "a.test/alice/Maildir/")
    assert stored.quota == f"{100 * MB}S"
    assert stored.password.startswith("$1$") and verify_password(PASSWORD, stored.password)
    assert stored.clearpwd == ""
    assert (stored.uidnumber, stored.gidnumber, stored.mailhost) == (1000, 1000, "")
    job = Job.objects.get(object_id=mailbox.username)
    assert job.kind == Job.Kind.MAILDIR_CREATE and job.domain == "a.test"
    # The job's effect: the Maildir on disk, with the quota, owned by the mailbox's uid/gid.
    assert run_jobs() == {job.pk: Job.State.DONE}
    box = settings.MAILADMIN_MAIL_BASE / "a.test/alice/Maildir"
    assert (box / "maildirsize").read_text() == f"{100 * MB}S\n"
    assert (box.stat().st_uid, box.stat().st_gid) == (1000, 1000)
    entry = AuditEntry.objects.get(action="mailbox.create")
    assert entry.object_id == "alice@a.test" and entry.domain == "a.test"
    assert entry.changes["password"] == ["", "(changed)"]


def test_create_takes_quota_services_and_expiry_from_the_domain_template(actors, make_domain):
    make_domain(
        "tpl.test",
        default_quota="52428800S,1000C",
        default_netdiskquota="10485760",
        default_expire="1y",
        disablepop3=1,
    )
    mailbox = create(actors["superadmin"], domain="tpl.test")
    assert mailbox.quota == "52428800S,1000C"  # the template's count part kept
    assert mailbox.netdiskquota == "10485760S"  # in the configured form, not the template's
    assert mailbox.expiredate == dates.add_lifetime(dates.today(), "1y")
    assert mailbox.enable_pop3 is False and mailbox.enable_imap is True


@pytest.mark.parametrize(("quota_type", "stored"), [("courier", "5242880S"), ("vda", "5242880")])
def test_a_new_mailbox_gets_the_configured_quota_form_whatever_the_template_holds(
    actors, make_domain, settings, quota_type, stored
):
    """ExtMan stores default_quota without the S; copied as it is, a courier mailbox got a
    quota maildrop cannot parse, and no limit at all. Every way in writes the configured form."""
    settings.MAILADMIN_QUOTA_TYPE = quota_type
    make_domain("bare.test", default_quota="5242880", default_netdiskquota="5242880S")
    created = create(actors["superadmin"], domain="bare.test")
    assert (created.quota, created.netdiskquota) == (stored, stored)
    assert Job.objects.get(object_id=created.username).payload["quota"] == stored
    sized = create(actors["superadmin"], domain="bare.test", local_part="sized", quota=5)
    assert sized.quota == stored
    imported = bulk.mailbox_import(
        domain="bare.test",
        rows=[{"local_part": "csv", "name": "", "password": PASSWORD, "quota": ""}],
        actor=actors["superadmin"],
    )
    assert (imported[0].quota, imported[0].netdiskquota) == (stored, stored)


def test_template_expiry_is_capped_by_the_domain_expiry(actors, make_domain):
    end = dates.today() + datetime.timedelta(days=10)
    make_domain("short.test", default_expire="1y", expiredate=end)
    assert create(actors["superadmin"], domain="short.test").expiredate == end


def test_isp_mode_puts_the_mailbox_under_random_hash_directories(actors, make_domain, settings):
    settings.MAILADMIN_ISP_MODE = True
    settings.MAILADMIN_ISP_HASH = "2x2"
    make_domain("isp.test", hashdirpath="A0/B1")
    mailbox = create(actors["superadmin"], domain="isp.test", local_part="bob")
    assert re.fullmatch(r"A0/B1/isp\.test/[0-9A-F]{2}/[0-9A-F]{2}/bob", mailbox.homedir)
    assert mailbox.maildir == mailbox.homedir + "/Maildir/"


def test_address_used_by_an_alias_is_refused_and_nothing_is_written(actors):
    Alias.objects.create(address="alice@a.test", goto="x@b.test", domain_id="a.test")
    messages = assert_refused("local_part", create, actors["admin_a"])
    assert "alias" in messages[0]


def test_address_used_by_a_mailbox_is_refused(actors):
    assert_refused("local_part", create, actors["admin_a"], local_part="user")


@pytest.mark.parametrize("local", ["../x", "a..b", ".a", "a.", "", "a" * 65, "al ice", "ä"])
def test_bad_local_parts_are_refused(actors, local):
    assert_refused("local_part", create, actors["admin_a"], local_part=local)


def test_weak_or_missing_password_is_refused(actors):
    assert_refused("password1", create, actors["admin_a"], password="12345678")
    assert_refused("password1", create, actors["admin_a"], password="")


def test_domain_admin_cannot_create_in_another_domain(actors):
    with pytest.raises(PermissionDenied):
        create(actors["admin_b"])
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()


def test_maxusers_is_enforced_under_the_domain_lock(actors, monkeypatch):
    Domain.objects.filter(pk="a.test").update(maxusers=2)
    locked = []
    real_lock = services.lock_domain
    monkeypatch.setattr(
        services, "lock_domain", lambda name: locked.append(name) or real_lock(name)
    )
    create(actors["admin_a"], local_part="second")
    assert locked == ["a.test"]
    assert_refused("local_part", create, actors["admin_a"], local_part="third")


def test_total_quota_limit_is_enforced(actors):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{300 * MB}S")
    Mailbox.objects.filter(pk="user@a.test").update(quota=f"{100 * MB}S")
    message = assert_refused("quota", create, actors["admin_a"], quota=201)
    assert "200 MB still free" in message[0]
    assert create(actors["admin_a"], quota=200).quota_bytes == 200 * MB


def test_unlimited_quota_is_refused_in_a_domain_with_a_total_quota(actors):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{300 * MB}S")
    assert_refused("quota", create, actors["admin_a"], quota=0)


def test_total_netdisk_limit_is_enforced(actors):
    Domain.objects.filter(pk="a.test").update(maxnetdiskquota=str(50 * MB))
    assert_refused("netdiskquota", create, actors["admin_a"], netdiskquota=51)
    assert create(actors["admin_a"], netdiskquota=50).netdisk_bytes == 50 * MB


def test_expiry_after_the_domain_expiry_is_refused(actors):
    end = dates.today() + datetime.timedelta(days=30)
    Domain.objects.filter(pk="a.test").update(expiredate=end)
    assert_refused(
        "expiredate", create, actors["admin_a"], expiredate=end + datetime.timedelta(days=1)
    )
    assert create(actors["admin_a"], expiredate=end).expiredate == end
    assert create(actors["admin_a"], local_part="never", expiredate=None).expiredate is None


def test_domain_admin_cannot_enable_a_service_the_domain_disables(actors):
    Domain.objects.filter(pk="a.test").update(disableimap=1)
    assert_refused("enable_imap", create, actors["admin_a"], services={"imap": True})
    assert create(actors["superadmin"], services={"imap": True}).enable_imap is True


def test_only_a_superadmin_chooses_uid_gid_and_storage_host(actors, settings):
    settings.MAILADMIN_STORAGE_HOSTS = ["store1"]
    settings.MAILADMIN_UID_RANGE = (1000, 2000)
    assert_refused("uidnumber", create, actors["admin_a"], uidnumber=1500)
    assert_refused("gidnumber", create, actors["admin_a"], gidnumber=1500)
    assert_refused("mailhost", create, actors["admin_a"], mailhost="store1")
    assert_refused("uidnumber", create, actors["superadmin"], uidnumber=2001)
    assert_refused("mailhost", create, actors["superadmin"], mailhost="elsewhere")
    mailbox = create(actors["superadmin"], uidnumber=1500, gidnumber=1600, mailhost="store1")
    assert (mailbox.uidnumber, mailbox.gidnumber, mailbox.mailhost) == (1500, 1600, "store1")
    assert Job.objects.get(object_id=mailbox.username).queue == "maildir.store1"


def test_recovery_answer_is_stored_hashed_and_never_logged(actors):
    mailbox = create(actors["admin_a"], question="Colour?", answer="  Deep Blue ")
    assert mailbox.answer.startswith("{CRYPT}$6$")
    assert verify_password("deep blue", mailbox.answer)
    assert "Deep Blue" not in json.dumps(list(AuditEntry.objects.values("changes", "message")))
    assert credentials.hash_recovery_answer("X ") != "x"


def test_oversize_quota_that_does_not_fit_the_legacy_column_is_refused(actors, settings):
    settings.MAILADMIN_QUOTA_MULTIPLIER = 10**12
    assert_refused("quota", create, actors["superadmin"], quota=99_999)


# --- forwarding --------------------------------------------------------------------------------
def test_forwarding_is_an_alias_on_the_mailbox_address(actors):
    mailbox = create(actors["admin_a"], forward_to=["X@Ext.Example", "x@ext.example"])
    assert Alias.objects.get(pk=mailbox.username).goto == "x@ext.example"
    services.mailbox_update(
        mailbox=mailbox,
        actor=actors["admin_a"],
        forward_to=["x@ext.example"],
        forward_keep_copy=True,
    )
    assert Alias.objects.get(pk=mailbox.username).goto == "x@ext.example,alice@a.test"
    assert forwarding.forwarding_of(mailbox) == (["x@ext.example"], True)
    assert domain_usage("a.test").aliases == 0  # not counted as an alias
    services.mailbox_update(mailbox=mailbox, actor=actors["admin_a"], forward_to=[])
    assert not Alias.objects.filter(pk=mailbox.username).exists()


def test_forwarding_to_itself_or_to_a_bad_address_is_refused(actors):
    mailbox = create(actors["admin_a"])
    before = Mailbox.objects.filter(pk=mailbox.pk).values().get()
    assert_refused(
        "forward_to",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        forward_to=["alice@a.test"],
    )
    assert_refused(
        "forward_to",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        name="changed",
        forward_to=["not an address"],
    )
    assert Mailbox.objects.filter(pk=mailbox.pk).values().get() == before


def test_disabling_a_mailbox_disables_its_forwarding(actors):
    mailbox = create(actors["admin_a"], forward_to=["x@ext.example"])
    services.mailbox_update(mailbox=mailbox, actor=actors["admin_a"], active=False)
    assert Alias.objects.get(pk=mailbox.username).active is False


# --- update ------------------------------------------------------------------------------------
def test_quota_increase_is_checked_and_reaches_the_maildirsize_file(actors, run_jobs, settings):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{300 * MB}S")
    mailbox = create(actors["admin_a"], quota=100)
    run_jobs()
    sizefile = settings.MAILADMIN_MAIL_BASE / "a.test/alice/Maildir/maildirsize"
    sizefile.write_text(f"{100 * MB}S\n2048 2\n")  # what maildrop appends on deliveries
    assert_refused(
        "quota", services.mailbox_update, mailbox=mailbox, actor=actors["admin_a"], quota=301
    )
    services.mailbox_update(mailbox=mailbox, actor=actors["admin_a"], quota=300)
    job = Job.objects.get(kind=Job.Kind.MAILDIR_QUOTA)
    assert run_jobs() == {job.pk: Job.State.DONE}
    assert sizefile.read_text() == f"{300 * MB}S\n2048 2\n"


def test_quota_decrease_is_allowed_in_an_over_allocated_domain(actors):
    mailbox = create(actors["admin_a"], quota=500)
    Domain.objects.filter(pk="a.test").update(maxquota=f"{100 * MB}S")
    services.mailbox_update(mailbox=mailbox, actor=actors["admin_a"], quota=400)
    assert Mailbox.objects.get(pk=mailbox.pk).quota_bytes == 400 * MB


def test_update_expiry_past_the_domain_is_refused(actors):
    end = dates.today() + datetime.timedelta(days=5)
    mailbox = create(actors["admin_a"])
    Domain.objects.filter(pk="a.test").update(expiredate=end)
    assert_refused(
        "expiredate",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        expiredate=end + datetime.timedelta(days=1),
    )


def test_domain_admin_cannot_grant_a_disabled_service_or_change_ids_on_update(actors):
    mailbox = create(actors["admin_a"], services={"imap": False})
    Domain.objects.filter(pk="a.test").update(disableimap=1)
    assert_refused(
        "enable_imap",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        services={"imap": True},
    )
    assert_refused(
        "uidnumber",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        uidnumber=1234,
    )
    assert_refused(
        "mailhost",
        services.mailbox_update,
        mailbox=mailbox,
        actor=actors["admin_a"],
        mailhost="x",
    )


def test_update_without_changes_writes_nothing(actors, django_assert_num_queries):
    mailbox = create(actors["admin_a"])
    before = counts()
    services.mailbox_update(mailbox=mailbox, actor=actors["admin_a"], name="", quota=0)
    assert counts() == before


def test_update_password_and_answer_are_hashed(actors):
    mailbox = create(actors["admin_a"])
    services.mailbox_update(
        mailbox=mailbox, actor=actors["admin_a"], password="An0ther-Secret", answer="Cat"
    )
    stored = Mailbox.objects.get(pk=mailbox.pk)
    assert verify_password("An0ther-Secret", stored.password)
    assert verify_password("cat", stored.answer)
    entry = AuditEntry.objects.filter(action="mailbox.update").get()
    assert entry.changes["password"] == ["", "(changed)"]
    assert entry.changes["answer"] == ["", "(changed)"]


# --- rename ------------------------------------------------------------------------------------
def test_rename_moves_row_paths_forwarding_and_alias_targets(actors, run_jobs, settings):
    mailbox = create(actors["admin_a"], forward_to=["x@ext.example"], forward_keep_copy=True)
    Alias.objects.create(address="team@a.test", goto="alice@a.test,user@a.test", domain_id="a.test")
    Alias.objects.create(address="far@b.test", goto="alice@a.test", domain_id="b.test")
    Alias.objects.create(address="other@a.test", goto="xalice@a.test", domain_id="a.test")
    renamed = services.mailbox_rename(mailbox=mailbox, local_part="Bob", actor=actors["admin_a"])
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()
    stored = Mailbox.objects.get(pk="bob@a.test")
    assert (stored.uid, stored.homedir, stored.maildir) == (
        "bob",
        "a.test/bob",
        "a.test/bob/Maildir/",
    )
    assert stored.password == mailbox.password and stored.createdate == mailbox.createdate
    assert renamed.username == "bob@a.test"
    assert not Alias.objects.filter(pk="alice@a.test").exists()
    assert Alias.objects.get(pk="bob@a.test").goto == "x@ext.example,bob@a.test"
    assert Alias.objects.get(pk="team@a.test").goto == "bob@a.test,user@a.test"
    assert Alias.objects.get(pk="far@b.test").goto == "bob@a.test"
    assert Alias.objects.get(pk="other@a.test").goto == "xalice@a.test"
    job = Job.objects.get(kind=Job.Kind.MAILDIR_MOVE)
    assert job.object_id == "bob@a.test"
    assert set(run_jobs().values()) == {Job.State.DONE}
    base = settings.MAILADMIN_MAIL_BASE
    assert (base / "a.test/bob/Maildir/cur").is_dir() and not (base / "a.test/alice").exists()


def test_rename_replaces_only_the_last_local_part_segment_of_isp_paths(actors):
    Domain.objects.filter(pk="a.test").update(hashdirpath="user")
    Mailbox.objects.filter(pk="user@a.test").update(
        homedir="user/a.test/3F/9C/user", maildir="user/a.test/3F/9C/user/Maildir/"
    )
    mailbox = Mailbox.objects.get(pk="user@a.test")
    renamed = services.mailbox_rename(mailbox=mailbox, local_part="usr", actor=actors["superadmin"])
    assert renamed.homedir == "user/a.test/3F/9C/usr"
    assert renamed.maildir == "user/a.test/3F/9C/usr/Maildir/"


def test_rename_to_an_address_in_use_is_refused(actors):
    mailbox = create(actors["admin_a"])
    Alias.objects.create(address="taken@a.test", goto="user@a.test", domain_id="a.test")
    assert_refused(
        "local_part",
        services.mailbox_rename,
        mailbox=mailbox,
        local_part="taken",
        actor=actors["admin_a"],
    )
    assert_refused(
        "local_part",
        services.mailbox_rename,
        mailbox=mailbox,
        local_part="user",
        actor=actors["admin_a"],
    )
    assert_refused(
        "local_part",
        services.mailbox_rename,
        mailbox=mailbox,
        local_part="../evil",
        actor=actors["admin_a"],
    )


# --- delete ------------------------------------------------------------------------------------
def test_delete_cleans_alias_targets_and_reports_them(actors, run_jobs, settings):
    mailbox = create(actors["admin_a"], forward_to=["x@ext.example"])
    Alias.objects.create(address="team@a.test", goto="alice@a.test,user@a.test", domain_id="a.test")
    Alias.objects.create(address="solo@a.test", goto="alice@a.test", domain_id="a.test")
    result = services.mailbox_delete(mailbox=mailbox, actor=actors["admin_a"])
    assert (result.changed_aliases, result.deleted_aliases) == (["team@a.test"], ["solo@a.test"])
    assert not Mailbox.objects.filter(pk="alice@a.test").exists()
    assert not Alias.objects.filter(pk__in=["alice@a.test", "solo@a.test"]).exists()
    assert Alias.objects.get(pk="team@a.test").goto == "user@a.test"
    job = Job.objects.get(kind=Job.Kind.MAILDIR_ARCHIVE)
    assert job.object_id == "alice@a.test"
    assert set(run_jobs().values()) == {Job.State.DONE}
    base = settings.MAILADMIN_MAIL_BASE
    assert not (base / "a.test/alice").exists()
    assert [p.name[:6] for p in (base / ".archive/a.test").iterdir()] == ["alice."]


def test_purge_is_refused_unless_the_settings_allow_it(actors, settings):
    mailbox = create(actors["admin_a"])
    settings.MAILADMIN_PURGE_ALLOWED = False
    assert_refused(
        "purge", services.mailbox_delete, mailbox=mailbox, actor=actors["admin_a"], purge=True
    )
    settings.MAILADMIN_PURGE_ALLOWED = True
    services.mailbox_delete(mailbox=mailbox, actor=actors["admin_a"], purge=True)
    assert Job.objects.filter(kind=Job.Kind.MAILDIR_PURGE, object_id="alice@a.test").exists()


# --- bulk --------------------------------------------------------------------------------------
def test_bulk_reset_returns_each_password_once_and_stores_only_hashes(actors):
    create(actors["admin_a"])
    result = bulk.mailbox_bulk(
        action="reset_password", addresses=["alice@a.test", "user@a.test"], actor=actors["admin_a"]
    )
    assert set(result.passwords) == {"alice@a.test", "user@a.test"}
    assert len(set(result.passwords.values())) == 2
    logged = json.dumps(list(AuditEntry.objects.values("changes", "message")))
    for address, password in result.passwords.items():
        assert len(password) >= 16
        stored = Mailbox.objects.get(pk=address).password
        assert password not in stored and verify_password(password, stored)
        assert password not in logged


def test_bulk_disable_and_enable(actors):
    create(actors["admin_a"])
    bulk.mailbox_bulk(action="disable", addresses=["alice@a.test"], actor=actors["admin_a"])
    assert Mailbox.objects.get(pk="alice@a.test").active is False
    assert Mailbox.objects.get(pk="user@a.test").active is True
    bulk.mailbox_bulk(action="enable", addresses=["alice@a.test"], actor=actors["admin_a"])
    assert Mailbox.objects.get(pk="alice@a.test").active is True


def test_bulk_set_quota_is_all_or_nothing_under_the_limit(actors):
    Domain.objects.filter(pk="a.test").update(maxquota=f"{300 * MB}S")
    Mailbox.objects.filter(pk="user@a.test").update(quota=f"{100 * MB}S")
    create(actors["admin_a"], quota=100)
    before = sorted(Mailbox.objects.values_list("quota", flat=True))
    with pytest.raises(ValidationError) as info:
        bulk.mailbox_bulk(
            action="set_quota",
            addresses=["alice@a.test", "user@a.test"],
            quota=200,
            actor=actors["admin_a"],
        )
    assert "quota" in info.value.message_dict
    assert sorted(Mailbox.objects.values_list("quota", flat=True)) == before
    bulk.mailbox_bulk(
        action="set_quota",
        addresses=["alice@a.test", "user@a.test"],
        quota=150,
        actor=actors["admin_a"],
    )
    assert set(Mailbox.objects.values_list("quota", flat=True)) == {f"{150 * MB}S"}


def test_bulk_with_an_invisible_address_changes_nothing(actors, make_mailbox):
    make_mailbox("someone@b.test")
    with pytest.raises(Mailbox.DoesNotExist):
        bulk.mailbox_bulk(
            action="disable", addresses=["user@a.test", "someone@b.test"], actor=actors["admin_a"]
        )
    assert Mailbox.objects.filter(active=False).count() == 0


def test_bulk_delete_reports_aliases_and_queues_archives(actors):
    create(actors["admin_a"])
    Alias.objects.create(address="team@a.test", goto="alice@a.test,user@a.test", domain_id="a.test")
    result = bulk.mailbox_bulk(
        action="delete", addresses=["alice@a.test", "user@a.test"], actor=actors["admin_a"]
    )
    assert result.deleted_aliases == ["team@a.test"] and result.changed_aliases == []
    assert Mailbox.objects.filter(domain_id="a.test").count() == 0
    assert Job.objects.filter(kind=Job.Kind.MAILDIR_ARCHIVE).count() == 2


# --- concurrency (MariaDB: real row locks) -----------------------------------------------------
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_cannot_exceed_maxusers():
    import threading

    from django.db import connections

    from accounts.models import Manager

    # The legacy tables are unmanaged, so a transactional test cleans up after itself.
    Domain.objects.create(domain="race.test", maxusers=1)
    actor = Manager(username="race-root@panel.test", type="admin")
    actor.set_password(PASSWORD)
    actor.save()
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def attempt(local: str) -> None:
        try:
            barrier.wait()
            create(actor, domain="race.test", local_part=local)
            outcomes.append("created")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    try:
        threads = [threading.Thread(target=attempt, args=(f"racer{n}",)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(outcomes) == ["created", "refused", "refused"]
        assert Mailbox.objects.filter(domain_id="race.test").count() == 1
    finally:
        Mailbox.objects.filter(domain_id="race.test").delete()
        Alias.objects.filter(domain_id="race.test").delete()
        Domain.objects.filter(pk="race.test").delete()
        Manager.objects.filter(pk=actor.pk).delete()
