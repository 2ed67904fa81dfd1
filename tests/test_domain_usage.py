"""The per-domain usage rows (mailadmin_domain_usage) stay right after every kind of change."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from aliases import services as alias_services
from aliases.models import Alias
from conftest import PASSWORD
from domains import services as domain_services
from domains.models import DomainUsage
from domains.usage import count_usage, recompute_all, usage_change
from mailboxes import bulk as mailbox_bulk
from mailboxes import services as mailbox_services
from mailboxes.models import Mailbox

MB = 1024 * 1024


def stored(name: str) -> dict[str, int] | None:
    row = DomainUsage.objects.filter(pk=name).values(
        "mailboxes", "aliases", "quota_bytes", "netdisk_bytes"
    )
    return row[0] if row else None


def assert_right(*names: str) -> None:
    """Each domain's row equals the figures counted from its rows."""
    live = count_usage(names)
    for name in names:
        expected = live.get(
            name, {"mailboxes": 0, "aliases": 0, "quota_bytes": 0, "netdisk_bytes": 0}
        )
        assert stored(name) == expected, name


@pytest.fixture
def root(personas):
    return personas["superadmin"]


@pytest.fixture
def dom(root):
    """A domain created through the services, so it has its usage row from the start."""
    domain_services.domain_create(name="u.test", values={}, actor=root)
    domain_services.domain_create(name="v.test", values={}, actor=root)
    return "u.test"


def make(root, local, domain="u.test", **fields):
    return mailbox_services.mailbox_create(
        domain=domain, local_part=local, password=PASSWORD, actor=root, **fields
    )


def test_a_new_domain_starts_with_an_empty_row(dom):
    assert stored("u.test") == {"mailboxes": 0, "aliases": 0, "quota_bytes": 0, "netdisk_bytes": 0}


def test_mailbox_create_update_and_delete_keep_the_row_right(root, dom):
    make(root, "one", quota=100, netdiskquota=20)
    make(root, "two", quota=50, forward_to=["x@elsewhere.example"], forward_keep_copy=True)
    assert stored("u.test") == {
        "mailboxes": 2,
        "aliases": 0,  # the forwarding alias of "two" is part of the mailbox
        "quota_bytes": 150 * MB,
        "netdisk_bytes": 20 * MB,
    }
    mailbox_services.mailbox_update(
        mailbox=Mailbox.objects.get(pk="one@u.test"), quota=10, actor=root
    )
    assert stored("u.test")["quota_bytes"] == 60 * MB
    mailbox_services.mailbox_delete(mailbox=Mailbox.objects.get(pk="two@u.test"), actor=root)
    assert stored("u.test") == {
        "mailboxes": 1,
        "aliases": 0,
        "quota_bytes": 10 * MB,
        "netdisk_bytes": 20 * MB,
    }
    assert_right("u.test")


def test_alias_create_and_delete_keep_the_row_right(root, dom):
    alias = alias_services.alias_create(
        actor=root, local_part="sales", domain="u.test", goto=["a@b.example"]
    )
    alias_services.alias_create(actor=root, local_part="@", domain="u.test", goto=["a@b.example"])
    assert stored("u.test")["aliases"] == 2
    alias_services.alias_delete(actor=root, alias=alias)
    assert stored("u.test")["aliases"] == 1
    assert_right("u.test")


def test_deleting_a_mailbox_counts_the_aliases_it_empties_in_other_domains(root, dom):
    make(root, "one")
    alias_services.alias_create(actor=root, local_part="only", domain="v.test", goto=["one@u.test"])
    alias_services.alias_create(
        actor=root, local_part="both", domain="v.test", goto=["one@u.test", "z@z.example"]
    )
    make(root, "fwd", domain="v.test", forward_to=["one@u.test"])  # a forwarding alias
    assert stored("v.test")["aliases"] == 2
    mailbox_services.mailbox_delete(mailbox=Mailbox.objects.get(pk="one@u.test"), actor=root)
    assert not Alias.objects.filter(pk__in=["only@v.test", "fwd@v.test"]).exists()
    assert stored("v.test")["aliases"] == 1
    assert_right("u.test", "v.test")


def test_rename_and_bulk_actions_keep_the_row_right(root, dom):
    for local in ("a1", "a2", "a3"):
        make(root, local, quota=10)
    mailbox_services.mailbox_rename(
        mailbox=Mailbox.objects.get(pk="a1@u.test"), local_part="b1", actor=root
    )
    assert_right("u.test")
    mailbox_bulk.mailbox_bulk(
        action="set_quota", addresses=["b1@u.test", "a2@u.test"], quota=30, actor=root
    )
    assert stored("u.test")["quota_bytes"] == 70 * MB
    mailbox_bulk.mailbox_bulk(action="delete", addresses=["b1@u.test", "a3@u.test"], actor=root)
    assert stored("u.test")["mailboxes"] == 1 and stored("u.test")["quota_bytes"] == 30 * MB
    assert_right("u.test")


def test_domain_rename_moves_the_row_and_delete_drops_it(root, dom):
    make(root, "one", quota=5)
    alias_services.alias_create(actor=root, local_part="x", domain="v.test", goto=["one@u.test"])
    domain_services.domain_rename(domain="u.test", new_name="w.test", actor=root)
    assert stored("u.test") is None
    assert stored("w.test") == {
        "mailboxes": 1,
        "aliases": 0,
        "quota_bytes": 5 * MB,
        "netdisk_bytes": 0,
    }
    domain_services.domain_delete(
        domain="w.test", delete_all=True, confirm_domain="w.test", actor=root
    )
    assert stored("w.test") is None
    # x@v.test pointed only into the deleted domain: it went, and v.test's row knows it.
    assert stored("v.test")["aliases"] == 0
    assert_right("v.test")


def test_a_change_in_a_domain_without_a_row_creates_it_from_the_rows(root, personas, make_mailbox):
    make_mailbox("legacy@a.test", quota=f"{7 * MB}S")  # written behind the panel's back
    assert stored("a.test") is None
    make(root, "new", domain="a.test", quota=3)
    # counted from the rows, which include the new mailbox and the legacy ones
    assert stored("a.test")["mailboxes"] == Mailbox.objects.filter(domain_id="a.test").count()
    assert_right("a.test")


def test_usage_change_without_a_delta_writes_nothing(dom, django_assert_num_queries):
    with django_assert_num_queries(0):
        usage_change("u.test")


# --- recompute --------------------------------------------------------------------------------
def test_recompute_fixes_a_drifted_row_and_reports_it(root, dom, make_mailbox):
    recompute_all()  # the rows of the personas' domains, made behind the panel's back
    make(root, "one", quota=10)
    make_mailbox("behind@u.test", quota=f"{5 * MB}S,100C")  # as ExtMan would write it
    Alias.objects.create(address="l@u.test", goto="one@u.test", domain_id="u.test")
    DomainUsage.objects.filter(pk="v.test").update(mailboxes=42)
    assert stored("u.test")["mailboxes"] == 1
    assert recompute_all() == 2
    assert stored("u.test") == {
        "mailboxes": 2,
        "aliases": 1,
        "quota_bytes": 15 * MB,
        "netdisk_bytes": 0,
    }
    assert stored("v.test")["mailboxes"] == 0
    assert recompute_all() == 0  # nothing left to correct


def test_recompute_creates_missing_rows_and_drops_rows_of_deleted_domains(personas, make_mailbox):
    DomainUsage.objects.create(domain_id="gone.test", mailboxes=3)
    make_mailbox("m@b.test", quota="1000")
    assert recompute_all() == 3  # a.test and b.test created, gone.test dropped
    assert stored("gone.test") is None
    assert stored("b.test") == {
        "mailboxes": 1,
        "aliases": 0,
        "quota_bytes": 1000,
        "netdisk_bytes": 0,
    }
    assert_right("a.test", "b.test")


def test_the_recompute_command_reports_what_it_changed(personas):
    out = StringIO()
    call_command("recompute_usage", stdout=out)
    assert "usage rows corrected: 2" in out.getvalue()
    assert_right("a.test", "b.test")


def test_the_periodic_task_recomputes(personas):
    from domains.tasks import recompute_usage

    assert recompute_usage.apply().get() == 2
    assert recompute_usage.apply().get() == 0


# --- reads ------------------------------------------------------------------------------------
def test_pages_create_missing_rows_from_the_rows(client_as, make_mailbox):
    make_mailbox("m1@a.test", quota=f"{10 * MB}S")
    make_mailbox("m2@a.test", quota=str(20 * MB))
    Alias.objects.create(address="l@a.test", goto="m1@a.test", domain_id="a.test")
    response = client_as("superadmin").get("/")
    assert response.context["counts"]["mailboxes"] == 3  # with user@a.test of the personas
    assert response.context["counts"]["aliases"] == 1
    row = {d.pk: d for d in response.context["listing"].objects}["a.test"]
    assert (row.used_users, row.used_aliases, row.used_quota) == (3, 1, 30 * MB)
    assert_right("a.test", "b.test")


def test_pages_read_the_row_not_the_mailboxes(client_as, personas):
    """A drifted row shows as stored until the recompute corrects it."""
    recompute_all()
    DomainUsage.objects.filter(pk="a.test").update(mailboxes=99)
    client = client_as("superadmin")
    listing = client.get("/domains/").context["listing"]
    assert {d.pk: d.used_users for d in listing.objects}["a.test"] == 99
    assert client.get("/mailboxes/?domain=a.test").context["domain"].used_users == 99
    recompute_all()
    listing = client.get("/domains/").context["listing"]
    assert {d.pk: d.used_users for d in listing.objects}["a.test"] == 1


def test_the_limit_checks_count_only_the_figures_they_need(root, dom):
    from domains.selectors import domain_usage

    make(root, "a", quota=10, netdiskquota=3)
    alias_services.alias_create(actor=root, domain="u.test", local_part="x", goto=["a@u.test"])
    assert domain_usage("u.test") == domain_usage(
        "u.test", ("users", "aliases", "quota", "netdisk")
    )
    full = domain_usage("u.test")
    assert (full.users, full.aliases, full.quota, full.netdisk) == (1, 1, 10 * MB, 3 * MB)
    only_users = domain_usage("u.test", ("users",))
    assert (only_users.users, only_users.aliases, only_users.quota) == (1, 0, 0)
    assert domain_usage("u.test", ("aliases",)).aliases == 1
