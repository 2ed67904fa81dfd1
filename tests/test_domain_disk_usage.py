"""The domain page's disk usage card reads one row of sums per domain
(``mailadmin_domain_disk_usage``), kept by the measuring runs, the recompute, and domain rename
and delete; never an aggregate over the domain's mailboxes per page view (docs/disk-usage.md)."""

from __future__ import annotations

import importlib
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from diskusage import services
from domains import services as domain_services
from domains.models import DomainDiskUsage
from domains.usage import count_disk_usage, disk_usage_refresh
from mailboxes.models import Mailbox, MailboxDiskUsage
from provisioning.models import Job
from tests.test_disk_usage import maildir_of, make_maildir

MB = 1_048_576


def sums(name: str) -> dict | None:
    return (
        DomainDiskUsage.objects.filter(pk=name)
        .values("measured", "used_bytes", "messages", "over_90")
        .first()
    )


def card(client, name: str) -> str:
    page = client.get(f"/domains/{name}/")
    assert page.status_code == 200
    body = page.content.decode()
    start = body.index('data-testid="domain-disk-usage"')
    return body[start : body.index("</dl>", start)]


def summing_queries(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "SUM(" in q["sql"] and "mailadmin_mailbox_disk_usage" in q["sql"]
    ]


@pytest.fixture
def site(personas, make_mailbox, settings):
    """a.test: user@a.test (2 MB of 10), full@a.test (9.5 MB of 10), empty@a.test without a
    Maildir, and a legacy row x@c.test filed under a.test (not the domain's own); b.test:
    one mailbox of 3 MB."""
    user = Mailbox.objects.get(pk="user@a.test")
    user.quota = "10485760S"
    user.save()
    make_maildir(maildir_of(settings, user), sizes=(2 * MB,))
    full = make_mailbox("full@a.test", quota="10485760S")
    make_maildir(maildir_of(settings, full), sizes=(9 * MB, MB // 2))
    make_mailbox("empty@a.test", quota="10485760S")
    stray = make_mailbox("x@c.test", homedir="a.test/x")
    Mailbox.objects.filter(pk=stray.pk).update(domain_id="a.test")
    make_maildir(maildir_of(settings, stray), sizes=(7 * MB,))
    other = make_mailbox("other@b.test", quota="10485760S")
    make_maildir(maildir_of(settings, other), sizes=(3 * MB,))
    return personas


A_TEST = {"measured": 2, "used_bytes": 2 * MB + 9 * MB + MB // 2, "messages": 3, "over_90": 1}


def test_a_measuring_run_stores_one_sum_per_domain_and_the_card_shows_it(site, run_jobs, client_as):
    assert "never" in card(client_as("admin_a"), "a.test")
    services.usage_measure_all(actor=site["superadmin"])
    with CaptureQueriesContext(connection) as queries:
        assert set(run_jobs().values()) == {Job.State.DONE}
    # One sum per domain measured (a.test, b.test), not one per mailbox.
    assert len(summing_queries(queries)) == 2
    assert MailboxDiskUsage.objects.get(pk="x@c.test").used_bytes == 7 * MB  # measured, but
    assert sums("a.test") == A_TEST
    assert sums("b.test") == {"measured": 1, "used_bytes": 3 * MB, "messages": 1, "over_90": 0}
    assert DomainDiskUsage.objects.get(pk="a.test").measured_at is not None
    # The same figures for every manager of the domain: its own mailboxes, not x@c.test.
    for persona in ("superadmin", "admin_a"):
        shown = card(client_as(persona), "a.test")
        assert f">{A_TEST['used_bytes'] // MB} MB<" in shown, persona
        assert "2 / 4" in shown, persona  # measured / the domain's mailboxes
        assert "usage=over90" in shown and ">1</a>" in shown, persona
        assert "never" not in shown, persona
    # The downloaded report counts the same mailboxes.
    report = client_as("superadmin").get("/usage/domain/a.test/report.csv")
    assert "x@c.test" not in b"".join(report.streaming_content).decode()


def test_measuring_one_mailbox_adds_its_change_to_its_domains_sums(
    site, settings, run_jobs, client_as
):
    # A domain never measured: its first mailbox measured creates the row.
    services.usage_measure_mailbox(mailbox=Mailbox.objects.get(pk="full@a.test"), actor="test")
    run_jobs()
    assert sums("a.test") == {
        "measured": 1,
        "used_bytes": 9 * MB + MB // 2,
        "messages": 2,
        "over_90": 1,
    }
    services.usage_measure_domain(domain=site["user_a"].domain, actor=site["admin_a"])
    run_jobs()
    box = maildir_of(settings, site["user_a"])
    for old in (box / "cur").iterdir():
        old.unlink()
    make_maildir(box, sizes=(5 * MB, MB))
    services.usage_measure_mailbox(mailbox=site["user_a"], actor=site["admin_a"])
    with CaptureQueriesContext(connection) as queries:
        run_jobs()
    assert summing_queries(queries) == []  # the domain is not summed again
    expected = {**A_TEST, "used_bytes": 6 * MB + 9 * MB + MB // 2, "messages": 4}
    assert sums("a.test") == expected
    assert count_disk_usage(["a.test"])["a.test"] == {
        **expected,
        "measured_at": DomainDiskUsage.objects.get(pk="a.test").measured_at,
    }
    assert f">{expected['used_bytes'] // MB} MB<" in card(client_as("admin_a"), "a.test")
    # Emptied below 90 %: no longer counted there.
    Mailbox.objects.filter(pk="full@a.test").update(quota="104857600S")
    services.usage_measure_mailbox(mailbox=Mailbox.objects.get(pk="full@a.test"), actor="test")
    run_jobs()
    assert sums("a.test")["over_90"] == 0


def test_the_sums_and_measurements_move_with_a_renamed_domain(site, run_jobs, client_as):
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    domain_services.domain_rename(domain="a.test", new_name="z.test", actor=site["superadmin"])
    # The rename gives every mailbox of the domain an address in it, x@c.test too: from now
    # on it is the domain's own, and its measurement counts.
    renamed = {**A_TEST, "measured": 3, "used_bytes": A_TEST["used_bytes"] + 7 * MB, "messages": 4}
    assert sums("a.test") is None and sums("z.test") == renamed
    assert MailboxDiskUsage.objects.get(pk="x@z.test").used_bytes == 7 * MB
    assert MailboxDiskUsage.objects.get(pk="full@z.test").domain == "z.test"
    assert not MailboxDiskUsage.objects.filter(domain="a.test").exists()
    shown = card(client_as("superadmin"), "z.test")
    assert f">{renamed['used_bytes'] // MB} MB<" in shown and "never" not in shown
    # The moved rows are the ones a recompute finds: nothing to correct.
    assert count_disk_usage(["z.test"])["z.test"]["used_bytes"] == renamed["used_bytes"]
    out = StringIO()
    call_command("recompute_usage", stdout=out)
    assert "disk usage rows corrected: 0" in out.getvalue()


def test_a_deleted_domain_leaves_no_figures_for_a_new_one_of_that_name(
    site, run_jobs, client_as, make_domain, make_mailbox
):
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    domain_services.domain_delete(
        domain="b.test", delete_all=True, confirm_domain="b.test", actor=site["superadmin"]
    )
    assert sums("b.test") is None
    assert not MailboxDiskUsage.objects.filter(domain="b.test").exists()
    make_domain("b.test")
    make_mailbox("other@b.test")
    shown = card(client_as("superadmin"), "b.test")
    assert "never" in shown and "0 / 1" in shown


def test_the_recompute_corrects_wrong_missing_and_orphaned_rows(site, run_jobs):
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    DomainDiskUsage.objects.filter(pk="a.test").update(used_bytes=1, measured=99, over_90=7)
    DomainDiskUsage.objects.filter(pk="b.test").delete()
    DomainDiskUsage.objects.create(domain_id="gone.test", measured=1, used_bytes=1)
    out = StringIO()
    call_command("recompute_usage", stdout=out)
    assert "disk usage rows corrected: 3" in out.getvalue()
    assert sums("a.test") == A_TEST
    assert sums("b.test")["used_bytes"] == 3 * MB
    assert sums("gone.test") is None


def _measured_rows(domain: str, count: int) -> None:
    now = timezone.now()
    Mailbox.objects.bulk_create(
        Mailbox(username=f"n{i}@{domain}", uid=f"n{i}", domain_id=domain) for i in range(count)
    )
    MailboxDiskUsage.objects.bulk_create(
        MailboxDiskUsage(
            mailbox_id=f"n{i}@{domain}",
            domain=domain,
            used_bytes=MB,
            messages=1,
            quota_bytes=10 * MB,
            percent=10,
            source=MailboxDiskUsage.Source.MAILDIRSIZE,
            measured_at=now,
        )
        for i in range(count)
    )
    disk_usage_refresh([domain])


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
@pytest.mark.parametrize("size", [3, 300])
def test_the_domain_page_reads_no_measurement_rows_and_a_fixed_number_of_queries(
    personas, client_as, django_assert_num_queries, persona, size
):
    _measured_rows("a.test", size)
    client = client_as(persona)
    client.get("/domains/a.test/")  # creates the usage row of a domain made behind our back
    # session, manager, domain with its usage row, admins, jobs, signup policy and pending
    # requests, the disk usage sums, the archives card's two
    with django_assert_num_queries(10) as captured:
        shown = card(client, "a.test")
    assert f"{size} / {size + 1}" in shown and f">{size} MB<" in shown
    assert not any("mailadmin_mailbox_disk_usage" in q["sql"] for q in captured.captured_queries)


def test_the_migration_fills_the_sums_from_the_stored_measurements(site, run_jobs):
    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    # A row of a mailbox deleted since, and one of a domain that is gone: not counted.
    MailboxDiskUsage.objects.create(
        mailbox_id="gone@a.test",
        domain="a.test",
        used_bytes=MB,
        source="maildirsize",
        measured_at=timezone.now(),
    )
    MailboxDiskUsage.objects.create(
        mailbox_id="x@nowhere.test",
        domain="nowhere.test",
        used_bytes=MB,
        source="maildirsize",
        measured_at=timezone.now(),
    )
    expected = {
        row["domain_id"]: {k: row[k] for k in ("measured", "used_bytes", "messages", "over_90")}
        for row in DomainDiskUsage.objects.values()
    }
    DomainDiskUsage.objects.all().delete()
    migration = importlib.import_module("domains.migrations.0005_domain_disk_usage")
    migration.fill_disk_usage(None, SimpleNamespace(connection=connection))
    assert {name: sums(name) for name in ("a.test", "b.test", "nowhere.test")} == {
        "a.test": expected["a.test"],
        "b.test": expected["b.test"],
        "nowhere.test": None,
    }
    assert expected["a.test"] == A_TEST
    assert DomainDiskUsage.objects.get(pk="a.test").measured_at is not None


def test_a_deleted_or_renamed_mailbox_leaves_its_domains_sums_right(site, run_jobs, client_as):
    from mailboxes import services as mailbox_services

    services.usage_measure_all(actor=site["superadmin"])
    run_jobs()
    mailbox_services.mailbox_rename(
        mailbox=Mailbox.objects.get(pk="user@a.test"), local_part="renamed", actor="test"
    )
    assert MailboxDiskUsage.objects.get(pk="renamed@a.test").used_bytes == 2 * MB
    assert sums("a.test") == A_TEST
    mailbox_services.mailbox_delete(mailbox=Mailbox.objects.get(pk="full@a.test"), actor="test")
    assert not MailboxDiskUsage.objects.filter(pk="full@a.test").exists()
    left = {"measured": 1, "used_bytes": 2 * MB, "messages": 1, "over_90": 0}
    assert sums("a.test") == left
    assert {k: count_disk_usage(["a.test"])["a.test"][k] for k in left} == left
    assert "1 / 3" in card(client_as("admin_a"), "a.test")
