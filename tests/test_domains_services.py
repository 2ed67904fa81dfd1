"""Domain write paths: create, update, delete and rename (SPEC §3.3)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import DomainManager
from aliases.models import Alias
from audit.models import AuditEntry
from domains import services
from domains.models import Domain
from domains.services import domain_create, domain_delete, domain_rename, domain_update
from mailadmin.lib import maildir
from mailboxes.models import Mailbox
from provisioning.models import Job

pytestmark = pytest.mark.django_db

MB = 1_048_576


def rows(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


def everything() -> dict:
    """Every row of the tables a domain change may touch, for "nothing changed" checks."""
    return {
        "domains": rows(Domain),
        "mailboxes": rows(Mailbox),
        "aliases": rows(Alias),
        "managers": sorted(DomainManager.objects.values_list("manager_id", "domain_id", "active")),
        "jobs": Job.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


@pytest.fixture
def root(personas):
    return personas["superadmin"]


# --- create -----------------------------------------------------------------------------------


def test_a_superadmin_creates_a_domain_with_extman_defaults(root):
    domain = domain_create(name=" Example.COM. ", values={"maxquota": 100}, actor=root)
    stored = Domain.objects.get(pk="example.com")
    assert stored.description == "virtualDomain for example.com"
    assert stored.maxquota == f"{100 * MB}S"
    assert stored.hashdirpath == ""
    assert stored.active is True and stored.createdate is not None
    entry = AuditEntry.objects.get(action="domain.create")
    assert entry.object_id == domain.pk == "example.com" and entry.actor == "root@panel.test"
    assert entry.changes["domain"] == [None, "example.com"]


def test_an_internationalised_name_is_stored_as_punycode(root):
    domain_create(name="Bücher.test", values={}, actor=root)
    assert Domain.objects.filter(pk="xn--bcher-kva.test").exists()


def test_quota_type_vda_writes_bare_bytes(root, settings):
    settings.MAILADMIN_QUOTA_TYPE = "vda"
    domain_create(name="vda.test", values={"maxquota": 5, "default_quota": 1}, actor=root)
    stored = Domain.objects.get(pk="vda.test")
    assert (stored.maxquota, stored.default_quota) == (str(5 * MB), str(MB))


def test_an_existing_domain_cannot_be_created_again(root):
    before = everything()
    with pytest.raises(ValidationError) as exc:
        domain_create(name="A.TEST", values={"description": "dup"}, actor=root)
    assert "already exists" in str(exc.value.message_dict["domain"])
    assert everything() == before


@pytest.mark.parametrize(
    "name", ["../etc", "a..test", "single", "-bad.test", "x" * 250 + ".test", ""]
)
def test_an_invalid_name_is_refused(root, name):
    before = everything()
    with pytest.raises(ValidationError) as exc:
        domain_create(name=name, values={}, actor=root)
    assert "domain" in exc.value.message_dict
    assert everything() == before


def test_a_domain_admin_cannot_create_update_delete_or_rename(personas):
    admin = personas["admin_a"]
    before = everything()
    with pytest.raises(PermissionDenied):
        domain_create(name="new.test", values={}, actor=admin)
    with pytest.raises(PermissionDenied):
        domain_update(domain="a.test", values={"maxusers": 99}, actor=admin)
    with pytest.raises(PermissionDenied):
        domain_delete(domain="a.test", delete_all=True, confirm_domain="a.test", actor=admin)
    with pytest.raises(PermissionDenied):
        domain_rename(domain="a.test", new_name="c.test", actor=admin)
    assert everything() == before


def test_isp_mode_gives_a_random_upper_case_hex_prefix_of_the_configured_shape(root, settings):
    settings.MAILADMIN_ISP_MODE = True
    settings.MAILADMIN_ISP_HASH = "2x2"
    first = domain_create(name="isp1.test", values={}, actor=root).hashdirpath
    assert re.fullmatch(r"[0-9A-F]{2}/[0-9A-F]{2}", first)
    settings.MAILADMIN_ISP_HASH = "3x1"
    assert re.fullmatch(
        r"[0-9A-F]{3}", domain_create(name="isp2.test", values={}, actor=root).hashdirpath
    )
    settings.MAILADMIN_ISP_HASH = "1x3"
    assert re.fullmatch(r"[0-9A-F]/[0-9A-F]/[0-9A-F]", services.isp_hashdirpath())


def test_isp_prefixes_are_random(settings):
    settings.MAILADMIN_ISP_HASH = "2x2"
    assert len({services.isp_hashdirpath() for _ in range(50)}) > 10


def test_services_are_stored_inverted_in_the_disable_columns(root):
    values = {
        f"enable_{s}": s != "pop3" for s in ("smtpd", "smtp", "webmail", "netdisk", "imap", "pop3")
    }
    domain = domain_create(name="svc.test", values=values, actor=root)
    stored = Domain.objects.get(pk=domain.pk)
    assert stored.disablepop3 == 1
    assert stored.disableimap is None  # enabled and untouched: NULL as ExtMan leaves it
    assert stored.enable_imap and not stored.enable_pop3


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("smtp:[mail.example.com]:25", "smtp:[mail.example.com]:25"),
        ("lmtp:unix:private/dovecot-lmtp", None),
        (" relay: ", "relay:"),
        (":[10.0.0.1]", None),
        ("smtp:[2001:db8::1]", None),
        ("", None),
    ],
)
def test_a_postfix_transport_is_accepted(root, value, stored):
    domain_create(name="t.test", values={"transport": value}, actor=root)
    expected = stored if stored is not None else (value.strip() or None)
    assert Domain.objects.get(pk="t.test").transport == expected


@pytest.mark.parametrize(
    "value",
    [
        "smtp",
        "smtp:[a] b",
        "smtp:a,b",
        "smtp:a\nb",
        "smtp:a\tb",
        ":",
        "sm tp:x",
        "smtp:x\x00",
        "smtp:" + "a" * 260,
    ],
)
def test_a_transport_that_would_break_the_maps_is_refused(root, value):
    with pytest.raises(ValidationError) as exc:
        domain_create(name="t.test", values={"transport": value}, actor=root)
    assert "transport" in exc.value.message_dict
    assert not Domain.objects.filter(pk="t.test").exists()


@pytest.mark.parametrize(
    ("value", "stored"), [("1Y", "1y"), (" 30d ", "30d"), ("6w", "6w"), ("12m", "12m"), ("", None)]
)
def test_default_lifetimes_are_normalised(root, value, stored):
    domain_create(name="l.test", values={"default_expire": value}, actor=root)
    assert Domain.objects.get(pk="l.test").default_expire == stored


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("default_expire", "1x"),
        ("default_expire", "-1d"),
        ("default_expire", "99999d"),
        ("default_expire", "d"),
        ("maxusers", -1),
        ("maxalias", 2**31),
        ("maxquota", -5),
        ("maxquota", 10**12),
        ("maxnetdiskquota", None),
        ("default_quota", -1),
        ("description", "two\nlines"),
        ("description", "x" * 256),
        ("expiredate", "2024-02-30"),
    ],
)
def test_bad_values_are_refused_with_a_field_error(root, field, value):
    before = everything()
    with pytest.raises(ValidationError) as exc:
        domain_create(name="bad.test", values={field: value}, actor=root)
    assert field in exc.value.message_dict
    with pytest.raises(ValidationError):
        domain_update(domain="a.test", values={field: value}, actor=root)
    assert everything() == before


def test_a_default_quota_above_the_maximum_is_refused(root):
    with pytest.raises(ValidationError) as exc:
        domain_create(name="q.test", values={"maxquota": 100, "default_quota": 200}, actor=root)
    assert "default_quota" in exc.value.message_dict
    domain_create(name="q.test", values={"maxquota": 0, "default_quota": 200}, actor=root)


# --- update -----------------------------------------------------------------------------------


@pytest.fixture
def legacy_domain(make_domain):
    """A domain as ExtMan left it: odd quota strings, NULL flags, empty transport/lifetime."""
    return make_domain(
        "legacy.test",
        maxquota="104857601",
        maxnetdiskquota="0",
        default_quota="52428800S,1000C",
        default_netdiskquota=None,
        transport="",
        default_expire="",
        disablesmtpd=0,
        disablepop3=None,
    )


def test_saving_unchanged_values_keeps_every_legacy_value_and_audits_nothing(root, legacy_domain):
    from domains.forms import DomainEditForm

    values = DomainEditForm.initial_from(legacy_domain)
    before = everything()
    domain_update(domain="legacy.test", values=values, actor=root)
    assert everything() == before


def test_changing_a_quota_keeps_the_count_part_and_unchanged_fields(root, legacy_domain):
    domain_update(
        domain="legacy.test", values={"default_quota": 60, "description": "New"}, actor=root
    )
    stored = Domain.objects.get(pk="legacy.test")
    assert stored.default_quota == f"{60 * MB}S,1000C"
    assert stored.maxquota == "104857601" and stored.transport == "" and stored.disablepop3 is None
    entry = AuditEntry.objects.get(action="domain.update")
    assert entry.changes == {
        "default_quota": ["52428800S,1000C", f"{60 * MB}S,1000C"],
        "description": ["virtualDomain for legacy.test", "New"],
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [("maxusers", 1), ("maxalias", 1), ("maxquota", 250), ("maxnetdiskquota", 15)],
)
def test_a_maximum_below_the_current_usage_is_refused(root, personas, make_mailbox, field, value):
    make_mailbox("two@a.test", quota=f"{200 * MB}S", netdiskquota=f"{10 * MB}S")
    Mailbox.objects.filter(pk="user@a.test").update(quota=f"{100 * MB}S", netdiskquota=f"{10 * MB}")
    Alias.objects.create(address="x@a.test", goto="user@a.test", domain_id="a.test")
    Alias.objects.create(address="y@a.test", goto="user@a.test", domain_id="a.test")
    before = everything()
    with pytest.raises(ValidationError) as exc:
        domain_update(domain="a.test", values={field: value, "description": "changed"}, actor=root)
    assert "below the current usage" in str(exc.value.message_dict[field])
    assert everything() == before


def test_a_maximum_at_the_usage_or_unlimited_is_accepted(root, personas, make_mailbox):
    Mailbox.objects.filter(pk="user@a.test").update(quota=f"{100 * MB}S")
    Alias.objects.create(address="x@a.test", goto="user@a.test", domain_id="a.test")
    # The mailbox's own forwarding alias does not count as an alias.
    Alias.objects.create(address="user@a.test", goto="user@a.test,far@b.test", domain_id="a.test")
    domain_update(
        domain="a.test", values={"maxusers": 1, "maxalias": 1, "maxquota": 100}, actor=root
    )
    domain_update(domain="a.test", values={"maxusers": 0, "maxquota": 0}, actor=root)
    stored = Domain.objects.get(pk="a.test")
    assert (stored.maxusers, stored.maxalias, stored.maxquota) == (0, 1, "0S")


def test_limits_are_checked_after_the_domain_row_is_locked(root, personas, monkeypatch):
    """Concurrency: the usage is read only after ``lock_domain`` (SELECT ... FOR UPDATE on
    InnoDB), so a mailbox created concurrently (it locks the same row first) is counted."""
    calls = []
    real_lock, real_usage = services.lock_domain, services.domain_usage
    monkeypatch.setattr(
        services, "lock_domain", lambda name: calls.append("lock") or real_lock(name)
    )
    monkeypatch.setattr(
        services, "domain_usage", lambda name: calls.append("usage") or real_usage(name)
    )
    with CaptureQueriesContext(connection) as queries:
        domain_update(domain="a.test", values={"maxusers": 5}, actor=root)
    assert calls == ["lock", "usage"]
    if connection.vendor == "mysql":
        assert "FOR UPDATE" in queries.captured_queries[0]["sql"] or any(
            "FOR UPDATE" in q["sql"] for q in queries.captured_queries[:3]
        )


def test_the_service_template_changes_mailboxes_only_when_asked(root, personas, make_mailbox):
    make_mailbox("two@a.test", disableimap=None)
    domain_update(domain="a.test", values={"enable_imap": False}, actor=root)
    assert Domain.objects.get(pk="a.test").disableimap == 1
    assert set(Mailbox.objects.values_list("disableimap", flat=True)) == {None}
    assert not AuditEntry.objects.filter(action="domain.apply_template").exists()

    domain_update(domain="a.test", values={}, apply_template=True, actor=root)
    assert set(
        Mailbox.objects.filter(domain_id="a.test").values_list("disableimap", flat=True)
    ) == {1}
    assert set(
        Mailbox.objects.filter(domain_id="a.test").values_list("disablepop3", flat=True)
    ) == {0}
    entry = AuditEntry.objects.get(action="domain.apply_template")
    assert "2 mailboxes" in entry.note() and entry.domain == "a.test"


def test_the_template_is_applied_only_to_the_domain_itself(root, personas, make_mailbox):
    make_mailbox("b1@b.test", disableimap=None)
    domain_update(domain="a.test", values={"enable_imap": False}, apply_template=True, actor=root)
    assert Mailbox.objects.get(pk="b1@b.test").disableimap is None


def test_expiry_dates_are_set_and_cleared(root, personas):
    domain_update(domain="a.test", values={"expiredate": datetime.date(2031, 1, 2)}, actor=root)
    assert Domain.objects.get(pk="a.test").expiredate == datetime.date(2031, 1, 2)
    domain_update(domain="a.test", values={"expiredate": None}, actor=root)
    assert Domain.objects.get(pk="a.test").expiredate is None


def test_unknown_fields_are_a_programming_error(root, personas):
    with pytest.raises(ValueError):
        domain_update(domain="a.test", values={"hashdirpath": "X"}, actor=root)


# --- delete -----------------------------------------------------------------------------------


def test_an_empty_domain_is_deleted_with_its_admin_assignments(
    root, personas, make_domain, run_jobs
):
    make_domain("empty.test", hashdirpath="A0/B0")
    DomainManager.objects.create(manager=personas["admin_a"], domain_id="empty.test")
    domain_delete(domain="empty.test", actor=root)
    assert not Domain.objects.filter(pk="empty.test").exists()
    assert not DomainManager.objects.filter(domain_id="empty.test").exists()
    assert DomainManager.objects.filter(domain_id="a.test").exists()
    entry = AuditEntry.objects.get(action="domain.delete")
    assert entry.changes["domain"] == ["empty.test", None]
    job = Job.objects.get(kind=Job.Kind.DOMAIN_ARCHIVE)
    assert run_jobs("domain.") == {job.pk: Job.State.DONE}


def test_a_domain_with_mailboxes_or_aliases_is_not_deleted_without_confirmation(root, personas):
    Alias.objects.create(address="x@b.test", goto="user@a.test", domain_id="b.test")
    before = everything()
    for name in ("a.test", "b.test"):
        with pytest.raises(ValidationError) as exc:
            domain_delete(domain=name, actor=root)
        assert "delete_all" in exc.value.message_dict
        with pytest.raises(ValidationError) as exc:
            domain_delete(domain=name, delete_all=True, confirm_domain="wrong.test", actor=root)
        assert "confirm_domain" in exc.value.message_dict
    assert everything() == before


def test_deleting_with_everything_removes_rows_and_archives_the_data(
    root, personas, make_mailbox, run_jobs, settings
):
    make_mailbox("two@a.test")
    base = settings.MAILADMIN_MAIL_BASE
    for local in ("two", "user"):
        maildir.create_maildir(
            base, f"a.test/{local}", f"a.test/{local}/Maildir/", "0S", 1000, 1000
        )
    (base / "b.test/other/Maildir").mkdir(parents=True)
    Alias.objects.create(address="x@a.test", goto="two@a.test", domain_id="a.test")
    Alias.objects.create(address="@a.test", goto="user@a.test", domain_id="a.test")
    Alias.objects.create(address="keep@b.test", goto="user@a.test,x@b.test", domain_id="b.test")
    domain_delete(domain="a.test", delete_all=True, confirm_domain=" A.TEST ", actor=root)
    assert not Domain.objects.filter(pk="a.test").exists()
    assert not Mailbox.objects.filter(domain_id="a.test").exists()
    assert not Alias.objects.filter(domain_id="a.test").exists()
    assert not DomainManager.objects.filter(domain_id="a.test").exists()
    assert (
        Domain.objects.filter(pk="b.test").exists()
        and Alias.objects.filter(pk="keep@b.test").exists()
    )
    job = Job.objects.get(kind=Job.Kind.DOMAIN_ARCHIVE)
    assert job.domain == "a.test" and job.state == Job.State.PENDING
    assert run_jobs("domain.") == {job.pk: Job.State.DONE}
    archived = sorted(p.name.partition(".")[0] for p in (base / ".archive/a.test").iterdir())
    assert archived == ["two", "user"]
    assert not any((base / "a.test").iterdir())
    assert (base / "b.test/other/Maildir").is_dir()
    entry = AuditEntry.objects.get(action="domain.delete")
    assert "2 mailboxes, 2 aliases and 1 admin" in entry.note()
    assert Alias.objects.get(pk="keep@b.test").goto == "x@b.test"


def test_deleting_spreads_archive_jobs_over_storage_hosts(root, personas, make_mailbox):
    make_mailbox("far@a.test", mailhost="store2")
    domain_delete(domain="a.test", delete_all=True, confirm_domain="a.test", actor=root)
    jobs = {
        job.queue: [m["homedir"] for m in job.payload["mailboxes"]]
        for job in Job.objects.filter(kind=Job.Kind.DOMAIN_ARCHIVE)
    }
    assert jobs == {"maildir.default": ["a.test/user"], "maildir.store2": ["a.test/far"]}


# --- rename -----------------------------------------------------------------------------------


@pytest.fixture
def populated(personas, make_domain, make_mailbox):
    """example.net as a legacy ISP install has it, with references from another domain."""
    make_domain(
        "example.net",
        hashdirpath="A0/B0",
        maxusers=10,
        maxquota="524288000S",
        default_expire="1y",
        disablepop3=1,
        transport="smtp:[relay.test]",
    )
    make_mailbox("dave@example.net", quota="104857600S,2000C", uidnumber=1001)
    Mailbox.objects.filter(pk="dave@example.net").update(
        homedir="A0/B0/example.net/3F/9C/dave", maildir="A0/B0/example.net/3F/9C/dave/Maildir/"
    )
    make_mailbox("alice@example.net")
    # A user whose local part is the domain name: only the domain's segment moves.
    make_mailbox("example.net@example.net")
    Alias.objects.create(
        address="team@example.net",
        domain_id="example.net",
        goto="alice@example.net,dave@example.net,outside@partner.example",
    )
    Alias.objects.create(address="@example.net", domain_id="example.net", goto="alice@example.net")
    Alias.objects.create(
        address="alice@example.net", domain_id="example.net", goto="alice@example.net,me@b.test"
    )
    Alias.objects.create(
        address="fw@b.test",
        domain_id="b.test",
        goto="dave@example.net, x@sub.example.net,y@example.network,@example.net",
    )
    Alias.objects.create(address="other@b.test", domain_id="b.test", goto="user@a.test")
    DomainManager.objects.create(manager=personas["admin_a"], domain_id="example.net")
    return Domain.objects.get(pk="example.net")


def test_rename_moves_every_row_and_target_and_changes_nothing_else(
    root, populated, run_jobs, settings
):
    base = settings.MAILADMIN_MAIL_BASE
    for homedir, box in Mailbox.objects.filter(domain_id="example.net").values_list(
        "homedir", "maildir"
    ):
        maildir.create_maildir(base, homedir, box, "0S", 1000, 1000)
    untouched_before = {
        "mailboxes": list(Mailbox.objects.exclude(domain_id="example.net").order_by("pk").values()),
        "aliases": list(Alias.objects.filter(pk="other@b.test").values()),
        "domains": list(Domain.objects.exclude(pk="example.net").order_by("pk").values()),
    }
    mailboxes_before = {
        m["username"]: m for m in Mailbox.objects.filter(domain_id="example.net").values()
    }
    domain_before = Domain.objects.filter(pk="example.net").values().get()

    renamed = domain_rename(domain="example.net", new_name="Example.ORG", actor=root)

    assert renamed.pk == "example.org"
    assert not Domain.objects.filter(pk="example.net").exists()
    new = Domain.objects.filter(pk="example.org").values().get()
    assert {k: v for k, v in new.items() if k not in ("domain", "description")} == {
        k: v for k, v in domain_before.items() if k not in ("domain", "description")
    }
    stored = Domain.objects.get(pk="example.org")
    assert (stored.hashdirpath, stored.maxusers, stored.maxquota, stored.default_expire) == (
        "A0/B0",
        10,
        "524288000S",
        "1y",
    )
    assert (stored.disablepop3, stored.transport, stored.createdate) == (
        1,
        "smtp:[relay.test]",
        populated.createdate,
    )
    assert stored.description == "virtualDomain for example.org"

    dave = Mailbox.objects.get(pk="dave@example.org")
    assert dave.homedir == "A0/B0/example.org/3F/9C/dave"
    assert dave.maildir == "A0/B0/example.org/3F/9C/dave/Maildir/"
    assert dave.domain_id == "example.org" and dave.uid == "dave"
    same = Mailbox.objects.get(pk="example.net@example.org")
    assert (same.homedir, same.maildir) == (
        "example.org/example.net",
        "example.org/example.net/Maildir/",
    )
    # Apart from the address, domain and paths, every mailbox column is as it was.
    for old_name, before in mailboxes_before.items():
        after = (
            Mailbox.objects.filter(pk=old_name.replace("@example.net", "@example.org"))
            .values()
            .get()
        )
        changed = {k for k in before if before[k] != after[k]}
        assert changed <= {"username", "domain_id", "homedir", "maildir"}
    assert not Mailbox.objects.filter(username__endswith="@example.net").exists()

    assert Alias.objects.get(pk="team@example.org").goto == (
        "alice@example.org,dave@example.org,outside@partner.example"
    )
    assert Alias.objects.get(pk="@example.org").goto == "alice@example.org"
    assert Alias.objects.get(pk="alice@example.org").goto == "alice@example.org,me@b.test"
    assert Alias.objects.get(pk="fw@b.test").goto == (
        "dave@example.org, x@sub.example.net,y@example.network,@example.org"
    )
    assert set(Alias.objects.filter(domain_id="example.org").values_list("pk", flat=True)) == {
        "team@example.org",
        "@example.org",
        "alice@example.org",
    }
    assert DomainManager.objects.filter(domain_id="example.org", manager_id="admin@a.test").exists()
    assert not DomainManager.objects.filter(domain_id="example.net").exists()

    assert untouched_before == {
        "mailboxes": list(Mailbox.objects.exclude(domain_id="example.org").order_by("pk").values()),
        "aliases": list(Alias.objects.filter(pk="other@b.test").values()),
        "domains": list(Domain.objects.exclude(pk="example.org").order_by("pk").values()),
    }
    job = Job.objects.get(kind=Job.Kind.DOMAIN_MOVE)
    assert job.domain == "example.org" and job.state == Job.State.PENDING
    # Both directories of the domain move (the hashed one and a legacy unhashed one), and
    # every mailbox finds its Maildir at its new path.
    assert run_jobs("domain.") == {job.pk: Job.State.DONE}
    assert not (base / "example.net").exists() and not (base / "A0/B0/example.net").exists()
    for box in Mailbox.objects.filter(domain_id="example.org").values_list("maildir", flat=True):
        assert (base / box / "cur").is_dir(), box
    entry = AuditEntry.objects.get(action="domain.rename")
    assert entry.changes["domain"] == ["example.net", "example.org"]
    assert "3 mailboxes, 3 aliases, 4 alias target lists, 1 admin" in entry.note()


def test_a_domain_admin_keeps_seeing_the_renamed_domain(root, populated, personas):
    domain_rename(domain="example.net", new_name="example.org", actor=root)
    assert "example.org" in personas["admin_a"].domain_names()


def test_rename_in_large_batches_uses_few_queries(root, personas, make_domain, settings):
    make_domain("big.test")
    Mailbox.objects.bulk_create(
        Mailbox(
            username=f"u{i}@big.test",
            uid=f"u{i}",
            domain_id="big.test",
            homedir=f"big.test/u{i}",
            maildir=f"big.test/u{i}/Maildir/",
        )
        for i in range(1200)
    )
    with CaptureQueriesContext(connection) as queries:
        domain_rename(domain="big.test", new_name="large.test", actor=root)
    # 39, one UPDATE each of the name word index, its word pairs and the sort keys, the page
    # marks' DELETE, whether any mailbox was measured, the DELETE and UPDATE of the disk usage
    # sums' row
    assert len(queries.captured_queries) <= 46
    assert (
        Mailbox.objects.filter(domain_id="large.test", homedir__startswith="large.test/").count()
        == 1200
    )
    assert Mailbox.objects.get(pk="u1199@large.test").maildir == "large.test/u1199/Maildir/"


@pytest.mark.parametrize("new_name", ["b.test", "B.Test", "a.test", "not valid", "../x", ""])
def test_rename_to_an_existing_same_or_invalid_name_is_refused(root, personas, new_name):
    before = everything()
    with pytest.raises(ValidationError) as exc:
        domain_rename(domain="a.test", new_name=new_name, actor=root)
    assert "domain" in exc.value.message_dict
    assert everything() == before


def test_rename_is_refused_when_orphan_rows_already_use_the_new_name(root, personas):
    Alias.objects.create(address="ghost@c.test", goto="x@a.test", domain_id="gone.test")
    before = everything()
    with pytest.raises(ValidationError):
        domain_rename(domain="a.test", new_name="c.test", actor=root)
    assert everything() == before


def test_rename_keeps_a_custom_description(root, personas):
    Domain.objects.filter(pk="a.test").update(description="Sales")
    domain_rename(domain="a.test", new_name="c.test", actor=root)
    assert Domain.objects.get(pk="c.test").description == "Sales"


def test_deleting_a_domain_takes_its_targets_out_of_other_domains_aliases(
    root, personas, make_mailbox
):
    make_mailbox("keep@b.test")
    Alias.objects.create(
        address="mixed@b.test", goto="user@a.test,x@b.test,y@a.test.org", domain_id="b.test"
    )
    Alias.objects.create(address="only@b.test", goto="user@a.test,@a.test", domain_id="b.test")
    Alias.objects.create(
        address="keep@b.test", goto="user@a.test", domain_id="b.test"
    )  # forwarding
    Alias.objects.create(address="far@b.test", goto="u@xa.test", domain_id="b.test")
    result = domain_delete(domain="a.test", delete_all=True, confirm_domain="a.test", actor=root)
    assert result.changed_aliases == ["mixed@b.test"]
    assert result.deleted_aliases == ["keep@b.test", "only@b.test"]
    # a.test.org and xa.test are other domains
    assert Alias.objects.get(pk="mixed@b.test").goto == "x@b.test,y@a.test.org"
    assert Alias.objects.get(pk="far@b.test").goto == "u@xa.test"
    assert not Alias.objects.filter(pk__in=["only@b.test", "keep@b.test"]).exists()
    entries = {
        (e.action, e.object_id): e
        for e in AuditEntry.objects.filter(object_type="alias", domain="b.test")
    }
    assert set(entries) == {
        ("alias.update", "mixed@b.test"),
        ("alias.delete", "only@b.test"),
        ("alias.delete", "keep@b.test"),
    }
    assert "a.test" in entries[("alias.update", "mixed@b.test")].note()
    assert "mixed@b.test" in AuditEntry.objects.get(action="domain.delete").note()
