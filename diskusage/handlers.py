"""The ``maildir.usage`` job on the storage host: measure its Maildirs (all of them, one
domain's, or the mailboxes named in the payload) and store the figures; then have the quota
warnings checked (on the ``mailadmin`` queue, where the panel's mails are sent)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from diskusage.measure import measure_mailboxes
from provisioning.archives import mailhost_of
from provisioning.handlers import register
from provisioning.models import Job

log = logging.getLogger("mailadmin.jobs")


def check_warnings_later() -> None:
    """Send the quota warnings task to the ``mailadmin`` queue (inline without a broker). A
    failure is only logged: the next measurement, or the periodic check, sends them."""
    from diskusage.tasks import quota_warnings

    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            quota_warnings.apply(throw=True)
        else:
            quota_warnings.apply_async(queue="mailadmin", retry=False)
    except Exception as exc:
        log.warning("quota warnings not checked after a measurement: %s", exc)


def maildir_usage(job: Job) -> str:
    payload = job.payload or {}
    addresses = payload.get("addresses") or []
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ValueError("the payload's addresses must be a list of addresses")
    result = measure_mailboxes(
        Path(settings.MAILADMIN_MAIL_BASE),
        mailhost_of(job),
        domain=str(payload.get("domain") or ""),
        addresses=addresses,
    )
    check_warnings_later()
    if addresses and not result.refused:
        return ""  # a mailbox's own measurement: its page shows the figures, not a note
    return result.note()


def register_handlers() -> None:
    register(Job.Kind.MAILDIR_USAGE, maildir_usage)
