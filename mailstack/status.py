"""What one host of the mail system reports about itself (the status page, ExtMan's "system
information"): load, the disk of the mail base, Postfix's queue, and whether Postfix and Dovecot
run.

Each worker answers the ``mailadmin_status`` broadcast with :func:`local_status`
(mailstack.tasks); the periodic collection stores the answers per host in
:class:`mailstack.models.HostStatus`, so the page reads rows and never runs a command. Every
command is a fixed argument list with a short timeout; a host without Postfix or Dovecot says
so instead of failing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from mailstack.tables import _postfix_config_args

#: Seconds any one status command may take.
COMMAND_TIMEOUT = 10
#: Messages of the queue kept per host for the queue page (the oldest first).
QUEUE_SAMPLE = 200
#: A Postfix queue id: short (hex) or long format; never the word ALL, which postsuper takes
#: as "every message".
QUEUE_ID = re.compile(r"^[0-9A-Za-z]{6,20}$")
QUEUE_NAMES = ("incoming", "active", "deferred", "hold", "maildrop", "corrupt")


def valid_queue_id(queue_id: str) -> bool:
    return bool(QUEUE_ID.fullmatch(queue_id)) and queue_id.upper() != "ALL"


def _run(args: list[str]) -> subprocess.CompletedProcess[str] | None:
    """A command's result, or None when it cannot run at all (missing, timed out)."""
    try:
        return subprocess.run(  # noqa: S603 - fixed argument lists from settings
            args,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def _installed(program: str) -> bool:
    return Path(program).exists()


def postfix_queue() -> dict[str, Any]:
    """Postfix's queue from ``postqueue -j``: counts per queue, the total, the oldest arrival
    and the oldest :data:`QUEUE_SAMPLE` messages (id, queue, arrival, size, sender, recipients
    with the reason of their delay)."""
    program = settings.MAILADMIN_POSTQUEUE
    if not _installed(program):
        return {"installed": False}
    result = _run([program, *_postfix_config_args(), "-j"])
    if result is None or result.returncode != 0:
        error = "timed out or could not run" if result is None else result.stderr.strip()
        return {"installed": True, "error": error[-500:]}
    counts = dict.fromkeys(QUEUE_NAMES, 0)
    messages: list[dict[str, Any]] = []
    for line in result.stdout.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        name = str(item.get("queue_name", ""))
        counts[name] = counts.get(name, 0) + 1
        messages.append(
            {
                "queue_id": str(item.get("queue_id", "")),
                "queue": name,
                "arrival": int(item.get("arrival_time") or 0),
                "size": int(item.get("message_size") or 0),
                "sender": str(item.get("sender", "")),
                "recipients": [
                    {
                        "address": str(r.get("address", "")),
                        "reason": str(r.get("delay_reason", ""))[:300],
                    }
                    for r in item.get("recipients", [])[:20]
                ],
            }
        )
    messages.sort(key=lambda m: (m["arrival"], m["queue_id"]))
    return {
        "installed": True,
        "counts": counts,
        "total": len(messages),
        "oldest": messages[0]["arrival"] if messages else None,
        "messages": messages[:QUEUE_SAMPLE],
    }


def postfix_running() -> bool | None:
    """Whether Postfix runs (``postfix status``); None where it is not installed."""
    if not _installed(settings.MAILADMIN_POSTFIX):
        return None
    result = _run([settings.MAILADMIN_POSTFIX, *_postfix_config_args(), "status"])
    return result is not None and result.returncode == 0


def dovecot_running() -> bool | None:
    """Whether Dovecot runs (its master answers ``doveadm service status``); None where it is
    not installed."""
    if not _installed(settings.MAILADMIN_DOVEADM):
        return None
    result = _run([settings.MAILADMIN_DOVEADM, "service", "status"])
    return result is not None and result.returncode == 0


def disk(path: Path) -> dict[str, Any] | None:
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return None
    return {"path": str(path), "total": usage.total, "used": usage.used, "free": usage.free}


def local_status() -> dict[str, Any]:
    """This host's status, as stored in ``HostStatus.data``."""
    try:
        load = list(os.getloadavg())
    except OSError:
        load = None
    return {
        "host": socket.gethostname(),
        "at": timezone.now().isoformat(),
        "load": load,
        "cpus": os.cpu_count(),
        "mail_base": disk(Path(settings.MAILADMIN_MAIL_BASE)),
        "postfix": {"running": postfix_running(), "queue": postfix_queue()},
        "dovecot": {"running": dovecot_running()},
    }
