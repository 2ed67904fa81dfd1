"""Write paths for aliases (SPEC §3.5): create, update, delete.

Targets are stored the way ExtMan stores them: normalised addresses (or ``@domain`` for a
domain alias) joined by commas without spaces. A catch-all is the alias ``@<domain>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.models import Manager
from aliases.models import Alias
from audit.services import audit_record, diff, snapshot
from domains.models import Domain
from domains.selectors import domain_usage, lock_domain
from domains.usage import usage_change
from mailadmin.lib.addresses import normalize_address, normalize_domain, split_address
from mailadmin.selectors import address_in_use_message, address_owner
from mailboxes.models import Mailbox
from mailstack.services import internal_only_forget, internal_only_set

CATCHALL_LOCAL_PART = "@"
#: Aliases followed at most while looking for a loop (a bound on the work of one save).
MAX_LOOP_SEARCH = 5000
AUDITED_FIELDS = ("goto", "active")
#: ``alias.goto`` is a TEXT column (64 KiB); ``alias.address`` a varchar(255).
MAX_GOTO_LENGTH = 65535
MAX_ADDRESS_LENGTH = 255


def normalize_target(value: str) -> str:
    """One target in its stored form: ``local@domain``, or ``@domain`` for a domain alias."""
    text = (value or "").strip()
    if text.startswith("@"):
        return "@" + normalize_domain(text[1:])
    return normalize_address(text)


def normalize_targets(values: Iterable[str]) -> list[str]:
    """Normalised, de-duplicated targets in the given order (empty entries skipped).

    Raises one ValidationError listing every bad entry.
    """
    targets: list[str] = []
    errors: list[ValidationError] = []
    for raw in values:
        for part in str(raw).replace(",", "\n").splitlines():
            if not part.strip():
                continue
            try:
                target = normalize_target(part)
            except ValidationError as exc:
                shown = part.strip()[:100]
                message = " ".join(exc.messages)
                if shown not in message:
                    message = _("%(target)s: %(error)s") % {"target": shown, "error": message}
                errors.append(ValidationError(message, code="invalid"))
                continue
            if target not in targets:
                targets.append(target)
    if errors:
        raise ValidationError(errors)
    if not targets:
        raise ValidationError(_("Enter at least one target."), code="required")
    return targets


def alias_address(local_part: str, domain: str) -> str:
    """``local@domain``, or ``@domain`` (the catch-all) when the local part is ``@``."""
    if local_part == CATCHALL_LOCAL_PART:
        return f"@{domain}"
    return f"{local_part}@{domain}"


def is_forwarding_alias(address: str) -> bool:
    """The alias row of a mailbox's forwarding (same address as the mailbox, SPEC §3.4)."""
    return Mailbox.objects.filter(pk=address).exists()


def missing_local_targets(targets: Iterable[str], *, actor: Manager) -> list[str]:
    """Targets in the actor's domains that are neither a mailbox nor an alias.

    Only domains the actor may see are checked, so the warning never tells a domain admin
    what exists in someone else's domain.
    """
    addresses = [t for t in targets if not t.startswith("@")]
    if not addresses:
        return []
    visible = set(
        Domain.objects.visible_to(actor)
        .filter(pk__in={split_address(a)[1] for a in addresses})
        .values_list("pk", flat=True)
    )
    local = [a for a in addresses if split_address(a)[1] in visible]
    if not local:
        return []
    existing = set(Mailbox.objects.filter(pk__in=local).values_list("pk", flat=True))
    existing |= set(Alias.objects.filter(pk__in=local).values_list("pk", flat=True))
    return [a for a in local if a not in existing]


def find_loop(address: str, targets: list[str]) -> list[str] | None:
    """A chain ``[address, ..., address]`` if ``address`` with ``targets`` would reach itself
    by following aliases of this database, else None."""
    parent: dict[str, str] = {}
    frontier = []
    for target in targets:
        if target == address:
            return [address, address]
        if target not in parent:
            parent[target] = address
            frontier.append(target)
    seen = set(frontier) | {address}
    while frontier and len(seen) < MAX_LOOP_SEARCH:
        following = []
        for alias_address_, goto in Alias.objects.filter(pk__in=frontier).values_list(
            "address", "goto"
        ):
            for target in Alias(goto=goto).targets:
                if target == address:
                    chain = [address, alias_address_]
                    while chain[-1] != address:
                        chain.append(parent[chain[-1]])
                    return [address, *reversed(chain[1:-1]), address]
                if target not in seen:
                    seen.add(target)
                    parent[target] = alias_address_
                    following.append(target)
        frontier = following
    return None


def _check_targets(*, actor: Manager, address: str, targets: list[str]) -> None:
    if len(",".join(targets)) > MAX_GOTO_LENGTH:
        raise ValidationError({"goto": _("Too many targets for one alias.")})
    if address in targets:
        raise ValidationError({"goto": _("An alias cannot point to itself (%s).") % address})
    loop = find_loop(address, targets)
    if loop:
        visible = set(Domain.objects.visible_to(actor).values_list("pk", flat=True))
        shown = [
            step if split_address(step)[1] in visible else _("(an address of another domain)")
            for step in loop
        ]
        raise ValidationError(
            {"goto": _("These targets make a loop of aliases: %s.") % " → ".join(shown)}
        )


def _check_visible(actor: Manager, domain: str) -> None:
    if not Domain.objects.visible_to(actor).filter(pk=domain).exists():
        raise ValidationError({"domain": _("Choose one of your domains.")})


@transaction.atomic
def alias_create(
    *,
    actor: Manager,
    local_part: str,
    domain: str,
    goto: Iterable[str],
    active: bool = True,
    internal_only: bool = False,
    request: HttpRequest | None = None,
) -> Alias:
    """Create the alias ``local_part@domain`` (``@`` makes the domain's catch-all)."""
    _check_visible(actor, domain)
    targets = normalize_targets(goto)
    address = alias_address(local_part, domain)
    if len(address) > MAX_ADDRESS_LENGTH:
        raise ValidationError({"local_part": _("The address is too long.")})
    try:
        domain_row = lock_domain(domain)
    except Domain.DoesNotExist as exc:
        raise ValidationError({"domain": _("This domain does not exist.")}) from exc
    owner = address_owner(address)
    if owner:
        raise ValidationError({"local_part": address_in_use_message(address, owner)})
    _check_targets(actor=actor, address=address, targets=targets)
    if domain_row.maxalias and domain_usage(domain, ("aliases",)).aliases >= domain_row.maxalias:
        raise ValidationError(
            {
                "local_part": _("The domain %(domain)s already has its maximum of %(max)d aliases.")
                % {"domain": domain, "max": domain_row.maxalias}
            }
        )
    alias = Alias.objects.create(
        address=address, goto=",".join(targets), domain_id=domain, active=active
    )
    usage_change(domain, aliases=1)
    changes = diff({}, snapshot(alias, AUDITED_FIELDS))
    if internal_only_set(address=address, domain=domain, value=internal_only, actor=actor):
        changes["internal_only"] = [not internal_only, bool(internal_only)]
    audit_record(
        actor=actor,
        action="alias.create",
        request=request,
        object_type="alias",
        object_id=address,
        domain=domain,
        changes=changes,
        message=gettext_noop("catch-all") if alias.is_catchall else "",
    )
    return alias


def _check_may_change(actor: Manager, alias: Alias) -> None:
    if not Alias.objects.visible_to(actor).filter(pk=alias.pk).exists():
        raise PermissionDenied
    if is_forwarding_alias(alias.address):
        raise ValidationError(
            _("This is the forwarding of a mailbox: change it on the mailbox's page.")
        )


@transaction.atomic
def alias_update(
    *,
    actor: Manager,
    alias: Alias,
    goto: Iterable[str],
    active: bool,
    internal_only: bool | None = None,
    request: HttpRequest | None = None,
) -> Alias:
    """Change the targets and the active flag (and, unless ``internal_only`` is None, the
    internal-only mark); the address stays (delete and add instead)."""
    _check_may_change(actor, alias)
    targets = normalize_targets(goto)
    _check_targets(actor=actor, address=alias.address, targets=targets)
    before = snapshot(alias, AUDITED_FIELDS)
    alias.goto = ",".join(targets)
    alias.active = active
    changes = diff(before, snapshot(alias, AUDITED_FIELDS))
    if changes:
        alias.save(update_fields=[name for name in AUDITED_FIELDS if name in changes])
    if internal_only is not None and internal_only_set(
        address=alias.address, domain=alias.domain_id, value=internal_only, actor=actor
    ):
        changes["internal_only"] = [not internal_only, internal_only]
    if changes:
        audit_record(
            actor=actor,
            action="alias.update",
            request=request,
            object_type="alias",
            object_id=alias.address,
            domain=alias.domain_id,
            changes=changes,
        )
    return alias


@transaction.atomic
def alias_set_active(
    *, actor: Manager, alias: Alias, active: bool, request: HttpRequest | None = None
) -> Alias:
    """Enable or disable an alias, nothing else: its targets stay as stored (even a legacy
    list the form would refuse today)."""
    _check_may_change(actor, alias)
    alias = Alias.objects.select_for_update().get(pk=alias.pk)
    before = snapshot(alias, AUDITED_FIELDS)
    alias.active = active
    changes = diff(before, snapshot(alias, AUDITED_FIELDS))
    if changes:
        alias.save(update_fields=["active"])
        audit_record(
            actor=actor,
            action="alias.update",
            request=request,
            object_type="alias",
            object_id=alias.address,
            domain=alias.domain_id,
            changes=changes,
        )
    return alias


ALIAS_BULK_ACTIONS = ("enable", "disable", "delete")
#: At most this many aliases per bulk action (one page of the list at its largest).
MAX_BULK_ALIASES = 500


@transaction.atomic
def alias_bulk(
    *, actor: Manager, action: str, addresses: list[str], request: HttpRequest | None = None
) -> list[str]:
    """Enable, disable or delete several aliases, all or nothing; the addresses done.

    Raises ``Alias.DoesNotExist`` when any address is not an alias the actor may change."""
    if action not in ALIAS_BULK_ACTIONS:
        raise ValidationError(_("Choose an action."))
    wanted = sorted(set(addresses))
    if not wanted:
        raise ValidationError(_("Select at least one alias."))
    if len(wanted) > MAX_BULK_ALIASES:
        raise ValidationError(_("Select at most %(n)s aliases.") % {"n": MAX_BULK_ALIASES})
    aliases = list(Alias.objects.visible_to(actor).filter(pk__in=wanted))
    if len(aliases) != len(wanted):
        raise Alias.DoesNotExist("some selected aliases do not exist or are not visible")
    for alias in aliases:
        try:
            if action == "delete":
                alias_delete(actor=actor, alias=alias, request=request)
            else:
                alias_set_active(
                    actor=actor, alias=alias, active=action == "enable", request=request
                )
        except ValidationError as exc:
            raise ValidationError(
                [f"{alias.address}: {message}" for message in exc.messages]
            ) from exc
    return [alias.address for alias in aliases]


@transaction.atomic
def alias_delete(*, actor: Manager, alias: Alias, request: HttpRequest | None = None) -> None:
    """Delete the alias row."""
    _check_may_change(actor, alias)
    before: dict[str, Any] = snapshot(alias, AUDITED_FIELDS)
    if Alias.objects.filter(pk=alias.pk).delete()[0]:
        usage_change(alias.domain_id, aliases=-1)
    internal_only_forget(address=alias.address, actor=actor)
    audit_record(
        actor=actor,
        action="alias.delete",
        request=request,
        object_type="alias",
        object_id=alias.address,
        domain=alias.domain_id,
        changes=diff(before, {}),
    )


def alias_keep_targets(
    alias: Alias,
    kept: list[str],
    *,
    actor: Any,
    request: HttpRequest | None,
    message: str,
    message_args: dict[str, Any] | None = None,
) -> bool:
    """Give ``alias`` the targets left after others went away (a mailbox or a domain was
    deleted or renamed), or delete it when none is left; audited with ``message``.

    Call it with the alias row locked. True when the alias was deleted.
    """
    before = snapshot(alias)
    address, domain = alias.address, alias.domain_id
    if kept:
        alias.goto = ",".join(kept)
        alias.save(update_fields=["goto"])
        action, after = "alias.update", snapshot(alias)
    else:
        alias.delete()
        action, after = "alias.delete", {}
        if not Mailbox.objects.filter(pk=address).exists():  # forwarding is not counted
            usage_change(domain, aliases=-1)
    audit_record(
        actor=actor,
        action=action,
        request=request,
        object_type="alias",
        object_id=address,
        domain=domain,
        changes=diff(before, after),
        message=message,
        message_args=message_args,
    )
    return not kept
