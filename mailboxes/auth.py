"""Who may log in as a mailbox (the self-service portal builds on this)."""

from __future__ import annotations

from mailadmin.lib import passwords
from mailadmin.lib.storable import storable
from mailboxes.models import Mailbox


def mailbox_may_log_in(mailbox: Mailbox) -> bool:
    """Active and unexpired, in an active and unexpired domain."""
    domain = mailbox.domain
    return (
        bool(mailbox.active)
        and not mailbox.is_expired
        and bool(domain.active)
        and not domain.is_expired
    )


def authenticate_mailbox(address: str, password: str) -> Mailbox | None:
    """The mailbox for these credentials, or None (unknown, wrong password, or refused)."""
    if not address or not password:
        return None
    key = storable(address.strip().lower())  # one no mailbox can have finds nothing
    mailbox = Mailbox.objects.select_related("domain").filter(pk=key).first()
    if mailbox is None:
        passwords.dummy_verify(password)
        return None
    if not passwords.verify_password(password, mailbox.password):
        return None
    return mailbox if mailbox_may_log_in(mailbox) else None
