"""The jobs page: scoped per role, filters, and retry of failed jobs."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from conftest import PERSONAS
from provisioning.models import Job
from provisioning.services import job_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def jobs(personas):
    ok = job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="a.test", object_id="x@a.test")
    bad = job_record(kind=Job.Kind.MAILDIR_MOVE, payload={}, domain="b.test", object_id="y@b.test")
    Job.objects.filter(pk=bad.pk).update(state=Job.State.FAILED, last_error="disk on fire")
    return {"a": ok, "b": bad}


@pytest.mark.parametrize(
    ("persona", "status", "sees_a", "sees_b"),
    [
        ("superadmin", 200, True, True),
        ("admin_a", 200, True, False),
        ("admin_b", 200, False, True),
        ("user_a", 302, False, False),
        ("anonymous", 302, False, False),
    ],
)
def test_the_jobs_page_is_scoped(client_as, jobs, persona, status, sees_a, sees_b):
    response = client_as(persona).get("/jobs/")
    assert response.status_code == status
    body = response.content.decode()
    assert ("x@a.test" in body) is sees_a
    assert ("y@b.test" in body) is sees_b


def test_filters_by_state_and_refuses_foreign_domains(client_as, jobs):
    body = client_as("superadmin").get("/jobs/?state=failed").content.decode()
    assert "disk on fire" in body and "x@a.test" not in body
    assert client_as("admin_a").get("/jobs/?domain=b.test").status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_retry_needs_post_and_access(client_as, jobs, persona):
    url = f"/jobs/{jobs['b'].pk}/retry/"
    client = client_as(persona)
    # GET is refused to those who may see the job; b.test's job is not found for admin_a.
    expected_get = {"superadmin": 405, "admin_a": 404, "admin_b": 405}.get(persona, 302)
    assert client.get(url).status_code == expected_get
    expected_post = {"superadmin": 302, "admin_b": 302, "admin_a": 404}.get(persona, 302)
    response = client.post(url)
    assert response.status_code == expected_post
    retried = Job.objects.get(pk=jobs["b"].pk).state != Job.State.FAILED
    assert retried is (persona in ("superadmin", "admin_b"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_giving_up_a_failed_job_needs_post_and_access_and_lets_the_waiting_jobs_go_on(
    client_as, jobs, persona
):
    later = job_record(
        kind=Job.Kind.MAILDIR_ARCHIVE, payload={}, domain="b.test", object_id="y@b.test"
    )
    Job.objects.filter(pk=later.pk).update(waiting_for=jobs["b"].pk)
    url = f"/jobs/{jobs['b'].pk}/cancel/"
    client = client_as(persona)
    expected_get = {"superadmin": 405, "admin_a": 404, "admin_b": 405}.get(persona, 302)
    assert client.get(url).status_code == expected_get
    expected_post = {"superadmin": 302, "admin_b": 302, "admin_a": 404}.get(persona, 302)
    assert client.post(url).status_code == expected_post
    cancelled = Job.objects.get(pk=jobs["b"].pk).state == Job.State.CANCELLED
    assert cancelled is (persona in ("superadmin", "admin_b"))
    assert AuditEntry.objects.filter(action="job.cancel").exists() is cancelled
    if cancelled:
        # The job that waited for it was sent and ran (inline here): its empty payload fails
        # as a payload without paths does, which shows it did run.
        assert Job.objects.get(pk=later.pk).state == Job.State.FAILED


def test_the_jobs_page_has_a_constant_number_of_queries(client_as, jobs, django_assert_num_queries):
    client = client_as("admin_a")
    client.get("/jobs/")
    # session, manager, COUNT, page, the latest background operations
    with django_assert_num_queries(5) as first:
        client.get("/jobs/")
    for n in range(30):
        job_record(
            kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="a.test", object_id=f"{n}@a.test"
        )
    with django_assert_num_queries(len(first.captured_queries)):
        client.get("/jobs/")
