"""Questions that span the apps."""

from __future__ import annotations

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


OWNER_LABELS = {
    "mailbox": _("a mailbox"),
    "alias": _("an alias"),
    "signup": _("a pending signup request"),
}
