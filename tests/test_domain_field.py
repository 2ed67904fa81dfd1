"""The domain of a new mailbox or alias: a list of the manager's domains, or, for a manager of
more domains than a list can usefully hold, a text box that accepts only those domains."""

from __future__ import annotations

import pytest

from aliases.models import Alias
from domains import forms as domain_forms
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

PASSWORD = "Correct-Horse-42"


@pytest.fixture
def many(monkeypatch, personas, make_domain):
    """The superadmin sees four domains, more than the list limit of this test."""
    make_domain("c.test")
    make_domain("xn--bcher-kva.test")
    monkeypatch.setattr(domain_forms, "DOMAIN_LIST_LIMIT", 3)


def test_a_few_domains_are_listed(client_as, personas):
    body = client_as("superadmin").get("/mailboxes/add/?domain=a.test").content.decode()
    assert '<select name="domain"' in body and '<option value="b.test"' in body


def test_many_domains_are_typed_and_only_the_managers_own_are_taken(client_as, many):
    root = client_as("superadmin")
    for url in ("/mailboxes/add/?domain=a.test", "/aliases/add/?domain=a.test", "/mailboxes/add/"):
        body = root.get(url).content.decode()
        assert '<select name="domain"' not in body and 'name="domain"' in body, url
    # The Unicode spelling of an IDN is the domain itself.
    response = root.post(
        "/aliases/add/", {"local_part": "team", "domain": "bücher.test", "goto": "x@example.org"}
    )
    assert response.status_code == 302
    assert Alias.objects.filter(pk="team@xn--bcher-kva.test").exists()
    response = root.post(
        "/aliases/add/", {"local_part": "team", "domain": "nowhere.test", "goto": "x@example.org"}
    )
    assert "nowhere.test is not one of your domains." in response.content.decode()
    assert not Alias.objects.filter(pk="team@nowhere.test").exists()


def test_a_typed_domain_outside_the_managers_domains_is_refused(client_as, many, monkeypatch):
    monkeypatch.setattr(domain_forms, "DOMAIN_LIST_LIMIT", 0)  # even one domain is typed
    admin = client_as("admin_a")
    data = {
        "local_part": "new",
        "domain": "b.test",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "quota": "10",
    }
    response = admin.post("/mailboxes/add/?domain=a.test", data)
    assert response.status_code == 200
    assert "b.test is not one of your domains." in response.content.decode()
    assert not Mailbox.objects.filter(pk="new@b.test").exists()
    response = admin.post("/mailboxes/add/?domain=a.test", {**data, "domain": "A.TEST"})
    assert response.status_code == 302 and Mailbox.objects.filter(pk="new@a.test").exists()
