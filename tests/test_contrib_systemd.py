"""The example systemd units of docs/jobs.md: valid for systemd, and consuming the queues
that the panel actually sends to."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

from provisioning.services import PRIVILEGED_QUEUE, storage_queue

UNITS = Path(__file__).resolve().parent.parent / "contrib" / "systemd"


def exec_start(unit: str) -> str:
    text = (UNITS / unit).read_text().replace("\\\n", " ")
    return re.search(r"^ExecStart=(.*)$", text, re.MULTILINE).group(1)


@pytest.mark.parametrize("unit", sorted(p.name for p in UNITS.glob("*.service")))
def test_systemd_accepts_the_unit(unit):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(UNITS / unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    # The checkout path of the examples does not exist here; everything else must be clean.
    problems = [
        line
        for line in result.stderr.splitlines()
        if line.strip()
        and not re.search(
            r"/opt/mailadmin/\.venv/bin/(celery|gunicorn|python) is not executable", line
        )
    ]
    assert problems == []


def test_the_workers_consume_the_queues_jobs_are_sent_to():
    storage = exec_start("mailadmin-worker-storage.service")
    privileged = exec_start("mailadmin-worker-privileged.service")
    queues = re.search(r"--queues (\S+)", storage).group(1).split(",")
    assert storage_queue("") in queues
    assert settings.CELERY_TASK_DEFAULT_QUEUE in queues  # the sweeper's queue
    assert re.search(r"--queues (\S+)", privileged).group(1).split(",") == [PRIVILEGED_QUEUE]
    assert " beat " in exec_start("mailadmin-beat.service")


def test_the_follower_unit_reads_the_mail_log_with_the_follower_command():
    command = exec_start("mailadmin-follow-maillog.service")
    assert command.endswith("manage.py follow_maillog --file /var/log/mail.log")
