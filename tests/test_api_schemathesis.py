"""Requests generated from the API's own OpenAPI schema (schemathesis), sent through the WSGI
application with a superadmin's token and a domain admin's: none may end in a server error.

Bounded in time: a few examples per operation (``MAX_EXAMPLES``), over objects that exist (the
personas' domains, a mailbox, an alias, a failed job, a pending signup request) and the random
ones schemathesis makes up.
"""

from __future__ import annotations

import datetime

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from aliases.models import Alias
from conftest import PASSWORD
from mailadmin.lib.passwords import hash_password
from provisioning.models import Job
from provisioning.services import job_record
from signup.models import SignupRequest

MAX_EXAMPLES = 10


@pytest.fixture
def wsgi_in_test_transaction():
    """Requests through the WSGI application keep the test's database connection (and its
    transaction), as Django's test client does: no closing of connections between requests."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def objects(personas):
    Alias.objects.create(address="sales@a.test", goto="boss@example.org", domain_id="a.test")
    job = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="a.test", object_id="x")
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, last_error="disk full")
    SignupRequest.objects.create(
        domain="a.test",
        local_part="applicant",
        address="applicant@a.test",
        pending_address="applicant@a.test",
        password_hash=hash_password(PASSWORD),
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )


def check_operation(operation, token: str, calls: list[tuple[str, int]]) -> None:
    """Send ``MAX_EXAMPLES`` generated requests of one operation with ``token``."""

    @given(case=operation.as_strategy())
    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        calls.append((case.operation.label, response.status_code))
        assert response.status_code < 500, (
            case.method,
            case.formatted_path,
            case.body,
            response.text[:500],
        )
        case.validate_response(response, checks=[not_a_server_error])

    run()


def test_no_generated_request_fails_on_the_server(
    objects, api_token, settings, wsgi_in_test_transaction
):
    settings.MAILADMIN_API_RATE = 100_000
    tokens = [api_token("superadmin"), api_token("admin_a")]
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    calls: list[tuple[str, int]] = []

    for number, operation in enumerate(operations):
        # Superadmin and domain admin by turns (the superadmin's routes, the domain admin's 404).
        check_operation(operation, tokens[number % 2], calls)
    # Real work was done, not only refusals.
    assert len(calls) >= 3 * len(operations)
    assert {status for _label, status in calls} >= {200, 400, 404}
