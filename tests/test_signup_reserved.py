"""Reserved names at signup are compared in a normalised form (docs/self-service.md)."""

from __future__ import annotations

import pytest
from django.test import Client

from domains.models import Domain
from signup.models import SignupRequest
from signup.services import is_reserved

PASSWORD = "Blue-Lantern-42"


@pytest.fixture
def signup_domain(personas):
    Domain.objects.filter(pk="a.test").update(can_signup=True)


def submit(local_part: str):
    return Client().post(
        "/signup/a.test/",
        {
            "local_part": local_part,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "captcha_0": "x",
            "captcha_1": "PASSED",
        },
    )


DISGUISED = [
    "post.master",
    "postmaster-x",
    "mailer_daemon",
    "no_reply",
    "r00t",
    "adm1n",
    "p0stmaster",
    "ADMIN",
    "hostmaster.backup",
    "no-reply.news",
    "webmaster_2",
    "admin1",
    "r00t2024",
    "s3curity",
    "5upport",
    "abuse-desk",
]


@pytest.mark.parametrize("name", DISGUISED)
def test_disguised_reserved_names_are_refused_at_signup(signup_domain, name):
    response = submit(name)
    assert response.status_code == 200
    assert b"This name is reserved" in response.content
    assert not SignupRequest.objects.exists()


ORDINARY = [
    "rootsy",
    "johnroot",
    "alice",
    "mallory",
    "informatics",
    "adminton",
    "sally",
    "bob.info",
]


@pytest.mark.parametrize("name", ORDINARY)
def test_ordinary_names_that_contain_a_reserved_word_are_accepted(signup_domain, name):
    response = submit(name)
    assert b"signup-received" in response.content, response.content
    assert SignupRequest.objects.filter(local_part=name).exists()


def test_the_configured_list_is_compared_the_same_way(settings):
    settings.MAILADMIN_SIGNUP_RESERVED_NAMES = ["billing-team"]
    assert is_reserved("billing.team") and is_reserved("b1lling_team-2")
    assert not is_reserved("billing") and not is_reserved("root")
