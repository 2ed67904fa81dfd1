"""Generated passwords and the stored form of recovery answers."""

from __future__ import annotations

import hmac
import secrets
import string

from django.conf import settings

from mailadmin.lib import passwords
from mailadmin.lib.passwords import hash_password

GENERATED_PASSWORD_LENGTH = 16


def hash_recovery_answer(answer: str) -> str:
    """The hashed form of a recovery answer: compared trimmed and case-insensitively."""
    return hash_password(answer.strip().lower(), "sha512crypt")


def stored_recovery_answer(answer: str) -> str:
    """The form of a recovery answer that the panel writes, per
    ``MAILADMIN_RECOVERY_ANSWER_FORMAT``: ``hashed`` (SHA512-crypt of the trimmed, lower-cased
    answer) or ``extmail`` (the trimmed answer in clear text, as ExtMan wrote it and as ExtMail
    webmail's own recovery compares it). Empty for an empty answer."""
    answer = answer.strip()
    if not answer:
        return ""
    if settings.MAILADMIN_RECOVERY_ANSWER_FORMAT == "extmail":
        return answer
    return hash_recovery_answer(answer)


def is_clear_recovery_answer(stored: str) -> bool:
    """Whether a stored answer is in clear text (ExtMan's and the ``extmail`` format)."""
    return (
        bool(stored.strip())
        and passwords.identify(stored) == "cleartext"
        and not stored.startswith("{")
    )


def recovery_answer_matches(stored: str, given: str) -> bool:
    """Whether ``given`` is the answer ``stored`` holds, in either form: trimmed and
    case-insensitive. Never writes anything."""
    given = given.strip().lower()
    if not given or not stored.strip():
        return False
    if is_clear_recovery_answer(stored):
        return hmac.compare_digest(stored.strip().lower().encode(), given.encode())
    return passwords.verify_password(given, stored)


def generate_password(length: int | None = None) -> str:
    """A strong random password (letters and digits without look-alikes, one of each kind)."""
    length = max(length or GENERATED_PASSWORD_LENGTH, settings.MAILADMIN_PASSWORD_MIN_LENGTH)
    alphabet = "".join(c for c in string.ascii_letters + string.digits if c not in "lIO0o1")
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password
