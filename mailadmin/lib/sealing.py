"""Sealing: authenticated encryption of short-lived secrets kept in the database.

A background operation needs secrets while it waits and runs (the passwords of an import's
lines) or until its result is shown (the passwords a bulk reset generated). They are kept
sealed with Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from ``SECRET_KEY``, so a
copy of the database alone reveals nothing, and the rows are wiped as soon as the secret is no
longer needed (docs/jobs.md). Keys of ``SECRET_KEY_FALLBACKS`` still open what was sealed
before a key change.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils.crypto import salted_hmac

__all__ = ["SealError", "seal", "unseal"]

_SALT = "mailadmin.lib.sealing"


class SealError(ValueError):
    """A sealed value that cannot be opened: tampered with, or sealed under another key."""


def _fernet(purpose: str) -> MultiFernet:
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    keys = [
        Fernet(
            base64.urlsafe_b64encode(
                salted_hmac(_SALT, purpose, secret=s, algorithm="sha256").digest()
            )
        )
        for s in secrets
    ]
    return MultiFernet(keys)


def seal(value: Any, *, purpose: str) -> str:
    """``value`` (anything JSON can hold) as an opaque text; ``purpose`` separates the keys of
    different uses, so a value sealed for one cannot be opened as another."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return _fernet(purpose).encrypt(data).decode("ascii")


def unseal(token: str, *, purpose: str) -> Any:
    """The value :func:`seal` sealed for ``purpose``; :class:`SealError` if it cannot be
    opened."""
    try:
        data = _fernet(purpose).decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise SealError("the sealed value cannot be opened with this server's keys") from exc
    return json.loads(data)
