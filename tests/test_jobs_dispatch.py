"""Sending jobs after commit, and the sweeper that re-sends what was lost (SPEC §4.1)."""

from __future__ import annotations

import datetime
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from provisioning import runner
from provisioning.models import Job
from provisioning.services import PRIVILEGED_QUEUE, queue_for, storage_queue
from tests.test_jobs_runner import create_job

pytestmark = pytest.mark.django_db


def test_routing_follows_the_storage_host():
    assert queue_for(Job.Kind.MAILDIR_CREATE, "") == "maildir.default"
    assert queue_for(Job.Kind.MAILDIR_ARCHIVE, None) == "maildir.default"
    assert queue_for(Job.Kind.MAILDIR_MOVE, "store2") == "maildir.store2"
    assert queue_for(Job.Kind.DOMAIN_MOVE, "store2") == storage_queue("store2")
    assert queue_for(Job.Kind.POSTFIX_TABLES, "store2") == PRIVILEGED_QUEUE
    assert create_job(mailhost="store2").queue == "maildir.store2"


def test_the_job_is_sent_only_after_commit(django_capture_on_commit_callbacks, settings):
    """Inline mode (no broker): the job runs once the data change has committed."""
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = create_job()
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert job.state == Job.State.PENDING  # nothing ran inside the transaction
    callbacks[0]()
    job.refresh_from_db()
    assert job.state == Job.State.DONE
    assert (settings.MAILADMIN_MAIL_BASE / "a.test/alice/Maildir/maildirsize").is_file()


def test_a_rolled_back_change_sends_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        create_job()
        raise RuntimeError("the data change failed")
    assert callbacks == []
    assert not Job.objects.exists()


def test_a_broker_that_is_down_leaves_the_job_pending(
    use_broker, django_capture_on_commit_callbacks
):
    use_broker("redis://127.0.0.1:1/0")  # nothing listens on port 1
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        job = create_job()
    assert time.monotonic() - started < 5  # the request does not hang on the broker
    job.refresh_from_db()
    assert job.state == Job.State.PENDING
    assert job.attempts == 0


def test_the_sweeper_resends_jobs_nobody_took_and_runs_retries_when_due(settings):
    settings.MAILADMIN_JOB_RESEND_AFTER = 60
    fresh = create_job("a.test/fresh")
    lost = create_job("a.test/lost")
    retry = create_job("a.test/retry")
    later = create_job("a.test/later")
    now = timezone.now()
    Job.objects.filter(pk=lost.pk).update(updated_at=now - datetime.timedelta(seconds=61))
    Job.objects.filter(pk=retry.pk).update(run_after=now - datetime.timedelta(seconds=1))
    Job.objects.filter(pk=later.pk).update(run_after=now + datetime.timedelta(seconds=30))

    # Inline mode: "sending" runs the job at once.
    assert runner.sweep() == {"reclaimed": 0, "sent": 2}
    states = dict(Job.objects.values_list("pk", "state"))
    assert states[lost.pk] == Job.State.DONE
    assert states[retry.pk] == Job.State.DONE
    assert states[fresh.pk] == Job.State.PENDING  # its own message is still on its way
    assert states[later.pk] == Job.State.PENDING  # its retry delay has not passed yet


def test_the_sweeper_reclaims_the_jobs_of_a_dead_worker_and_runs_them_at_once(settings):
    settings.MAILADMIN_JOB_LEASE = 30
    job = create_job()
    past = timezone.now() - datetime.timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(state=Job.State.RUNNING, attempts=1, lease_until=past)
    # Reclaimed and sent in the same sweep: no wait for the resend interval.
    assert runner.sweep() == {"reclaimed": 1, "sent": 1}
    job.refresh_from_db()
    assert (job.state, job.attempts) == (Job.State.DONE, 2)


def test_a_job_whose_lease_is_renewed_is_left_alone(settings):
    settings.MAILADMIN_JOB_LEASE = 30
    job = create_job()
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state=Job.State.RUNNING, lease_until=now + datetime.timedelta(seconds=30)
    )
    assert runner.sweep(now=now + datetime.timedelta(seconds=20)) == {"reclaimed": 0, "sent": 0}
    job.refresh_from_db()
    assert job.state == Job.State.RUNNING


def test_sweep_jobs_command(settings):
    settings.MAILADMIN_JOB_RESEND_AFTER = 1
    job = create_job()
    Job.objects.filter(pk=job.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=1))
    out = StringIO()
    call_command("sweep_jobs", stdout=out)
    assert out.getvalue().splitlines() == [
        "0 stale jobs reclaimed, 1 jobs sent",
        "0 operations failed (worker gone), 0 operations sent",
    ]
    job.refresh_from_db()
    assert job.state == Job.State.DONE


def test_the_beat_schedule_runs_the_sweeper(settings):
    from mailadmin.celery import app

    entry = app.conf.beat_schedule["mailadmin-sweep-jobs"]
    assert entry["task"] == "provisioning.sweep"
    assert entry["schedule"] == float(settings.MAILADMIN_JOB_SWEEP_INTERVAL)
    assert "provisioning.sweep" in app.tasks


def test_the_beat_schedule_runs_every_periodic_task_that_exists():
    from mailadmin.celery import app

    app.loader.import_default_modules()
    for name, entry in app.conf.beat_schedule.items():
        assert entry["task"] in app.tasks, name
