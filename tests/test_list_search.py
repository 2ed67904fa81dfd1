"""Searches on the list pages: prefix on the indexed key by default, substring on request."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from aliases.models import Alias
from mailadmin.lib.listing import address_search_text
from mailboxes.models import Mailbox

IDN = "xn--bcher-kva.example"  # bücher.example


@pytest.fixture
def rows(personas, make_domain, make_mailbox):
    make_domain(IDN)
    make_domain("ab.test")
    make_mailbox("anna@a.test", name="Zoe Example")
    make_mailbox("hanna@a.test", name="Anna Other")
    make_mailbox("anna@ab.test")
    make_mailbox("leser@" + IDN)
    Alias.objects.create(address="sales@a.test", goto="anna@a.test", domain_id="a.test")
    Alias.objects.create(address="presales@b.test", goto="boss@x.example", domain_id="b.test")
    Alias.objects.create(address="info@" + IDN, goto="leser@" + IDN, domain_id=IDN)


def found(client, path: str) -> list[str]:
    return sorted(obj.pk for obj in client.get(path).context["listing"].objects)


def test_search_text_converts_unicode_domain_labels_to_ascii():
    assert address_search_text(" Bücher.Example ") == IDN
    assert address_search_text("leser@bücher.example") == "leser@" + IDN
    assert address_search_text("@bücher") == "@xn--bcher-kva"
    assert address_search_text("anna") == "anna"


def test_mailbox_search_matches_local_part_prefixes_by_default(client_as, rows):
    client = client_as("superadmin")
    # an address prefix, or a word of the display name (hanna@ is "Anna Other")
    assert found(client, "/mailboxes/?q=anna") == ["anna@a.test", "anna@ab.test", "hanna@a.test"]
    assert found(client, "/mailboxes/?q=ANNA@a.t") == ["anna@a.test"]
    assert found(client, "/mailboxes/?q=@ab") == ["anna@ab.test"]  # domains starting with ab
    assert found(client, "/mailboxes/?q=zoe") == ["anna@a.test"]  # "Zoe Example"
    assert found(client, "/mailboxes/?q=exam") == ["anna@a.test"]
    # a substring of an address (hanna) or inside a word needs match=contains
    assert found(client, "/mailboxes/?q=nna") == []
    assert found(client, "/mailboxes/?q=nna&match=contains") == [
        "anna@a.test",
        "anna@ab.test",
        "hanna@a.test",
    ]
    assert found(client, "/mailboxes/?q=oe ex&match=contains") == ["anna@a.test"]


def test_an_unknown_match_value_falls_back_to_prefix(client_as, rows):
    response = client_as("superadmin").get("/mailboxes/?q=anna&match=regex")
    assert response.context["listing"].match == "prefix"
    assert 'value="contains"' in response.content.decode()  # the choice is offered


def test_unicode_domain_names_find_the_stored_ascii_name(client_as, rows):
    client = client_as("superadmin")
    assert found(client, "/domains/?q=bücher.example") == [IDN]
    assert found(client, "/domains/?q=Bücher") == [IDN]
    assert found(client, "/?q=bücher.example") == [IDN]
    assert found(client, "/mailboxes/?q=leser@bücher.example") == ["leser@" + IDN]
    assert found(client, "/mailboxes/?q=@bücher.example") == ["leser@" + IDN]
    assert found(client, "/aliases/?q=info@bücher.example") == ["info@" + IDN]
    assert found(client, "/aliases/?q=bücher&match=contains") == ["info@" + IDN]


def test_alias_search_by_prefix_and_by_substring(client_as, rows):
    client = client_as("superadmin")
    assert found(client, "/aliases/?q=sales") == ["sales@a.test"]
    assert found(client, "/aliases/?q=sales&match=contains") == ["presales@b.test", "sales@a.test"]
    assert found(client, "/aliases/?q=boss@x&match=contains") == ["presales@b.test"]  # targets


def test_domain_search_by_prefix_and_by_substring(client_as, rows):
    client = client_as("superadmin")
    assert found(client, "/domains/?q=a") == ["a.test", "ab.test"]
    assert found(client, "/domains/?q=test&match=contains") == ["a.test", "ab.test", "b.test"]
    assert found(client, "/domains/?q=test") == []


def test_search_stays_inside_the_admins_domains(client_as, rows):
    client = client_as("admin_b")
    assert found(client, "/mailboxes/?q=anna") == []
    assert found(client, "/aliases/?q=sales&match=contains") == ["presales@b.test"]


# --- the bounded count of a search --------------------------------------------------------------
@pytest.fixture
def lists(personas):
    Alias.objects.bulk_create(
        Alias(address=f"list-{i:03d}@a.test", goto="anna@a.test", domain_id="a.test")
        for i in range(30)
    )
    Alias.objects.create(address="list-005@b.test", goto="x@b.test", domain_id="b.test")
    # The forwarding alias of a mailbox shows on the mailbox, not in the list nor its count.
    Mailbox.objects.bulk_create([Mailbox(username="list-011@a.test", domain_id="a.test")])


@pytest.mark.parametrize("persona", ["superadmin", "admin_a"])
def test_a_prefix_search_counts_the_matching_aliases_of_the_list(client_as, lists, persona):
    client = client_as(persona)
    listing = client.get("/aliases/?domain=a.test&q=list-01").context["listing"]
    expected = [f"list-{i:03d}@a.test" for i in range(10, 20) if i != 11]
    assert sorted(a.pk for a in listing.objects) == expected
    assert (listing.total, listing.total_capped) == (9, False)
    listing = client.get("/aliases/?domain=a.test&q=list-01&match=contains").context["listing"]
    assert (listing.total, listing.total_capped) == (9, False)


def test_the_count_of_a_search_takes_one_query(client_as, lists, django_assert_num_queries):
    client = client_as("admin_a")
    client.get("/aliases/?domain=a.test")
    # session, manager, the domain, the page, the bounded count (not the usage figures)
    with django_assert_num_queries(5):
        assert client.get("/aliases/?domain=a.test&q=list-0").context["listing"].total == 29


@pytest.mark.mariadb
def test_on_mariadb_a_prefix_search_of_one_domain_is_counted_by_a_range_read(client_as, lists):
    if connection.vendor != "mysql":
        pytest.fail("needs MariaDB (DATABASE_URL=mysql://...)")
    client = client_as("admin_a")
    with CaptureQueriesContext(connection) as captured:
        client.get("/aliases/?domain=a.test&q=list-01")
    count = next(q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"])
    # the domain's index, which the address extends: (domain, address prefix), not the domain
    assert "FORCE INDEX (`mailadmin_alias_domain`)" in count
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {count}")
        columns = [c[0] for c in cursor.description]
        plans = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    alias = next(p for p in plans if p["table"] == "alias")
    assert alias["type"] == "range" and alias["key"] == "mailadmin_alias_domain", plans
    # A substring search reads every alias in scope whatever the index: no hint.
    with CaptureQueriesContext(connection) as captured:
        client.get("/aliases/?domain=a.test&q=list-01&match=contains")
    assert not any("FORCE INDEX" in q["sql"] for q in captured.captured_queries)
