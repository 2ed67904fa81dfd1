"""Searches on the list pages: prefix on the indexed key by default, substring on request."""

from __future__ import annotations

import pytest

from aliases.models import Alias
from mailadmin.lib.listing import address_search_text

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
