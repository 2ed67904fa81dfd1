"""Normalisation and validation of domain names, local parts and addresses (SPEC §2.3).

Addresses and domains are stored lower-case; an internationalised domain name is accepted in
Unicode and stored as its ASCII (punycode) form. Local parts use ExtMan's set ``[a-z0-9._-]``.
"""

from __future__ import annotations

import re

import idna
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_LOCAL_RE = re.compile(r"^[a-z0-9._-]{1,64}$")
MAX_DOMAIN_LENGTH = 253
MAX_ADDRESS_LENGTH = 255


def normalize_domain(value: str) -> str:
    """The stored (ASCII, lower-case) form of a domain name; raises ValidationError."""
    name = (value or "").strip().rstrip(".").lower()
    if not name:
        raise ValidationError(_("Enter a domain name."), code="required")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValidationError(
                _("%(name)s is not a valid internationalised domain name."),
                code="invalid",
                params={"name": value},
            ) from exc
    labels = name.split(".")
    if (
        len(name) > MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or not all(_LABEL_RE.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ValidationError(
            _(
                "%(name)s is not a valid domain name: use at least two labels of letters,"
                " digits and hyphens, such as example.com."
            ),
            code="invalid",
            params={"name": value},
        )
    if any(label.startswith("xn--") for label in labels):
        try:
            idna.decode(name)
        except idna.IDNAError as exc:
            raise ValidationError(
                _("%(name)s is not a valid internationalised domain name."),
                code="invalid",
                params={"name": value},
            ) from exc
    return name


def domain_unicode(name: str) -> str:
    """The Unicode form of a stored domain name (itself when it is not an IDN)."""
    if "xn--" not in name:
        return name
    try:
        return idna.decode(name)
    except idna.IDNAError:
        return name


def normalize_local_part(value: str) -> str:
    """The stored form of a local part: ExtMan's ``[a-z0-9._-]``, 1-64, no dot at the ends
    and no doubled dot. Raises ValidationError."""
    local = (value or "").strip().lower()
    if not local:
        raise ValidationError(_("Enter the part before the @."), code="required")
    if not _LOCAL_RE.match(local) or local.startswith(".") or local.endswith(".") or ".." in local:
        raise ValidationError(
            _(
                "Use 1 to 64 of the characters a-z, 0-9, dot, hyphen and underscore, with no"
                " dot at the start or end and no two dots in a row."
            ),
            code="invalid",
        )
    return local


def normalize_address(value: str) -> str:
    """A full address ``local@domain`` in its stored form. Raises ValidationError."""
    text = (value or "").strip()
    local, at, domain = text.rpartition("@")
    if not at or not local:
        raise ValidationError(
            _("%(address)s is not an address such as name@example.com."),
            code="invalid",
            params={"address": text},
        )
    address = f"{normalize_local_part(local)}@{normalize_domain(domain)}"
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ValidationError(_("The address is too long."), code="max_length")
    return address


def split_address(address: str) -> tuple[str, str]:
    local, _at, domain = address.rpartition("@")
    return local, domain


def _valid_domain(name: str) -> bool:
    try:
        return normalize_domain(name) == name
    except ValidationError:
        return False


def _valid_address(address: str) -> bool:
    if address.startswith("@"):  # a catch-all alias
        return _valid_domain(address[1:])
    try:
        return normalize_address(address) == address
    except ValidationError:
        return False


def domain_key_problems(name: str) -> list[str]:
    """Labels for what is wrong with a stored domain name (none for a valid one): legacy rows
    can hold names such as '' or ``odd_domain!.example``."""
    return [] if _valid_domain(name) else [str(_("invalid domain name"))]


def key_problems(address: str, domain: str) -> list[str]:
    """Labels for what is wrong with a stored mailbox or alias address (``@domain`` for a
    catch-all) in the row of ``domain``: no valid address, or another domain than the row's."""
    problems = []
    if not _valid_address(address):
        problems.append(str(_("invalid address")))
    if split_address(address)[1].lower() != domain.lower():
        problems.append(str(_("domain mismatch")))
    return problems
