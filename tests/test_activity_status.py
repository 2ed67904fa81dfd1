"""The system status page: this host's load and mail base disk, Postfix's queue sizes from
``postqueue -j``, the workers, the oldest pending job and the followers; nothing that is down
or missing breaks it."""

from __future__ import annotations

import json
import sys

import pytest
from django.urls import reverse

from activity.models import FollowerPosition
from provisioning.models import Job
from provisioning.services import job_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def postqueue(tmp_path, settings):
    entries = [{"queue_name": "deferred", "queue_id": f"Q{n}"} for n in range(3)]
    entries.append({"queue_name": "hold", "queue_id": "H1"})
    data = tmp_path / "queue.json"
    data.write_text("".join(json.dumps(e) + "\n" for e in entries))
    script = tmp_path / "postqueue"
    script.write_text(f"#!{sys.executable}\nprint(open({str(data)!r}).read(), end='')\n")
    script.chmod(0o755)
    settings.MAILADMIN_POSTQUEUE = str(script)
    return script


def test_the_superadmin_sees_queues_disk_jobs_and_followers(
    client_as, postqueue, settings, tmp_path
):
    settings.MAILADMIN_MAIL_BASE = tmp_path
    job_record(kind=Job.Kind.MAILDIR_QUOTA, payload={}, domain="a.test", object_id="user@a.test")
    FollowerPosition.objects.create(host="mx7", source="/var/log/mail.log", lines=42, unknown=1)
    response = client_as("superadmin").get(reverse("activity:status"))
    body = response.content.decode()
    assert response.status_code == 200
    assert str(tmp_path) in body
    assert 'data-queue="deferred">deferred: 3' in body and 'data-queue="hold">hold: 1' in body
    assert "4 messages in the queues" in body
    assert "No broker" in body  # the tests run jobs inline
    assert "Oldest pending job" in body and "#" in body
    assert "mx7" in body and "/var/log/mail.log" in body


def test_a_missing_postqueue_is_said_not_an_error(client_as, settings):
    settings.MAILADMIN_POSTQUEUE = "/nonexistent/postqueue"
    response = client_as("superadmin").get(reverse("activity:status"))
    assert response.status_code == 200
    assert "postqueue failed" in response.content.decode()
