"""What a mailbox uses on disk, read from its Maildir++ ``maildirsize`` file."""

from __future__ import annotations

from django.conf import settings

from mailadmin.lib.maildir import UnsafePathError, safe_path
from mailboxes.models import Mailbox

MAX_MAILDIRSIZE_BYTES = 1_000_000


def maildir_usage(mailbox: Mailbox) -> int | None:
    """Bytes used (the sum of the size lines), or None when unknown (no Maildir here)."""
    try:
        path = safe_path(settings.MAILADMIN_MAIL_BASE, f"{mailbox.maildir.rstrip('/')}/maildirsize")
        with path.open("rb") as handle:
            content = handle.read(MAX_MAILDIRSIZE_BYTES)
    except (OSError, UnsafePathError):
        return None
    used = 0
    for line in content.decode("ascii", "replace").splitlines()[1:]:
        parts = line.split()
        if not parts:
            continue
        try:
            used += int(parts[0])
        except ValueError:
            return None
    return max(used, 0)
