"""Arbitrary input to the public self-service forms: never a crash, never an invalid address
stored, never a mailbox before approval (SPEC §7.3)."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domains.models import Domain
from mailboxes.models import Mailbox
from signup.forms import SignupForm
from signup.models import SignupRequest

LOCAL_RE = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
PASSWORD = "Blue-Lantern-42"
HOSTILE = ["../x", "a/../b", "..", "a..b", "ali\x00ce", "é", "a b", "$(id)", "`id`", "a;b", ""]

pytestmark = pytest.mark.django_db
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def signup_data(local_part: str, name: str = "", contact: str = "") -> dict[str, str]:
    return {
        "local_part": local_part,
        "name": name,
        "password1": PASSWORD,
        "password2": PASSWORD,
        "question": "First pet?",
        "answer": "Fluffy",
        "contact_email": contact,
        "captcha_0": "x",
        "captcha_1": "PASSED",
        "website": "",
    }


@pytest.fixture
def offering(personas):
    Domain.objects.filter(pk="a.test").update(can_signup=True)


@FUZZ
@given(
    local=st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE)),
    name=st.text(max_size=300),
    contact=st.one_of(st.text(max_size=80), st.emails()),
)
def test_the_signup_form_cleans_or_refuses(offering, local, name, contact):
    form = SignupForm(signup_data(local, name, contact), domain="a.test")
    if form.is_valid():
        cleaned = form.cleaned_data["local_part"]
        assert LOCAL_RE.fullmatch(cleaned) and len(cleaned) <= 64
        if form.cleaned_data["contact_email"]:
            assert "@" in form.cleaned_data["contact_email"]
    else:
        assert set(form.errors) <= {"local_part", "name", "contact_email"}


@FUZZ
@given(local=st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE)), name=st.text(max_size=40))
def test_posting_anything_to_the_signup_page_never_makes_a_mailbox(offering, client, local, name):
    cache.clear()  # the per-client rate limit is not what this test is about
    before = set(SignupRequest.objects.values_list("address", flat=True))
    response = client.post("/signup/a.test/", signup_data(local, name), REMOTE_ADDR="198.51.100.9")
    assert response.status_code in (200, 400)
    assert not Mailbox.objects.exclude(pk__in=["user@a.test"]).filter(domain_id="a.test").exists()
    for request in SignupRequest.objects.exclude(address__in=before):
        local_part, _, domain = request.address.partition("@")
        assert domain == "a.test" and LOCAL_RE.fullmatch(local_part)


@FUZZ
@given(
    username=st.one_of(st.text(max_size=80), st.emails(), st.just("user@a.test")),
    answer=st.text(max_size=100),
)
def test_the_forgotten_password_page_survives_anything_and_changes_nothing_without_the_answer(
    personas, client, username, answer
):
    cache.clear()
    password_before = Mailbox.objects.get(pk="user@a.test").password
    response = client.post(
        "/account/forgot/",
        {
            "username": username,
            "answer": answer,
            "new_password1": PASSWORD,
            "new_password2": PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
        REMOTE_ADDR="198.51.100.10",
    )
    assert response.status_code in (200, 400, 429)
    # The persona has no recovery answer, so nothing typed can reset its password.
    assert Mailbox.objects.get(pk="user@a.test").password == password_before
