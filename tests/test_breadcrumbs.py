"""Breadcrumbs read the same on every page of a domain's objects: Overview > Domains > the
domain > Mailboxes or Aliases > the object."""

from __future__ import annotations

import re

import pytest

from aliases.models import Alias

pytestmark = pytest.mark.django_db


def crumbs(client, url: str) -> list[str]:
    body = client.get(url).content.decode()
    trail = body[body.index('<ol class="breadcrumb"') : body.index("</ol>")]
    items = re.findall(r'<li class="breadcrumb-item[^"]*"[^>]*>(.*?)</li>', trail, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


@pytest.mark.parametrize(
    ("url", "tail"),
    [
        ("/mailboxes/?domain=a.test", ["Mailboxes"]),
        ("/mailboxes/user@a.test/", ["Mailboxes", "user@a.test"]),
        ("/mailboxes/user@a.test/edit/", ["Mailboxes", "user@a.test", "Edit"]),
        ("/mailboxes/user@a.test/reset-password/", ["Mailboxes", "user@a.test", "Reset password"]),
        ("/mailboxes/add/?domain=a.test", ["Mailboxes", "Add"]),
        ("/aliases/?domain=a.test", ["Aliases"]),
        ("/aliases/sales@a.test/edit/", ["Aliases", "sales@a.test"]),
        ("/aliases/add/?domain=a.test", ["Aliases", "Add"]),
    ],
)
def test_a_domain_objects_page_starts_at_its_domain(client_as, personas, url, tail):
    Alias.objects.create(address="sales@a.test", goto="x@example.org", domain_id="a.test")
    assert crumbs(client_as("admin_a"), url) == ["Overview", "Domains", "a.test", *tail]


def test_the_lists_of_every_domain_start_at_the_overview(client_as, personas):
    client = client_as("superadmin")
    assert crumbs(client, "/mailboxes/") == ["Overview", "Mailboxes"]
    assert crumbs(client, "/aliases/") == ["Overview", "Aliases"]
