"""The mailbox and alias lists' quick actions: one-click enable/disable with Undo, a password
reset shown once, the bulk menu and its message when nothing is ticked (server side)."""

from __future__ import annotations

import pytest

from aliases.models import Alias
from audit.models import AuditEntry
from mailadmin.lib.passwords import verify_password
from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

MAILBOX = "user@a.test"
LIST = "/mailboxes/?domain=a.test"


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_a_mailbox_is_disabled_in_one_click_and_the_undo_enables_it_again(client_as, personas):
    client = client_as("admin_a")
    response = client.post(f"/mailboxes/{MAILBOX}/active/", {"active": "0", "next": LIST})
    assert response.status_code == 302 and response["Location"] == LIST
    assert Mailbox.objects.get(pk=MAILBOX).active == 0
    page = client.get(LIST)
    undo = page.context["undo"]
    assert undo["message"] == f"Mailbox {MAILBOX} disabled."
    assert undo["url"] == f"/mailboxes/{MAILBOX}/active/"
    assert undo["fields"] == {"active": "1", "next": LIST, "undone": "1"}
    body = page.content.decode()
    assert 'data-testid="undo"' in body and 'name="active" value="1"' in body
    # Shown once.
    assert not client.get(LIST).context["undo"]

    response = client.post(undo["url"], undo["fields"], follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert Mailbox.objects.get(pk=MAILBOX).active == 1
    # The Undo itself is not offered an Undo.
    assert not response.context["undo"]
    assert messages_of(response) == [f"Mailbox {MAILBOX} enabled."]
    changes = [e.changes for e in AuditEntry.objects.filter(object_id=MAILBOX).order_by("id")]
    assert changes == [{"active": [1, 0]}, {"active": [0, 1]}]


def test_an_outsider_cannot_disable_a_mailbox(client_as, personas):
    response = client_as("admin_b").post(f"/mailboxes/{MAILBOX}/active/", {"active": "0"})
    assert response.status_code == 404
    assert Mailbox.objects.get(pk=MAILBOX).active == 1


@pytest.mark.parametrize("wanted", ["", "toggle", "2"])
def test_a_state_that_is_not_0_or_1_changes_nothing(client_as, personas, wanted):
    client = client_as("admin_a")
    response = client.post(f"/mailboxes/{MAILBOX}/active/", {"active": wanted}, follow=True)
    assert "the form did not say enable or disable" in " ".join(messages_of(response))
    assert Mailbox.objects.get(pk=MAILBOX).active == 1
    assert not AuditEntry.objects.filter(object_id=MAILBOX).exists()


def test_next_must_be_a_path_of_this_site(client_as, personas):
    client = client_as("admin_a")
    for target in ("https://evil.example/", "//evil.example/", "javascript:alert(1)"):
        response = client.post(f"/mailboxes/{MAILBOX}/active/", {"active": "1", "next": target})
        assert response["Location"] == LIST


def test_a_password_reset_shows_the_new_password_once_and_it_works(client_as, personas):
    client = client_as("admin_a")
    ask = client.get(f"/mailboxes/{MAILBOX}/reset-password/?next={LIST}")
    assert ask.status_code == 200 and "new-password" not in ask.content.decode()
    before = Mailbox.objects.get(pk=MAILBOX).password
    response = client.post(f"/mailboxes/{MAILBOX}/reset-password/", {"next": LIST})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    password = response.context["password"]
    stored = Mailbox.objects.get(pk=MAILBOX).password
    assert stored != before and verify_password(password, stored)
    assert password in response.content.decode()
    assert response.context["back_url"] == LIST
    entry = AuditEntry.objects.get(object_id=MAILBOX)
    assert password not in str(entry.changes) and entry.changes["password"][1] == "(changed)"


def test_an_outsider_cannot_reset_a_password(client_as, personas):
    before = Mailbox.objects.get(pk=MAILBOX).password
    assert client_as("admin_b").post(f"/mailboxes/{MAILBOX}/reset-password/").status_code == 404
    assert Mailbox.objects.get(pk=MAILBOX).password == before


def test_the_generator_endpoint_gives_a_fresh_strong_password(client_as, personas, settings):
    settings.MAILADMIN_PASSWORD_MIN_LENGTH = 20
    client = client_as("admin_a")
    first = client.get("/mailboxes/generate-password/")
    second = client.get("/mailboxes/generate-password/")
    assert "no-store" in first["Cache-Control"]
    one, two = first.json()["password"], second.json()["password"]
    assert one != two and len(one) >= 20
    assert any(c.isupper() for c in one) and any(c.isdigit() for c in one)
    assert client_as("anonymous").get("/mailboxes/generate-password/").status_code == 302


def test_a_bulk_post_with_nothing_ticked_says_so_and_changes_nothing(client_as, personas):
    client = client_as("admin_a")
    response = client.post(
        "/mailboxes/bulk/", {"action": "disable", "domain": "a.test"}, follow=True
    )
    assert response.redirect_chain[-1][0] == LIST
    assert messages_of(response) == ["Tick at least one mailbox first: nothing was changed."]
    response = client.post("/mailboxes/bulk/", {"addresses": [MAILBOX], "action": ""}, follow=True)
    assert messages_of(response) == ["Choose an action first: nothing was changed."]
    assert Mailbox.objects.get(pk=MAILBOX).active == 1


def test_the_bulk_menu_starts_empty_and_the_quota_box_belongs_to_the_quota_action(
    client_as, personas
):
    body = client_as("admin_a").get(LIST).content.decode()
    start = body.index('id="bulk-action"')
    menu = body[start : body.index("</select>", start)]
    assert menu.index('<option value="" selected>') < menu.index('value="enable"')
    assert 'data-show-for="set_quota"' in body
    assert 'data-testid="select-all"' in body and 'data-testid="row-disable"' in body


@pytest.fixture
def aliases(personas):
    for local in ("sales", "team"):
        Alias.objects.create(address=f"{local}@a.test", goto="boss@example.org", domain_id="a.test")
    Alias.objects.create(address="info@b.test", goto="boss@example.org", domain_id="b.test")


def test_an_alias_is_disabled_in_one_click_with_undo(client_as, aliases):
    client = client_as("admin_a")
    back = "/aliases/?domain=a.test"
    client.post("/aliases/sales@a.test/active/", {"active": "0", "next": back})
    assert Alias.objects.get(pk="sales@a.test").active == 0
    undo = client.get(back).context["undo"]
    assert undo["message"] == "Alias sales@a.test disabled."
    client.post(undo["url"], undo["fields"])
    assert Alias.objects.get(pk="sales@a.test").active == 1
    outsider = client_as("admin_b").post("/aliases/sales@a.test/active/", {"active": "0"})
    assert outsider.status_code == 404


def test_alias_bulk_disable_and_delete_after_a_confirmation(client_as, aliases):
    client = client_as("admin_a")
    both = ["sales@a.test", "team@a.test"]
    response = client.post("/aliases/bulk/", {"addresses": both, "action": "disable"}, follow=True)
    assert "Disable: 2 aliases done." in messages_of(response)
    assert set(Alias.objects.filter(pk__in=both).values_list("active", flat=True)) == {0}
    ask = client.post("/aliases/bulk/", {"addresses": both, "action": "delete"})
    assert ask.status_code == 200 and Alias.objects.filter(pk__in=both).count() == 2
    client.post("/aliases/bulk/", {"addresses": both, "action": "delete", "confirm": "1"})
    assert not Alias.objects.filter(pk__in=both).exists()


def test_alias_bulk_refuses_nothing_ticked_and_other_domains(client_as, aliases):
    client = client_as("admin_a")
    response = client.post("/aliases/bulk/", {"action": "disable"}, follow=True)
    assert messages_of(response) == ["Tick at least one alias first: nothing was changed."]
    response = client.post(
        "/aliases/bulk/", {"addresses": ["sales@a.test", "info@b.test"], "action": "disable"}
    )
    assert response.status_code == 404
    assert set(Alias.objects.values_list("active", flat=True)) == {1}


def test_the_mailbox_page_has_the_same_quick_actions(client_as, personas):
    client = client_as("admin_a")
    page = f"/mailboxes/{MAILBOX}/"
    body = client.get(page).content.decode()
    assert f'action="/mailboxes/{MAILBOX}/active/"' in body
    assert f'href="/mailboxes/{MAILBOX}/reset-password/"' in body
    response = client.post(f"/mailboxes/{MAILBOX}/active/", {"active": "0", "next": page})
    assert response["Location"] == page and Mailbox.objects.get(pk=MAILBOX).active == 0


def test_a_bulk_disable_offers_an_undo_for_the_mailboxes_it_changed(
    client_as, personas, make_mailbox
):
    make_mailbox("two@a.test")
    make_mailbox("off@a.test", active=0)
    ticked = [MAILBOX, "two@a.test", "off@a.test"]
    client = client_as("admin_a")
    response = client.post(
        "/mailboxes/bulk/", {"action": "disable", "addresses": ticked, "domain": "a.test"}
    )
    assert response.status_code == 302 and response["Location"] == LIST
    page = client.get(LIST)
    undo = page.context["undo"]
    assert undo["message"] == "Disable: 3 mailboxes done."
    assert undo["url"] == "/mailboxes/bulk/"
    # The one that was already disabled stays so: the Undo enables only what the action changed.
    assert undo["fields"]["action"] == "enable"
    assert undo["fields"]["addresses"] == ["two@a.test", MAILBOX]
    body = page.content.decode()
    assert (
        body.count('name="addresses" value=') - body.count('type="checkbox" name="addresses"') == 2
    )

    response = client.post(undo["url"], undo["fields"], follow=True)
    assert response.redirect_chain[-1][0] == LIST
    states = dict(Mailbox.objects.filter(pk__in=ticked).values_list("username", "active"))
    assert states == {MAILBOX: 1, "two@a.test": 1, "off@a.test": 0}
    assert not response.context["undo"]  # the Undo itself is not offered an Undo
    assert messages_of(response) == ["Enable: 2 mailboxes done."]


def test_a_bulk_action_that_changed_no_state_offers_no_undo(client_as, personas):
    client = client_as("admin_a")
    response = client.post(
        "/mailboxes/bulk/",
        {"action": "enable", "addresses": [MAILBOX], "domain": "a.test"},
        follow=True,
    )
    assert not response.context["undo"]
    assert messages_of(response) == ["Enable: 1 mailboxes done."]
