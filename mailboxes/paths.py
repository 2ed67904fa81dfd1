"""Where a mailbox lives on disk, relative to the mail base (EXTMAIL.md "Paths").

Normal layout: ``<domain>/<local>`` and ``<domain>/<local>/Maildir/``. ISP layout:
``<domain hashdirpath>/<domain>/<user hash>/<local>`` with a random upper-case hex user hash.
Paths are computed once, on create; an existing mailbox's paths are read as stored and only a
rename changes them (:func:`renamed_path`).
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from domains.models import Domain

_HASH_SPEC_RE = re.compile(r"^\s*(?P<length>[1-9])\s*[xX]\s*(?P<depth>[1-9])\s*$")
MAILDIR = "Maildir/"


def isp_user_hash(spec: str | None = None) -> str:
    """A random directory hash of shape ``LxD`` (D levels of L upper-case hex characters).

    ``"2x2"`` gives e.g. ``"3F/9C"``. ``spec`` defaults to ``settings.MAILADMIN_ISP_HASH``.
    """
    spec = settings.MAILADMIN_ISP_HASH if spec is None else spec
    match = _HASH_SPEC_RE.match(spec or "")
    if not match:
        raise ImproperlyConfigured(
            f"MAILADMIN_ISP_HASH must look like 2x2 (length x depth), got {spec!r}"
        )
    length, depth = int(match["length"]), int(match["depth"])
    return "/".join(
        "".join(secrets.choice("0123456789ABCDEF") for _ in range(length)) for _ in range(depth)
    )


def mailbox_paths(domain: Domain, local: str) -> tuple[str, str]:
    """``(homedir, maildir)`` for a new mailbox ``local`` of ``domain``."""
    if settings.MAILADMIN_ISP_MODE:
        prefix = (domain.hashdirpath or "").strip("/")
        parts = (
            [prefix, domain.domain, isp_user_hash(), local]
            if prefix
            else [
                domain.domain,
                isp_user_hash(),
                local,
            ]
        )
        homedir = "/".join(parts)
    else:
        homedir = f"{domain.domain}/{local}"
    return homedir, f"{homedir}/{MAILDIR}"


def renamed_path(path: str, old_local: str, new_local: str) -> str:
    """``path`` with its last segment equal to ``old_local`` replaced by ``new_local``.

    ``a.test/alice/Maildir/`` -> ``a.test/bob/Maildir/``; a legacy path that does not contain
    the old local part as a segment is returned unchanged.
    """
    segments = path.split("/")
    for index in range(len(segments) - 1, -1, -1):
        if segments[index] == old_local:
            segments[index] = new_local
            return "/".join(segments)
    return path
