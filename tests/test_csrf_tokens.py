"""Each POST form carries exactly one CSRF token, the confirmation pages included.

``tests/test_permission_matrix.py`` runs the same check on every page of the project.
"""

from __future__ import annotations

import re

import pytest
from django import forms
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.test import RequestFactory

from aliases.models import Alias
from conftest import PASSWORD
from domains.models import Domain

pytestmark = pytest.mark.django_db

POST_FORM = re.compile(r"<form\b[^>]*\bmethod=\"post\"[^>]*>(.*?)</form>", re.S | re.I)
CSRF_INPUT = 'name="csrfmiddlewaretoken"'


def assert_one_csrf_token_per_form(body: str) -> None:
    forms_ = POST_FORM.findall(body)
    assert [form.count(CSRF_INPUT) for form in forms_] == [1] * len(forms_)
    assert body.count(CSRF_INPUT) == len(forms_), "a CSRF token outside a POST form"


def confirm_form(body: str) -> str:
    (form,) = [form for form in POST_FORM.findall(body) if 'data-testid="confirm"' in form]
    return form


@pytest.mark.parametrize(
    "url",
    [
        "/domains/a.test/delete/",  # with its extra fields: a.test has a mailbox
        "/mailboxes/user@a.test/delete/",
        "/aliases/sales@a.test/delete/",
    ],
)
def test_a_confirmation_page_has_one_token_in_its_form(client_as, url):
    Alias.objects.create(address="sales@a.test", goto="boss@example.org", domain_id="a.test")
    body = client_as("superadmin").get(url).content.decode()
    assert confirm_form(body).count(CSRF_INPUT) == 1
    assert_one_csrf_token_per_form(body)


def test_the_domain_confirmation_shows_its_fields_and_errors(client_as):
    client = client_as("superadmin")
    response = client.post(
        "/domains/a.test/delete/", {"delete_all": "on", "confirm_domain": "wrong.test"}
    )
    assert response.status_code == 200
    form = confirm_form(response.content.decode())
    assert 'name="delete_all"' in form and 'name="confirm_domain"' in form
    assert "Type the domain name exactly to confirm." in form
    assert form.count(CSRF_INPUT) == 1


class ExtraFields(forms.Form):
    """A confirmation form without a crispy helper of its own."""

    reason = forms.CharField(required=False)


def test_the_confirmation_template_adds_no_token_of_its_own_for_any_form(rf: RequestFactory):
    request = rf.get("/")
    request.user = AnonymousUser()
    body = render_to_string(
        "includes/confirm.html",
        {
            "title": "Delete",
            "message": "Sure?",
            "form": ExtraFields(),
            "submit_label": "Delete",
            "cancel_url": "/",
        },
        request=request,
    )
    form = confirm_form(body)
    assert 'name="reason"' in form
    assert form.count(CSRF_INPUT) == 1
    assert_one_csrf_token_per_form(body)


@pytest.mark.parametrize("url", ["/signup/a.test/", "/account/login/", "/account/forgot/"])
def test_the_public_self_service_pages_have_one_token_per_form(client, personas, url):
    Domain.objects.filter(pk="a.test").update(can_signup=True)
    response = client.get(url)
    assert response.status_code == 200
    assert_one_csrf_token_per_form(response.content.decode())


@pytest.mark.parametrize("url", ["/account/", "/account/password/", "/account/recovery/"])
def test_the_portal_pages_have_one_token_per_form(client, personas, url):
    client.post("/account/login/", {"username": "user@a.test", "password": PASSWORD})
    response = client.get(url)
    assert response.status_code == 200
    assert_one_csrf_token_per_form(response.content.decode())


def test_the_signup_policy_card_has_one_token_in_its_form(client_as):
    body = client_as("superadmin").get("/domains/a.test/").content.decode()
    assert 'data-testid="signup-policy-form"' in body
    assert_one_csrf_token_per_form(body)
