"""The top bar's search (/search/): domains, mailboxes and aliases on one page, each kind
scoped like its list, so that nothing of another manager's domains shows."""

from __future__ import annotations

import pytest

from aliases.models import Alias
from mailboxes.models import Mailbox


@pytest.fixture
def rows(personas, make_mailbox):
    make_mailbox("chen@a.test", name="Someone")
    make_mailbox("wei@a.test", name="Wei Chen")
    make_mailbox("li@b.test", name="Li Chen")
    Alias.objects.create(address="chen-team@a.test", goto="wei@a.test", domain_id="a.test")
    Alias.objects.create(address="chen-list@b.test", goto="li@b.test", domain_id="b.test")
    # a mailbox's own forwarding alias is not listed as an alias
    Alias.objects.create(address="chen@a.test", goto="chen@a.test", domain_id="a.test")


def groups(response) -> dict[str, list[str]]:
    return {g.kind: [row.pk for row in g.rows] for g in response.context["groups"]}


def test_the_search_groups_domains_mailboxes_and_aliases(client_as, rows):
    response = client_as("superadmin").get("/search/", {"q": "chen"})
    assert response.status_code == 200
    assert groups(response) == {
        "domains": [],
        "mailboxes": ["chen@a.test", "li@b.test", "wei@a.test"],
        "aliases": ["chen-list@b.test", "chen-team@a.test"],
    }
    body = response.content.decode()
    assert 'data-testid="search-mailboxes"' in body and 'data-testid="search-domains"' not in body
    assert "/mailboxes/?q=chen" in body  # the list with the same search
    assert groups(client_as("superadmin").get("/search/", {"q": "b.t"}))["domains"] == ["b.test"]


@pytest.mark.parametrize(
    ("persona", "mailboxes", "aliases"),
    [
        ("admin_a", ["chen@a.test", "wei@a.test"], ["chen-team@a.test"]),
        ("admin_b", ["li@b.test"], ["chen-list@b.test"]),
    ],
)
def test_a_domain_admin_sees_only_their_domains(client_as, rows, persona, mailboxes, aliases):
    response = client_as(persona).get("/search/", {"q": "chen"})
    assert groups(response) == {"domains": [], "mailboxes": mailboxes, "aliases": aliases}
    other = "b.test" if persona == "admin_a" else "a.test"
    assert other not in response.content.decode()


def test_an_address_of_another_domain_in_a_foreign_domain_row_stays_hidden(client_as, rows):
    # A legacy row of a.test's domain column with an address of b.test is not a.test's alone.
    Mailbox.objects.filter(pk="li@b.test").update(domain_id="a.test")
    response = client_as("admin_a").get("/search/", {"q": "li"})
    assert groups(response)["mailboxes"] == []


def test_bad_or_empty_text_finds_nothing(client_as, rows):
    client = client_as("admin_a")
    for text in ["", "   ", "😀", "x" * 500]:
        response = client.get("/search/", {"q": text})
        assert response.status_code == 200
        assert not any(response.context["groups"] and g.rows for g in response.context["groups"])


def test_more_matches_than_shown_link_to_the_list(client_as, personas, make_mailbox):
    for i in range(12):
        make_mailbox(f"m{i:02d}@a.test", name="Ann Lee")
    response = client_as("admin_a").get("/search/", {"q": "lee"})
    group = next(g for g in response.context["groups"] if g.kind == "mailboxes")
    assert len(group.rows) == 10 and group.more


def test_the_top_bar_carries_the_search_box(client_as, personas):
    body = client_as("admin_a").get("/").content.decode()
    assert 'data-testid="top-search"' in body and 'action="/search/"' in body


def test_the_search_takes_a_constant_number_of_queries(
    client_as, rows, make_mailbox, django_assert_num_queries
):
    client = client_as("admin_a")
    client.get("/search/?q=chen")
    # session, manager, domains, the admin's domain names, the word index, mailboxes, aliases
    with django_assert_num_queries(7):
        client.get("/search/?q=chen")
    for i in range(30):
        make_mailbox(f"c{i:02d}@a.test", name=f"Chen {i}")
    with django_assert_num_queries(7):
        client.get("/search/?q=chen")
