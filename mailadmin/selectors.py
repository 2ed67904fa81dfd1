"""Questions that span the apps."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import CharField, Value
from django.utils.translation import gettext_lazy as _

from aliases.models import Alias
from mailboxes.models import Mailbox
from signup.models import SignupRequest


def address_owner(address: str, *, ignore_forwarding_of: str | None = None) -> str | None:
    """What already uses ``address``: "mailbox", "alias", "signup" (a pending signup request
    reserves it) or None (SPEC §2.3).

    ``ignore_forwarding_of`` names a mailbox whose own forwarding alias (same address) is not
    a conflict.
    """
    if Mailbox.objects.filter(pk=address).exists():
        return "mailbox"
    aliases = Alias.objects.filter(pk=address)
    if ignore_forwarding_of == address:
        aliases = aliases.none()
    if aliases.exists():
        return "alias"
    if SignupRequest.objects.filter(pending_address=address).exists():
        return "signup"
    return None


#: Addresses looked up by one query of :func:`address_owners` (three parameters each, well
#: under SQLite's limit of 32,766 parameters per statement).
OWNERS_CHUNK = 5_000
_OWNER_RANK = {"mailbox": 0, "alias": 1, "signup": 2}


def address_owners(addresses: Iterable[str]) -> dict[str, str]:
    """:func:`address_owner` for many addresses at once: ``{address: owner}`` for those in
    use (lower-cased keys), by one query (a UNION of the three tables) per
    :data:`OWNERS_CHUNK` addresses. A mailbox's own forwarding alias is a mailbox anyway."""
    wanted = sorted({a.lower() for a in addresses})
    owners: dict[str, str] = {}
    for start in range(0, len(wanted), OWNERS_CHUNK):
        chunk = wanted[start : start + OWNERS_CHUNK]
        kind = CharField()
        query = (
            Mailbox.objects.filter(pk__in=chunk)
            .annotate(owner=Value("mailbox", output_field=kind))
            .values_list("username", "owner")
            .order_by()
            .union(
                Alias.objects.filter(pk__in=chunk)
                .annotate(owner=Value("alias", output_field=kind))
                .values_list("address", "owner")
                .order_by(),
                SignupRequest.objects.filter(pending_address__in=chunk)
                .annotate(owner=Value("signup", output_field=kind))
                .values_list("pending_address", "owner")
                .order_by(),
                all=True,
            )
        )
        for address, owner in query:
            key = address.lower()
            if key not in owners or _OWNER_RANK[owner] < _OWNER_RANK[owners[key]]:
                owners[key] = owner
    return owners


OWNER_LABELS = {
    "mailbox": _("a mailbox"),
    "alias": _("an alias"),
    "signup": _("a pending signup request"),
}


def address_in_use_message(address: str, owner: str) -> str:
    """The field error for an address that ``owner`` (from :func:`address_owner`) holds."""
    return _("%(address)s is already used by %(owner)s.") % {
        "address": address,
        "owner": OWNER_LABELS[owner],
    }
