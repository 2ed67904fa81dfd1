"""Password hashes of the extmail schema: reading every legacy form, writing mail-stack forms.

An ExtMan database holds whatever its admins and import scripts wrote over the years, in the
``password`` columns of ``manager`` and ``mailbox``: bare md5crypt (the EMOS default), DES crypt,
hex MD5, LDAP-style ``{MD5}``/``{SHA}``/``{SSHA}``, Dovecot-style ``{SCHEME}`` prefixes, SHA-crypt,
bcrypt and even cleartext. :func:`verify_password` reads all of them; :func:`hash_password`
writes only forms that Dovecot, Postfix SASL and ExtMail read (see :data:`SCHEMES`). Django's own
hashers are never involved: the mail stack could not read their output.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from passlib import exc as passlib_exc
from passlib.hash import (
    bcrypt,
    des_crypt,
    ldap_md5,
    ldap_salted_sha1,
    ldap_sha1,
    md5_crypt,
    sha256_crypt,
    sha512_crypt,
)

__all__ = [
    "SCHEMES",
    "dummy_verify",
    "hash_password",
    "identify",
    "importable_hash",
    "needs_rehash",
    "verify_password",
]

#: Schemes new hashes may be written in (``settings.MAILADMIN_PASSWORD_SCHEME``).
SCHEMES = ("md5crypt", "sha512crypt", "sha256crypt")

DEFAULT_SCHEME = "md5crypt"
#: glibc's default for SHA-crypt, and what ``doveadm pw -s SHA512-CRYPT`` writes.
DEFAULT_ROUNDS = 5000

_H64 = r"[./0-9A-Za-z]"  # the crypt(3) "hash64" alphabet
_B64 = r"[+/0-9A-Za-z]"

# The complete shape of each scheme's stored value (after any ``{SCHEME}`` prefix).
_SHAPES: dict[str, re.Pattern[str]] = {
    "md5crypt": re.compile(rf"\$1\${_H64}{{0,8}}\${_H64}{{22}}"),
    "sha256crypt": re.compile(rf"\$5\$(?:rounds=[1-9][0-9]{{0,8}}\$)?{_H64}{{0,16}}\${_H64}{{43}}"),
    "sha512crypt": re.compile(rf"\$6\$(?:rounds=[1-9][0-9]{{0,8}}\$)?{_H64}{{0,16}}\${_H64}{{86}}"),
    "bcrypt": re.compile(rf"\$2[aby]\$[0-9]{{2}}\${_H64}{{53}}"),
    "des_crypt": re.compile(rf"{_H64}{{13}}"),
    "plain_md5": re.compile(r"[0-9A-Fa-f]{32}"),
    "ldap_md5": re.compile(rf"{_B64}{{22}}=="),
    "ldap_sha1": re.compile(rf"{_B64}{{27}}="),
    # base64 of sha1 digest (20 bytes) + salt of 4..16 bytes; the length is checked on decoding
    "ldap_salted_sha1": re.compile(rf"{_B64}{{32,48}}={{0,2}}"),
}

# Schemes a value without a ``{SCHEME}`` prefix may be in; their shapes never overlap.
_BARE_SCHEMES = ("md5crypt", "sha256crypt", "sha512crypt", "bcrypt", "plain_md5", "des_crypt")

_CRYPT_SCHEMES = ("md5crypt", "des_crypt", "sha256crypt", "sha512crypt", "bcrypt")

# ``{PREFIX}`` (upper-cased) -> the schemes its value may be in.
_PREFIXES: dict[str, tuple[str, ...]] = {
    "CRYPT": _CRYPT_SCHEMES,
    "MD5-CRYPT": ("md5crypt",),
    "DES-CRYPT": ("des_crypt",),
    "SHA256-CRYPT": ("sha256crypt",),
    "SHA512-CRYPT": ("sha512crypt",),
    "BLF-CRYPT": ("bcrypt",),
    "PLAIN-MD5": ("plain_md5",),
    # Dovecot reads {MD5}$1$... as MD5-CRYPT and a hex digest as PLAIN-MD5; LDAP writes base64.
    "MD5": ("ldap_md5", "md5crypt", "plain_md5"),
    "SHA": ("ldap_sha1",),
    "SSHA": ("ldap_salted_sha1",),
    "PLAIN": ("cleartext",),
    "CLEARTEXT": ("cleartext",),
}

_PREFIX_RE = re.compile(r"\{(?P<prefix>[^{}]*)\}(?P<body>.*)", re.DOTALL)

# Values that look like a hash of some scheme this module does not read. They are refused
# rather than compared as cleartext: otherwise the stored hash itself would be a valid password.
_HASH_LIKE_RE = re.compile(
    r"\{[^{}]*\}"  # any {SCHEME} prefix
    r"|\$[0-9A-Za-z_-]+\$"  # modular crypt format: $1$, $6$, $y$, $argon2id$, ...
    # Django's hasher formats
    r"|(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|md5|sha1)\$"
    r"|(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{40}|[0-9A-Fa-f]{56}|[0-9A-Fa-f]{64}|[0-9A-Fa-f]{96}"
    r"|[0-9A-Fa-f]{128})\s*$"  # hex digests
    rf"|{_H64}{{13}}\s*$"  # DES crypt
)


def _verify_cleartext(password: str, stored: str) -> bool:
    return hmac.compare_digest(password.encode("utf-8"), stored.encode("utf-8"))


def _verify_plain_md5(password: str, stored: str) -> bool:
    # usedforsecurity=False only keeps FIPS-mode OpenSSL from refusing MD5 for this legacy form.
    digest = hashlib.md5(password.encode("utf-8"), usedforsecurity=False).hexdigest()
    return hmac.compare_digest(digest, stored.lower())


def _verify_ldap_salted_sha1(password: str, stored: str) -> bool:
    try:
        raw = base64.b64decode(stored, validate=True)
    except binascii.Error:
        return False
    if not 24 <= len(raw) <= 36:  # 20-byte digest + the 4..16-byte salt passlib accepts
        return False
    return ldap_salted_sha1.verify(password, "{SSHA}" + stored)


def _verify_bcrypt(password: str, stored: str) -> bool:
    try:
        return bcrypt.verify(password, stored)
    except passlib_exc.MissingBackendError:  # the ``bcrypt`` package is a dependency
        return False


_VERIFIERS: dict[str, Callable[[str, str], bool]] = {
    "md5crypt": md5_crypt.verify,
    "des_crypt": des_crypt.verify,
    "sha256crypt": sha256_crypt.verify,
    "sha512crypt": sha512_crypt.verify,
    "bcrypt": _verify_bcrypt,
    "plain_md5": _verify_plain_md5,
    "ldap_md5": lambda password, stored: ldap_md5.verify(password, "{MD5}" + stored),
    "ldap_sha1": lambda password, stored: ldap_sha1.verify(password, "{SHA}" + stored),
    "ldap_salted_sha1": _verify_ldap_salted_sha1,
    "cleartext": _verify_cleartext,
}


def _parse(stored: str) -> tuple[str, str | None, str] | None:
    """Split a stored value into (scheme, upper-cased prefix or None, value without prefix).

    None when the value is empty, malformed, hash-like but of an unknown scheme, or has an
    unknown ``{SCHEME}`` prefix.
    """
    if not isinstance(stored, str) or not stored:
        return None
    match = _PREFIX_RE.fullmatch(stored)
    if match:
        prefix = match["prefix"].upper()
        body = match["body"]
        for scheme in _PREFIXES.get(prefix, ()):
            if scheme == "cleartext" or _SHAPES[scheme].fullmatch(body):
                return scheme, prefix, body
        return None
    for scheme in _BARE_SCHEMES:
        if _SHAPES[scheme].fullmatch(stored):
            return scheme, None, stored
    if _HASH_LIKE_RE.match(stored.strip()):
        return None
    return "cleartext", None, stored


def identify(stored: str) -> str | None:
    """The scheme a stored value is in, or None for an empty, malformed or unknown value.

    One of ``md5crypt``, ``des_crypt``, ``plain_md5``, ``ldap_md5``, ``ldap_sha1``,
    ``ldap_salted_sha1``, ``cleartext``, ``sha256crypt``, ``sha512crypt``, ``bcrypt``. A value
    that has the shape of no hash at all is ``cleartext``.
    """
    parsed = _parse(stored)
    return parsed[0] if parsed else None


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches the stored value, in any scheme an ExtMan database holds.

    Never raises: an empty, malformed or unknown stored value and an empty password are all
    simply False.
    """
    if not isinstance(password, str) or not password:
        return False
    parsed = _parse(stored)
    if parsed is None:
        return False
    scheme, _prefix, body = parsed
    try:
        return bool(_VERIFIERS[scheme](password, body))
    except (ValueError, TypeError, passlib_exc.MissingBackendError):
        # passlib refuses NUL bytes, over-long passwords and out-of-range parameters
        return False


def _scheme(scheme: str | None) -> str:
    if scheme is None:
        scheme = getattr(settings, "MAILADMIN_PASSWORD_SCHEME", DEFAULT_SCHEME)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown password scheme {scheme!r}; expected one of {SCHEMES}")
    return scheme


def _rounds() -> int:
    return int(getattr(settings, "MAILADMIN_PASSWORD_ROUNDS", DEFAULT_ROUNDS))


def hash_password(password: str, scheme: str | None = None) -> str:
    """Hash a new password in a form the mail stack reads.

    ``scheme`` defaults to ``settings.MAILADMIN_PASSWORD_SCHEME``; SHA-crypt uses
    ``settings.MAILADMIN_PASSWORD_ROUNDS`` rounds. Output: md5crypt ``$1$salt$hash`` (bare, as
    ExtMan writes it), sha512crypt ``{CRYPT}$6$...``, sha256crypt ``{CRYPT}$5$...`` (Dovecot
    needs the prefix for those). Raises ValueError for an unknown scheme or an empty password.
    """
    scheme = _scheme(scheme)
    if not isinstance(password, str) or not password:
        raise ValueError("refusing to hash an empty password")
    if scheme == "md5crypt":
        return md5_crypt.hash(password)
    handler = sha512_crypt if scheme == "sha512crypt" else sha256_crypt
    # With 5000 rounds (glibc's default) passlib leaves "rounds=" out, as glibc and doveadm do.
    return "{CRYPT}" + handler.using(rounds=_rounds()).hash(password)


def needs_rehash(stored: str, scheme: str | None = None) -> bool:
    """Whether a stored value should be rewritten by :func:`hash_password` at the next login.

    False only for a value in the configured scheme's output form: md5crypt bare or as
    ``{CRYPT}$1$...``; SHA-crypt as ``{CRYPT}$6$``/``{CRYPT}$5$`` with the configured rounds.
    """
    scheme = _scheme(scheme)
    parsed = _parse(stored)
    if parsed is None:
        return True
    stored_scheme, prefix, body = parsed
    if stored_scheme != scheme:
        return True
    if scheme == "md5crypt":
        return prefix not in (None, "CRYPT")
    if prefix != "CRYPT":
        return True
    handler = sha512_crypt if scheme == "sha512crypt" else sha256_crypt
    try:
        return handler.from_string(body).rounds != _rounds()
    except ValueError:
        return True


def importable_hash(stored: str) -> str:
    """An existing hash (from ExtMan or another panel) in the form the panel stores it, for a
    migration that keeps everyone's password. Raises ValueError for a value that is not a hash
    this module verifies (cleartext, ``{PLAIN}``, an unknown scheme).

    The digest is never changed, only its spelling, to one that Courier authlib, Dovecot
    (``default_pass_scheme = CRYPT``) and ExtMail all read where one exists: SHA-crypt as
    ``{CRYPT}$6$``/``{CRYPT}$5$`` (not bare, not ``{SHA512-CRYPT}``), md5crypt bare, a hex MD5
    digest as ``{MD5}`` + base64 (the same 16 bytes), bcrypt as ``{BLF-CRYPT}``. ``{SHA}``,
    ``{SSHA}``, ``{MD5}`` base64 and DES crypt are kept as they are.
    """
    value = stored.strip() if isinstance(stored, str) else ""
    parsed = _parse(value)
    if parsed is None:
        raise ValueError(_("not a password hash of a known scheme"))
    scheme, _prefix, body = parsed
    if scheme == "cleartext":
        raise ValueError(
            _("not a password hash (a password in clear text goes in the password column)")
        )
    if scheme in ("sha256crypt", "sha512crypt"):
        return "{CRYPT}" + body
    if scheme == "md5crypt":
        return body
    if scheme == "plain_md5":
        return "{MD5}" + base64.b64encode(bytes.fromhex(body)).decode("ascii")
    if scheme == "bcrypt":
        return "{BLF-CRYPT}" + body
    if scheme == "des_crypt":
        return body
    prefix = {"ldap_md5": "{MD5}", "ldap_sha1": "{SHA}", "ldap_salted_sha1": "{SSHA}"}[scheme]
    return prefix + body


@functools.lru_cache(maxsize=8)
def _dummy_hash(scheme: str, rounds: int) -> str:
    return hash_password(secrets.token_urlsafe(16), scheme)


def dummy_verify(password: str) -> None:
    """Spend the time of one verification in the configured scheme, and forget the result.

    Called when there is no account to check, so that "unknown user" and "wrong password"
    take about as long.
    """
    scheme = _scheme(None)
    verify_password(password or "-", _dummy_hash(scheme, _rounds()))


class StorablePasswordValidator:
    """Refuses control characters (NUL above all): the crypt(3) schemes that Courier and
    Dovecot read cannot hash a NUL, and no mail client can type the others. A password
    validator, so that every path that sets a password (forms, services, import) refuses it
    as a field error instead of failing in :func:`hash_password`."""

    def validate(self, password: str, user: object = None) -> None:
        if any(ord(c) < 32 or ord(c) == 127 for c in password):
            raise ValidationError(
                _("The password may not contain control characters."),
                code="password_control_characters",
            )

    def get_help_text(self) -> str:
        return _("Your password may not contain control characters.")
