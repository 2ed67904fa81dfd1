"""The mailbox form after a mistake: an error summary linking to the fields, emptied password
fields that say so, dates typed as their help text says, and the password generator."""

from __future__ import annotations

import re

import pytest

from mailboxes.models import Mailbox

pytestmark = pytest.mark.django_db

ADD = "/mailboxes/add/?domain=a.test"
SECRET = "Typed-Secret-77"


def post_bad_mailbox(client, **fields):
    data = {
        "local_part": "../etc",
        "domain": "a.test",
        "name": "Carol",
        "password1": SECRET,
        "password2": SECRET,
        "quota": "100",
        "active": "on",
        **fields,
    }
    return client.post(ADD, data)


def test_the_error_summary_links_to_each_bad_field(client_as, personas):
    response = post_bad_mailbox(client_as("admin_a"), quota="-5")
    body = response.content.decode()
    summary = body[body.index('data-testid="error-summary"') :]
    summary = summary[: summary.index("</div>")]
    links = re.findall(r'<a href="#([^"]+)"', summary)
    assert links[:2] == ["id_local_part", "id_quota"]
    for target in links:
        assert f'id="{target}"' in body
    assert "Nothing was saved: 2 fields need correcting." in summary
    assert not Mailbox.objects.filter(pk__startswith="carol").exists()


def test_the_passwords_come_back_empty_and_the_summary_says_to_enter_them_again(
    client_as, personas
):
    body = post_bad_mailbox(client_as("admin_a")).content.decode()
    assert SECRET not in body
    assert re.search(r'name="password1"(?![^>]*value=)', body)
    assert 'data-testid="password-again"' in body
    assert "enter the password again" in body


def test_a_service_error_shows_once_in_the_summary(client_as, personas):
    client = client_as("admin_a")
    body = post_bad_mailbox(client, local_part="user").content.decode()  # user@a.test exists
    summary = body[body.index('data-testid="error-summary"') :]
    assert "user@a.test" in summary[: summary.index("</div>")]


def test_dates_are_typed_as_the_help_text_says(client_as, personas):
    client = client_as("admin_a")
    body = client.get(ADD).content.decode()
    field = re.search(r"<input[^>]*name=\"expiredate\"[^>]*>", body).group(0)
    assert 'type="text"' in field and 'placeholder="YYYY-MM-DD"' in field
    assert "YYYY-MM-DD" in body  # the help text
    response = client.post(
        ADD,
        {
            "local_part": "dora",
            "domain": "a.test",
            "password1": SECRET,
            "password2": SECRET,
            "quota": "10",
            "active": "on",
            "expiredate": "2031-02-28",
        },
    )
    assert response.status_code == 302
    assert str(Mailbox.objects.get(pk="dora@a.test").expiredate) == "2031-02-28"
    bad = post_bad_mailbox(client, local_part="erin", expiredate="28/02/2031")
    assert "expiredate" in bad.context["form"].errors


def test_the_form_offers_the_generator_of_the_panel(client_as, personas):
    body = client_as("admin_a").get(ADD).content.decode()
    assert 'data-url="/mailboxes/generate-password/"' in body
    assert 'data-testid="generate-password"' in body
