"""What a mailbox uses on disk, for the portal (docs/disk-usage.md).

The figure the storage workers measured (``MailboxDiskUsage``, the one the panel's lists and
reports show) is read first. A mailbox not measured yet (just created, or a site that has no
storage worker running the measurements) falls back to reading its Maildir++ ``maildirsize``
here, when the web host sees the mail base and the home is the mailbox's own; otherwise the
use is unknown. The portal never walks a Maildir within a request.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings

from mailadmin.lib.maildir import UnsafePathError, safe_path
from mailadmin.lib.maildirsize import MAX_MAILDIRSIZE_BYTES, parse_maildirsize
from mailboxes.homes import mailbox_home_problem
from mailboxes.models import Mailbox, MailboxDiskUsage


def maildir_usage(mailbox: Mailbox) -> int | None:
    """Bytes used according to the Maildir's ``maildirsize`` read now, or None when unknown
    (no Maildir here, an invalid file, or a home that is not the mailbox's own)."""
    if mailbox_home_problem(mailbox, others=False) is not None:
        return None
    try:
        path = safe_path(settings.MAILADMIN_MAIL_BASE, f"{mailbox.maildir.rstrip('/')}/maildirsize")
        with path.open("rb") as handle:
            content = handle.read(MAX_MAILDIRSIZE_BYTES + 1)
    except (OSError, UnsafePathError):
        return None
    if len(content) > MAX_MAILDIRSIZE_BYTES:
        return None
    parsed = parse_maildirsize(content)
    return parsed[0] if parsed is not None else None


def stored_usage(mailbox: Mailbox) -> tuple[int, int | None, datetime.datetime] | None:
    """``(bytes, messages, measured at)`` as last measured by the storage host, or None."""
    row = (
        MailboxDiskUsage.objects.filter(pk=mailbox.pk, used_bytes__isnull=False)
        .values_list("used_bytes", "messages", "measured_at")
        .first()
    )
    return row


def mailbox_usage(mailbox: Mailbox) -> dict[str, Any]:
    """Quota and use: the stored measurement, else ``maildirsize`` read now, else None."""
    stored = stored_usage(mailbox)
    if stored is not None:
        used, messages, measured_at = stored
        return {
            "quota": mailbox.quota_bytes,
            "used": used,
            "messages": messages,
            "measured_at": measured_at,
        }
    return {
        "quota": mailbox.quota_bytes,
        "used": maildir_usage(mailbox),
        "messages": None,
        "measured_at": None,
    }
