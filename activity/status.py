"""The system status page's figures (ExtMan's "system info"): this host's load and the disk of
the mail base, Postfix's queues, the Celery workers, the oldest job still waiting, and each
mail log follower's last write. Every probe has a short time limit: the page never waits more
than a few seconds, whatever is down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from typing import Any

from django.conf import settings

from activity.models import FollowerPosition
from provisioning.models import Job

PROBE_TIMEOUT = 2.0


def load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:
        return None


def mail_base_disk() -> dict[str, Any] | None:
    try:
        usage = shutil.disk_usage(settings.MAILADMIN_MAIL_BASE)
    except OSError:
        return None
    return {
        "path": str(settings.MAILADMIN_MAIL_BASE),
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "percent": round(usage.used * 100 / usage.total, 1) if usage.total else 0,
    }


def postfix_queues() -> dict[str, Any]:
    """Messages per Postfix queue (``postqueue -j``: one JSON object per message)."""
    command = [settings.MAILADMIN_POSTQUEUE, "-j"]
    if settings.MAILADMIN_POSTFIX_CONFIG_DIR:
        command[1:1] = ["-c", settings.MAILADMIN_POSTFIX_CONFIG_DIR]
    try:
        result = subprocess.run(  # noqa: S603 - a fixed argument list from settings
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc) or type(exc).__name__}
    if result.returncode != 0:
        return {"error": (result.stderr or result.stdout).strip()[:300]}
    queues: Counter[str] = Counter()
    for line in result.stdout.splitlines():
        try:
            queues[json.loads(line).get("queue_name", "?")] += 1
        except ValueError:
            continue
    return {"queues": dict(sorted(queues.items())), "total": sum(queues.values())}


def celery_workers() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"inline": True}
    from mailadmin.celery import app

    try:
        inspect = app.control.inspect(timeout=1.0)
        replies = inspect.active_queues() or {}
    except Exception as exc:  # the broker is down or hangs: say so, never fail the page
        return {"error": str(exc)[:300]}
    return {
        "workers": [
            {"name": name, "queues": sorted(q["name"] for q in queues or [])}
            for name, queues in sorted(replies.items())
        ]
    }


def oldest_pending_job() -> Job | None:
    return Job.objects.filter(state=Job.State.PENDING).order_by("created_at", "id").first()


def system_status() -> dict[str, Any]:
    return {
        "host": os.uname().nodename,
        "load": load(),
        "disk": mail_base_disk(),
        "postfix": postfix_queues(),
        "celery": celery_workers(),
        "oldest_job": oldest_pending_job(),
        "followers": list(FollowerPosition.objects.order_by("host", "source")),
    }
