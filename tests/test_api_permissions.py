"""Every API route x persona x method, with API tokens (issue 13).

Personas as in tests/test_permission_matrix.py: superadmin, admin_a (a.test's admin), admin_b
(another domain's admin), user_a (a mailbox user: no manager, so no token; the client sends a
made-up one) and anonymous (no token). Each request carries an empty JSON object, so a write
that takes data is refused with the form's messages (400) and one that needs none is done.

Beyond the status: outsiders' answers never name a.test's objects, and a refused request
(401, 403, 404, 405, 400) changes nothing.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from test_permission_matrix import SECRETS, snapshot, url_patterns

from aliases.models import Alias
from api.models import ApiToken
from audit.models import AuditEntry
from conftest import PASSWORD, PERSONAS
from domains.models import Domain
from mailadmin.lib.passwords import hash_password
from provisioning.models import Job, Operation
from provisioning.services import job_record
from signup.models import SignupRequest

pytestmark = pytest.mark.django_db

DOMAIN, MAILBOX, ALIAS, MANAGER = "a.test", "user@a.test", "sales@a.test", "admin@a.test"
METHODS = ("get", "post", "put", "patch", "delete")

# Expected answers in the order of PERSONAS.
OWNERS = (200, 200, 404, 401, 401)
OWNERS_DELETED = (204, 204, 404, 401, 401)
ANY_MANAGER = (200, 200, 200, 401, 401)
SUPERADMIN = (200, 404, 404, 401, 401)
REFUSED = (405, 405, 405, 401, 401)  # a method the route does not take (before any lookup)
SUPERADMIN_REFUSED = (405, 404, 404, 401, 401)
INVALID = (400, 400, 400, 401, 401)  # the form refuses the empty object
OWNERS_INVALID = (400, 400, 404, 401, 401)
SUPERADMIN_INVALID = (400, 404, 404, 401, 401)


def route(**answers: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """Expected answers by method; methods not named are refused (405)."""
    return {method: answers.get(method, REFUSED) for method in METHODS}


MATRIX: dict[str, tuple[dict[str, str], str, dict[str, tuple[int, ...]]]] = {
    # name: (path kwargs, query, answers)
    "api:domain-list": ({}, "", route(get=ANY_MANAGER, post=SUPERADMIN_INVALID)),
    "api:domain-detail": (
        {"domain": DOMAIN},
        "",
        # An empty change changes nothing; a.test still has mailboxes: no delete without
        # delete_all and the name typed again.
        route(
            get=OWNERS,
            put=SUPERADMIN,
            patch=SUPERADMIN,
            post=SUPERADMIN_REFUSED,
            delete=SUPERADMIN_INVALID,
        ),
    ),
    "api:domain-rename": (
        {"domain": DOMAIN},
        "",
        {
            "get": SUPERADMIN_REFUSED,
            "post": SUPERADMIN_INVALID,
            "put": SUPERADMIN_REFUSED,
            "patch": SUPERADMIN_REFUSED,
            "delete": SUPERADMIN_REFUSED,
        },
    ),
    "api:mailbox-list": ({}, f"?domain={DOMAIN}", route(get=OWNERS, post=INVALID)),
    "api:mailbox-bulk": ({}, "", route(post=INVALID)),
    "api:mailbox-import": ({}, "", route(post=INVALID)),
    "api:mailbox-detail": (
        {"address": MAILBOX},
        "",
        route(get=OWNERS, put=OWNERS, patch=OWNERS, delete=OWNERS_DELETED),
    ),
    "api:mailbox-rename": ({"address": MAILBOX}, "", route(post=OWNERS_INVALID)),
    "api:alias-list": ({}, f"?domain={DOMAIN}", route(get=OWNERS, post=INVALID)),
    "api:alias-detail": (
        {"address": ALIAS},
        "",
        route(get=OWNERS, put=OWNERS, patch=OWNERS, delete=OWNERS_DELETED),
    ),
    "api:manager-list": (
        {},
        "",
        dict.fromkeys(METHODS, SUPERADMIN_REFUSED)
        | {"get": SUPERADMIN, "post": SUPERADMIN_INVALID},
    ),
    "api:manager-detail": (
        {"username": MANAGER},
        "",
        {
            "get": SUPERADMIN,
            "put": SUPERADMIN,
            "patch": SUPERADMIN,
            "delete": (204, 404, 404, 401, 401),
            "post": SUPERADMIN_REFUSED,
        },
    ),
    "api:signup-list": ({}, f"?domain={DOMAIN}", route(get=OWNERS)),
    "api:signup-bulk": ({}, "", route(post=INVALID)),
    "api:signup-detail": ({"pk": "{signup}"}, "", route(get=OWNERS)),
    "api:signup-approve": ({"pk": "{signup}"}, "", route(post=OWNERS)),
    # No reason is needed: an empty object rejects the request.
    "api:signup-reject": ({"pk": "{signup}"}, "", route(post=OWNERS)),
    "api:job-list": ({}, f"?domain={DOMAIN}", route(get=OWNERS)),
    "api:job-detail": ({"pk": "{job}"}, "", route(get=OWNERS)),
    "api:job-retry": ({"pk": "{job}"}, "", route(post=OWNERS)),
    "api:job-cancel": ({"pk": "{job}"}, "", route(post=OWNERS)),
    "api:operation-detail": ({"pk": "{operation}"}, "", route(get=OWNERS)),
    "api:audit-list": ({}, f"?domain={DOMAIN}", route(get=OWNERS)),
    "api:audit-detail": ({"pk": "{audit}"}, "", route(get=OWNERS)),
}
# Not data: the schema (public) and the documentation page (a session's), in the other matrix.
NOT_HERE = {"api:schema", "api:docs"}


def test_every_api_route_is_in_the_matrix():
    names = {name for name in url_patterns() if name.startswith("api:")}
    assert names - NOT_HERE == set(MATRIX)


@pytest.fixture
def objects(personas, make_mailbox) -> dict[str, str]:
    Alias.objects.create(address=ALIAS, goto="boss@example.org", domain_id=DOMAIN)
    job = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain=DOMAIN, object_id=MAILBOX)
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, last_error="disk full")
    signup = SignupRequest.objects.create(
        domain=DOMAIN,
        local_part="applicant",
        address="applicant@a.test",
        pending_address="applicant@a.test",
        password_hash=hash_password(PASSWORD),
        contact_email="applicant@example.net",
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    operation = Operation.objects.create(
        kind=Operation.Kind.MAILBOX_BULK,
        actor=MANAGER,
        domain=DOMAIN,
        total=1,
        state=Operation.State.DONE,
        result={"action": "enable", "count": 1, "domain": DOMAIN},
        finished_at=timezone.now(),
    )
    entry = AuditEntry.objects.create(
        actor=MANAGER, action="mailbox.update", object_id=MAILBOX, domain=DOMAIN
    )
    return {
        "signup": str(signup.pk),
        "job": str(job.pk),
        "operation": str(operation.pk),
        "audit": str(entry.pk),
    }


def url_of(name: str, kwargs: dict[str, str], query: str, objects: dict[str, Any]) -> str:
    filled = {key: value.format(**objects) for key, value in kwargs.items()}
    return reverse(name, kwargs=filled) + query


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_each_persona_gets_the_expected_answer(api_client, objects, name, persona, method):
    kwargs, query, answers = MATRIX[name]
    expected = answers[method][PERSONAS.index(persona)]
    client: Client = api_client(persona)
    before = snapshot()

    response = getattr(client, method)(
        url_of(name, kwargs, query, objects), data={}, content_type="application/json"
    )

    assert response.status_code == expected, response.content
    assert expected == 204 or response["Content-Type"].startswith("application/json")
    if persona not in ("superadmin", "admin_a"):
        body = response.content.decode()
        assert [secret for secret in SECRETS if secret in body] == []
    if expected >= 400:
        assert snapshot() == before


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_a_read_only_token_changes_nothing(api_client, objects, name, method):
    kwargs, query, _answers = MATRIX[name]
    client = api_client("superadmin", scope=ApiToken.Scope.READ)
    before = snapshot()

    response = getattr(client, method)(
        url_of(name, kwargs, query, objects), data={}, content_type="application/json"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "This token is read-only."}
    assert snapshot() == before


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_a_read_only_token_reads(api_client, objects, name):
    kwargs, query, answers = MATRIX[name]
    response = api_client("admin_a", scope=ApiToken.Scope.READ).get(
        url_of(name, kwargs, query, objects)
    )
    assert response.status_code == answers["get"][PERSONAS.index("admin_a")]


def test_outsiders_get_the_same_answer_as_for_nothing(api_client, objects):
    client = api_client("admin_b")
    for path in (
        "/api/v1/mailboxes/user@a.test/",
        "/api/v1/mailboxes/nobody@a.test/",
        "/api/v1/mailboxes/nobody@nowhere.test/",
    ):
        response = client.patch(path, {"name": "x"}, content_type="application/json")
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert Domain.objects.filter(pk=DOMAIN).exists()
