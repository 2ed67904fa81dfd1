"""Claiming and running jobs: exactly once, retries with backoff, failures with their error."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from provisioning import runner
from provisioning.models import Job
from provisioning.services import job_record

pytestmark = pytest.mark.django_db


def create_job(homedir: str = "a.test/alice", **kwargs) -> Job:
    """A Maildir job as the mailbox services record it (sent after commit, like theirs)."""
    return job_record(
        kind=Job.Kind.MAILDIR_CREATE,
        payload={
            "homedir": homedir,
            "maildir": f"{homedir}/Maildir/",
            "quota": "1048576S",
            "uid": 1000,
            "gid": 1000,
        },
        domain="a.test",
        object_id=f"{homedir.rpartition('/')[2]}@a.test",
        **kwargs,
    )


def test_a_job_runs_once_and_is_done(settings):
    job = create_job()
    assert job.queue == "maildir.default"
    assert runner.execute(job.pk) == Job.State.DONE
    assert runner.execute(job.pk) is None  # a duplicate message finds nothing to claim
    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error) == ("done", 1, "")
    box = settings.MAILADMIN_MAIL_BASE / "a.test/alice/Maildir"
    assert (box / "maildirsize").read_text() == "1048576S\n"


def test_a_hostile_path_fails_the_job_with_a_clear_error(settings):
    job = create_job("../../etc")
    assert runner.execute(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    assert "UnsafePathError" in job.last_error and "leave the mail base" in job.last_error
    assert not (settings.MAILADMIN_MAIL_BASE.parent / "etc").exists()


def test_a_transient_error_is_retried_later_then_fails(settings, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    settings.MAILADMIN_MAIL_BASE = blocker  # mkdir below a file: an OSError
    job = create_job()
    assert runner.execute(job.pk) == Job.State.PENDING
    job.refresh_from_db()
    assert job.run_after > timezone.now() and job.last_error
    assert runner.execute(job.pk) is None  # not due yet
    for _ in range(runner.MAX_ATTEMPTS - 1):
        Job.objects.filter(pk=job.pk).update(run_after=None)
        state = runner.execute(job.pk)
    assert state == Job.State.FAILED
    job.refresh_from_db()
    assert job.attempts == runner.MAX_ATTEMPTS


def test_a_failed_job_can_be_retried(settings):
    job = create_job("../x")
    runner.execute(job.pk)
    Job.objects.filter(pk=job.pk).update(
        payload={**job.payload, "homedir": "a.test/x", "maildir": "a.test/x/Maildir/"}
    )
    assert runner.retry(job)
    assert runner.execute(job.pk) == Job.State.DONE


def test_jobs_of_a_dead_worker_are_reclaimed_when_their_lease_runs_out():
    job = create_job()
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, lease_until=now + runner.lease())
    assert runner.reclaim_stale(now=now) == 0
    later = now + runner.lease() + datetime.timedelta(seconds=1)
    assert runner.reclaim_stale(now=later) == 1
    job.refresh_from_db()
    assert (job.state, job.lease_until) == (Job.State.PENDING, None)
    assert [j.pk for j in runner.due_jobs(now=later)] == [job.pk]


def test_an_unknown_kind_fails():
    job = job_record(kind="nothing.known", payload={}, object_id="x")
    assert job.queue == "privileged"
    assert runner.execute(job.pk) == Job.State.FAILED


def test_a_missing_mail_base_is_waited_for_not_created(settings, tmp_path):
    settings.MAILADMIN_MAIL_BASE = tmp_path / "not-mounted"
    job = create_job()
    assert runner.execute(job.pk) == Job.State.PENDING
    assert not settings.MAILADMIN_MAIL_BASE.exists()
