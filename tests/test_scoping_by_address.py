"""A row is a domain admin's only when both its ``domain`` column and its address's own domain
are theirs (SPEC §1).

Legacy rows can disagree: ``x@b.test`` stored with ``domain = 'a.test'``. Scoped by the column
alone, the admin of a.test could read that alias and point it at their own mailbox, taking over
mail of b.test.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import DomainManager
from aliases import services as alias_services
from aliases.models import Alias
from mailadmin.lib.expressions import AddressDomain
from mailboxes import services as mailbox_services
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

ALIAS = "x@b.test"  # stored with domain = 'a.test'
MAILBOX = "y@b.test"  # stored with domain = 'a.test'
NOBODY = ("admin_a", "admin_b")  # neither admin has both domains of these rows


@pytest.fixture
def mismatched(personas, make_mailbox):
    Alias.objects.create(address=ALIAS, goto="boss@b.test", domain_id="a.test")
    make_mailbox(MAILBOX, name="Mismatched")
    Mailbox.objects.filter(pk=MAILBOX).update(domain_id="a.test")
    Alias.objects.create(address="sales@a.test", goto="user@a.test", domain_id="a.test")
    Alias.objects.create(address="@a.test", goto="user@a.test", domain_id="a.test")
    return personas


def test_the_address_domain_expression_reads_what_follows_the_last_at(mismatched):
    for key in ["a@b@c", "nobody@", "plain", "@d.test"]:
        Mailbox.objects.create(username=key, domain_id="a.test")
    found = dict(
        Mailbox.objects.filter(username__in=["a@b@c", "nobody@", "plain", "@d.test", MAILBOX])
        .annotate(d=AddressDomain("username"))
        .values_list("username", "d")
    )
    assert found == {
        "a@b@c": "c",
        "nobody@": "",
        "plain": "plain",
        "@d.test": "d.test",
        MAILBOX: "b.test",
    }


@pytest.mark.parametrize("persona", NOBODY)
def test_a_domain_admin_cannot_reach_an_alias_of_another_domain_through_the_column(
    client_as, mismatched, persona
):
    client = client_as(persona)
    assert client.get(f"/aliases/{ALIAS}/edit/").status_code == 404
    response = client.post(f"/aliases/{ALIAS}/edit/", {"goto": "user@a.test", "active": "on"})
    assert response.status_code == 404
    assert client.post(f"/aliases/{ALIAS}/delete/").status_code == 404
    assert Alias.objects.get(pk=ALIAS).goto == "boss@b.test"
    for path in ("/aliases/", "/aliases/?q=x", "/aliases/?q=b.test&match=contains"):
        assert ALIAS not in client.get(path).content.decode(), path
    if persona == "admin_a":
        listed = client.get("/aliases/?domain=a.test").content.decode()
        assert ALIAS not in listed and "sales@a.test" in listed and "@a.test" in listed
    assert not Alias.objects.visible_to(mismatched[persona]).filter(pk=ALIAS).exists()
    with pytest.raises(PermissionDenied):
        alias_services.alias_update(
            actor=mismatched[persona],
            alias=Alias.objects.get(pk=ALIAS),
            goto=["user@a.test"],
            active=True,
        )


@pytest.mark.parametrize("persona", NOBODY)
def test_a_domain_admin_cannot_reach_a_mailbox_of_another_domain_through_the_column(
    client_as, mismatched, persona
):
    client = client_as(persona)
    for page in ("", "edit/", "rename/", "delete/"):
        assert client.get(f"/mailboxes/{MAILBOX}/{page}").status_code == 404
    assert client.post(f"/mailboxes/{MAILBOX}/delete/").status_code == 404
    bulk = client.post("/mailboxes/bulk/", {"action": "disable", "addresses": [MAILBOX]})
    assert bulk.status_code == 404
    for path in ("/mailboxes/", "/mailboxes/?q=y", "/mailboxes/?q=b.test&match=contains"):
        assert MAILBOX not in client.get(path).content.decode(), path
    assert Mailbox.objects.get(pk=MAILBOX).active
    actor = mismatched[persona]
    assert not Mailbox.objects.visible_to(actor).filter(pk=MAILBOX).exists()
    mailbox = Mailbox.objects.get(pk=MAILBOX)
    with pytest.raises(PermissionDenied):
        mailbox_services.mailbox_update(mailbox=mailbox, actor=actor, name="Taken")
    with pytest.raises(PermissionDenied):
        mailbox_services.mailbox_delete(mailbox=mailbox, actor=actor)
    with pytest.raises(PermissionDenied):
        mailbox_services.mailbox_rename(mailbox=mailbox, actor=actor, local_part="taken")


def test_the_admin_of_both_domains_and_the_superadmin_see_the_rows(client_as, mismatched):
    DomainManager.objects.create(manager=mismatched["admin_a"], domain_id="b.test")
    for persona in ("superadmin", "admin_a"):
        client = client_as(persona)
        assert client.get(f"/aliases/{ALIAS}/edit/").status_code == 200
        assert client.get(f"/mailboxes/{MAILBOX}/").status_code == 200
        assert ALIAS in client.get("/aliases/").content.decode()
        assert MAILBOX in client.get("/mailboxes/").content.decode()


def test_a_mismatched_row_carries_a_badge(client_as, mismatched):
    body = client_as("superadmin").get("/aliases/").content.decode()
    row = body[body.index(ALIAS) :]
    assert "domain mismatch" in row[: row.index("</tr>")]
    body = client_as("superadmin").get(f"/mailboxes/{MAILBOX}/").content.decode()
    assert "domain mismatch" in body
