"""The system status and mail queue pages (mailstack.status, mailstack.status_views): what a
real private Postfix holds, as the pages show it, and the queue actions carried out on it."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from mailstack import services, status
from mailstack.models import HostStatus, StatusCollection
from provisioning.models import Job
from tests.mailservers import HeldPostfix, start_held

pytestmark = pytest.mark.django_db

STATUS = reverse("mailstack:status")
QUEUE = reverse("mailstack:queue")
ACTION = reverse("mailstack:queue_action")


@pytest.fixture
def held(settings):
    """A running private Postfix with two deferred messages; the panel reads its queue."""
    server, (server.first, server.second) = start_held(
        [("alice@a.test", "bob@remote.example"), ("carol@a.test", "dave@elsewhere.example")]
    )
    settings.MAILADMIN_POSTFIX_CONFIG_DIR = str(server.conf)
    try:
        yield server
    finally:
        server.stop()


def queue_names(server: HeldPostfix) -> dict[str, str]:
    return {m["queue_id"]: m["queue_name"] for m in server.messages()}


def test_the_status_reads_the_real_queue_and_services(held, settings, tmp_path):
    settings.MAILADMIN_MAIL_BASE = tmp_path
    report = status.local_status()
    queue = report["postfix"]["queue"]
    assert queue["counts"]["deferred"] == 2 and queue["total"] == 2
    by_id = {m["queue_id"]: m for m in queue["messages"]}
    assert by_id[held.first]["sender"] == "alice@a.test"
    assert by_id[held.first]["recipients"][0]["address"] == "bob@remote.example"
    assert HeldPostfix.REASON in by_id[held.first]["recipients"][0]["reason"]
    assert report["postfix"]["running"] is True
    assert report["mail_base"]["total"] > report["mail_base"]["free"] > 0
    assert len(report["load"]) == 3


def test_a_host_without_postfix_says_so(settings):
    settings.MAILADMIN_POSTQUEUE = "/nonexistent/postqueue"
    settings.MAILADMIN_POSTFIX = "/nonexistent/postfix"
    settings.MAILADMIN_DOVEADM = "/nonexistent/doveadm"
    report = status.local_status()
    assert report["postfix"] == {"running": None, "queue": {"installed": False}}
    assert report["dovecot"] == {"running": None}


def test_the_status_page_shows_the_collected_host(held, client_as):
    root = client_as("superadmin")
    assert root.post(reverse("mailstack:status_refresh")).status_code == 302
    row = HostStatus.objects.get()
    assert row.data["postfix"]["queue"]["total"] == 2
    page = root.get(STATUS).content.decode()
    assert row.host in page
    assert "2 messages: 0 active, 2 deferred, 0 on hold, 0 incoming" in page
    assert 'data-testid="status-stale"' not in page  # jobs run inline: no beat to wait for
    assert StatusCollection.objects.get().ran_at > timezone.now() - datetime.timedelta(minutes=1)


def test_a_host_that_stopped_reporting_is_flagged(client_as, settings):
    HostStatus.objects.create(
        host="mx2.example",
        data={"host": "mx2.example"},
        reported_at=timezone.now()
        - datetime.timedelta(seconds=4 * settings.MAILADMIN_STATUS_INTERVAL),
    )
    page = client_as("superadmin").get(STATUS).content.decode()
    assert "mx2.example" in page and "not answering" in page


def test_the_oldest_waiting_job_is_shown(client_as, personas):
    job = Job.objects.create(kind=Job.Kind.POSTFIX_TABLES, queue="privileged")
    page = client_as("superadmin").get(STATUS).content.decode()
    assert f"#{job.pk} write Postfix tables" in page


def test_hold_release_and_delete_act_on_the_real_queue(held, client_as, run_jobs):
    root = client_as("superadmin")
    root.post(reverse("mailstack:status_refresh"))
    page = root.get(QUEUE).content.decode()
    assert held.first in page and held.second in page and "bob@remote.example" in page
    arrival = {m["queue_id"]: m["arrival_time"] for m in held.messages()}

    def act(action: str, queue_id: str) -> None:
        answer = root.post(
            ACTION, {"action": action, "queue_id": queue_id, "arrival": arrival[queue_id]}
        )
        assert answer.status_code == 302
        run_jobs()
        job = Job.objects.latest("id")
        assert job.state == Job.State.DONE, job.last_error

    act("hold", held.first)
    assert queue_names(held)[held.first] == "hold"
    # The page after the action: the one notice of the queued job, not a notice per message.
    page = root.get(QUEUE).content.decode()
    assert page.count('role="alert"') == 1 and "queued: its result is shown below" in page
    assert held.first in page and held.second in page
    # The job stored the host's status anew: the page shows the message on hold.
    assert HostStatus.objects.get().data["postfix"]["queue"]["counts"]["hold"] == 1
    act("release", held.first)
    assert queue_names(held)[held.first] in ("deferred", "active", "incoming")
    act("delete", held.second)
    assert held.second not in queue_names(held)
    audited = AuditEntry.objects.filter(action="mailstack.queue_action").order_by("id")
    assert [e.object_id for e in audited] == [held.first, held.first, held.second]


def test_an_action_on_a_message_that_left_changes_nothing(held, personas, run_jobs):
    root = personas["superadmin"]
    services.queue_action_request(action="delete", queue_id="ABCDEF1234", actor=root)
    run_jobs()
    job = Job.objects.latest("id")
    assert job.state == Job.State.DONE and "not in the queue any more" in job.payload["output"]
    assert len(held.messages()) == 2


def test_a_reused_queue_id_is_not_trusted(held, personas, run_jobs):
    """The job was recorded for the message that arrived at another time: Postfix gave its id
    to a new message since. The job refuses, and the new message stays."""
    arrival = {m["queue_id"]: m["arrival_time"] for m in held.messages()}[held.first]
    services.queue_action_request(
        action="delete", queue_id=held.first, arrival=arrival - 3600, actor=personas["superadmin"]
    )
    run_jobs()
    job = Job.objects.latest("id")
    assert job.state == Job.State.FAILED and "another message" in job.last_error
    assert held.first in queue_names(held)


@pytest.mark.parametrize("queue_id", ["ALL", "all", "", "../x", "AB CD", "x" * 30, "A;B"])
def test_only_one_message_id_is_taken(personas, queue_id, client_as):
    answer = client_as("superadmin").post(ACTION, {"action": "delete", "queue_id": queue_id})
    assert answer.status_code == 302
    assert (
        not Job.objects.exists()
        and not AuditEntry.objects.filter(action="mailstack.queue_action").exists()
    )


def test_an_unknown_action_is_refused(personas, client_as):
    client_as("superadmin").post(ACTION, {"action": "purge", "queue_id": "ABCDEF1234"})
    assert not Job.objects.exists()


def test_flush_is_one_job_without_a_message(held, personas, run_jobs):
    services.queue_action_request(action="flush", queue_id="ignored", actor=personas["superadmin"])
    run_jobs()
    job = Job.objects.get()
    assert job.state == Job.State.DONE and job.payload["queue_id"] == ""
    assert len(held.messages()) == 2  # tried again, deferred again


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_every_worker_answers_the_collection_with_its_host_and_queues(
    start_worker, personas, settings
):
    """The real broadcast: two workers answer with their host's status and their queues; the
    host's row lists both."""
    start_worker("w1", ["privileged", "mailadmin"])
    start_worker("w2", ["maildir.local"])
    settings.MAILADMIN_STATUS_TIMEOUT = 20  # a worker just started on a loaded machine
    assert services.collect_status() == 2
    (row,) = HostStatus.objects.all()
    workers = {w["name"].split("@")[0]: w["queues"] for w in row.workers}
    assert workers == {"w1": ["mailadmin", "privileged"], "w2": ["maildir.local"]}
    assert row.data["load"] and row.data["host"] == row.host
    assert StatusCollection.objects.get().answered == 2
