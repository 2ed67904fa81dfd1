"""The reverse index of alias targets: kept right by every path that writes aliases, corrected
for rows written behind the panel's back, and what the cascades and the mailbox page read."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aliases import index
from aliases.models import Alias, AliasTarget
from aliases.services import alias_create, alias_delete, alias_update
from domains import services as domain_services
from mailboxes import forwarding as mailbox_forwarding
from mailboxes import services as mailbox_services
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db


def in_step() -> bool:
    """The index holds exactly what the alias table says (a full recompute changes nothing)."""
    return index.reindex_all() == 0


def test_every_write_path_keeps_the_index_right(personas, make_mailbox):
    root = personas["superadmin"]
    make_mailbox("two@a.test")
    team = alias_create(actor=root, local_part="team", domain="a.test", goto=["user@a.test"])
    assert in_step() and index.aliases_targeting("USER@a.test") == ["team@a.test"]
    alias_update(actor=root, alias=team, goto=["two@a.test", "x@b.test"], active=True)
    assert in_step() and index.aliases_targeting("user@a.test") == []
    assert index.aliases_targeting_domain("b.test") == ["team@a.test"]
    mailbox_services.mailbox_update(
        mailbox=Mailbox.objects.get(pk="user@a.test"), actor=root, forward_to=["far@b.test"]
    )
    assert in_step() and index.aliases_targeting("far@b.test") == ["user@a.test"]
    mailbox_services.mailbox_rename(
        mailbox=Mailbox.objects.get(pk="two@a.test"), local_part="three", actor=root
    )
    assert in_step() and index.aliases_targeting("three@a.test") == ["team@a.test"]
    mailbox_services.mailbox_delete(mailbox=Mailbox.objects.get(pk="three@a.test"), actor=root)
    assert in_step() and index.aliases_targeting("three@a.test") == []
    domain_services.domain_rename(domain="b.test", new_name="c.test", actor=root)
    assert in_step() and index.aliases_targeting_domain("c.test") == ["team@a.test", "user@a.test"]
    alias_delete(actor=root, alias=Alias.objects.get(pk="team@a.test"))
    assert in_step()
    domain_services.domain_delete(
        domain="a.test", delete_all=True, confirm_domain="a.test", actor=root
    )
    assert in_step() and not AliasTarget.objects.filter(alias_domain="a.test").exists()


def test_a_domain_rename_follows_targets_inside_and_outside_the_domain(personas, make_domain):
    root = personas["superadmin"]
    make_domain("old.test")
    Alias.objects.create(address="list@old.test", goto="a@old.test,@old.test", domain_id="old.test")
    Alias.objects.create(address="fw@b.test", goto="z@old.test", domain_id="b.test")
    domain_services.domain_rename(domain="old.test", new_name="new.test", actor=root)
    assert Alias.objects.get(pk="list@new.test").goto == "a@new.test,@new.test"
    assert Alias.objects.get(pk="fw@b.test").goto == "z@new.test"
    assert in_step()
    assert index.aliases_targeting_domain("new.test") == ["fw@b.test", "list@new.test"]


def test_rows_written_behind_the_panels_back_are_found_after_the_recompute(personas):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO alias (address, goto, domain, createdate, active)"
            " VALUES ('ext@a.test', 'user@a.test', 'a.test', '2020-01-01 00:00:00', 1)"
        )
    assert index.aliases_targeting("user@a.test") == []
    assert index.reindex_all() == 1
    assert index.aliases_targeting("user@a.test") == ["ext@a.test"]
    assert mailbox_forwarding.aliases_pointing_to("user@a.test") == ["ext@a.test"]


def test_a_stale_index_row_never_makes_a_cascade_touch_an_alias(personas):
    Alias.objects.create(address="keep@a.test", goto="other@b.test", domain_id="a.test")
    AliasTarget.objects.create(
        alias="keep@a.test", alias_domain="a.test", target="user@a.test", target_domain="a.test"
    )
    mailbox_services.mailbox_delete(
        mailbox=Mailbox.objects.get(pk="user@a.test"), actor=personas["superadmin"]
    )
    assert Alias.objects.get(pk="keep@a.test").goto == "other@b.test"
    assert mailbox_forwarding.aliases_pointing_to("user@a.test") == []


def test_the_lookups_never_scan_the_targets_of_every_alias(personas):
    Alias.objects.create(address="team@a.test", goto="user@a.test", domain_id="a.test")
    with CaptureQueriesContext(connection) as queries:
        assert mailbox_forwarding.aliases_pointing_to("user@a.test") == ["team@a.test"]
    assert not [q["sql"] for q in queries if "goto" in q["sql"] and "LIKE" in q["sql"]]


@pytest.mark.legacy
def test_migrate_filled_the_index_from_the_adopted_aliases():
    assert Alias.objects.exists()
    assert in_step()


@pytest.mark.parametrize("chunk", [2, 5000])
def test_the_recompute_walks_the_aliases_a_chunk_at_a_time(personas, monkeypatch, chunk):
    from mailadmin.lib import derived

    monkeypatch.setattr(derived, "CHUNK", chunk)  # the walk crosses chunks, or not
    for i in range(5):
        Alias.objects.create(
            address=f"l{i}@a.test", goto=f"user@a.test,x{i}@b.test", domain_id="a.test"
        )
    with connection.cursor() as cursor:  # behind the panel's back: changed, added, deleted
        cursor.execute("UPDATE alias SET goto = 'y@b.test' WHERE address = 'l1@a.test'")
        cursor.execute(
            "INSERT INTO alias (address, goto, domain, createdate, active)"
            " VALUES ('l9@a.test', 'user@a.test', 'a.test', '2020-01-01 00:00:00', 1)"
        )
        cursor.execute("DELETE FROM alias WHERE address = 'l3@a.test'")
    assert index.reindex_all() == 3 + 1 + 2  # l1: two rows out, one in; l9: one in; l3: two out
    assert in_step()
    assert index.aliases_targeting("user@a.test") == [
        "l0@a.test",
        "l2@a.test",
        "l4@a.test",
        "l9@a.test",
    ]
    assert index.aliases_targeting("y@b.test") == ["l1@a.test"]
