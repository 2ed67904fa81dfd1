"""A mailbox's forwarding (its own alias) and the aliases that list it as a target."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from aliases.index import aliases_targeting
from aliases.models import Alias
from aliases.services import alias_keep_targets
from mailadmin.lib.addresses import normalize_address
from mailboxes.models import Mailbox

MAX_FORWARD_TARGETS = 50


def normalize_forward_targets(targets: list[str] | tuple[str, ...] | str) -> list[str]:
    """Normalised, de-duplicated forward addresses (one per line when given as text)."""
    if isinstance(targets, str):
        targets = targets.splitlines()
    result: list[str] = []
    errors: list[str] = []
    for raw in targets:
        line = raw.strip()
        if not line:
            continue
        try:
            address = normalize_address(line)
        except ValidationError as exc:
            errors.append(f"{line[:100]}: {' '.join(exc.messages)}")
            continue
        if address not in result:
            result.append(address)
    if len(result) > MAX_FORWARD_TARGETS:
        errors.append(_("Enter at most %(n)s forward addresses.") % {"n": MAX_FORWARD_TARGETS})
    if errors:
        raise ValidationError({"forward_to": errors})
    return result


# --- forwarding --------------------------------------------------------------------------------
def forwarding_of(mailbox: Mailbox) -> tuple[list[str], bool]:
    """``(forward targets, keep a copy)`` of a mailbox, read from its forwarding alias."""
    alias = Alias.objects.filter(pk=mailbox.username).first()
    if alias is None:
        return [], False
    targets = alias.targets
    return [t for t in targets if t != mailbox.username], mailbox.username in targets


def set_forwarding(mailbox: Mailbox, targets: list[str], keep_copy: bool) -> tuple[str, str] | None:
    """Store the forwarding alias; ``(old goto, new goto)`` when it changed, else None."""
    targets = normalize_forward_targets(list(targets))
    if mailbox.username in targets:
        raise ValidationError(
            {"forward_to": _("Do not forward a mailbox to itself: tick “keep a copy” instead.")}
        )
    alias = Alias.objects.filter(pk=mailbox.username).first()
    old_goto = alias.goto if alias else ""
    if not targets:
        if alias is None or set(alias.targets) <= {mailbox.username}:
            return None  # no forwarding, or a legacy self-alias that shields from a catch-all
        alias.delete()
        return old_goto, ""
    wanted = [*targets, mailbox.username] if keep_copy else targets
    if alias is not None and set(alias.targets) == set(wanted):
        return None  # same targets: keep the stored order and form
    goto = ",".join(wanted)
    if alias is None:
        Alias.objects.create(
            address=mailbox.username,
            goto=goto,
            domain_id=mailbox.domain_id,
            active=mailbox.active,
        )
    else:
        alias.goto = goto
        alias.save(update_fields=["goto"])
    return old_goto, goto


def replace_in_alias_targets(
    old: str, new: str | None, *, actor: Any, request: HttpRequest | None
) -> tuple[list[str], list[str]]:
    """Replace (or, with ``new=None``, remove) ``old`` in every alias's targets.

    Returns ``(changed aliases, deleted aliases)``; an alias left without targets is deleted.
    The mailbox's own forwarding alias is handled by the caller.
    """
    changed: list[str] = []
    deleted: list[str] = []
    candidates = (
        Alias.objects.filter(pk__in=aliases_targeting(old)).exclude(pk=old).order_by("address")
    )
    for alias in candidates.select_for_update():
        targets = alias.targets
        if old not in (t.lower() for t in targets):
            continue  # only a substring of another target
        updated: list[str] = []
        for target in targets:
            replacement = (new if target.lower() == old else target) or None
            if replacement and replacement not in updated:
                updated.append(replacement)
        address = alias.address
        gone = alias_keep_targets(
            alias,
            updated,
            actor=actor,
            request=request,
            message=gettext_noop("target %(old)s replaced by %(new)s")
            if new
            else gettext_noop("target %(old)s removed (mailbox deleted)"),
            message_args={"old": old, "new": new or ""},
        )
        (deleted if gone else changed).append(address)
    return changed, deleted


def aliases_pointing_to(address: str) -> list[str]:
    """Aliases (other than the mailbox's own forwarding alias) that list ``address``."""
    candidates = Alias.objects.filter(pk__in=aliases_targeting(address)).exclude(pk=address)
    return sorted(
        alias.address for alias in candidates if address in (t.lower() for t in alias.targets)
    )
