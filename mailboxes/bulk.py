"""Writes on many mailboxes at once: bulk actions and the import of a file, all or nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from audit.services import audit_record
from domains.selectors import lock_domain
from domains.usage import usage_change
from mailadmin.lib.fields import local_now
from mailadmin.lib.passwords import importable_hash
from mailadmin.lib.quota import quota_bytes
from mailadmin.lib.storable import check_storable
from mailadmin.lib.text import has_control_characters
from mailadmin.selectors import address_in_use_message, address_owners
from mailboxes import indexes
from mailboxes.credentials import generate_password
from mailboxes.models import Mailbox
from mailboxes.rules import (
    check_domain_visible,
    check_expiry,
    check_limits,
    check_password,
    check_services,
)
from mailboxes.services import (
    mailbox_delete,
    mailbox_update,
    maildir_payload,
    new_mailbox_address,
    new_mailbox_row,
    template_quota,
    template_services,
)
from provisioning.models import Job
from provisioning.services import job_record

BULK_ACTIONS = ("enable", "disable", "delete", "set_quota", "reset_password")
#: At most this many rows per import (a bigger file is refused before any work).
MAX_IMPORT_ROWS = 20_000
#: Maildirs per ``maildir.create_batch`` job of an import.
MAILDIR_BATCH_SIZE = 500
#: Rows per INSERT of an import.
INSERT_BATCH_SIZE = 1_000


# --- bulk --------------------------------------------------------------------------------------
@dataclass
class BulkResult:
    action: str
    addresses: list[str]
    passwords: dict[str, str] = field(default_factory=dict)
    changed_aliases: list[str] = field(default_factory=list)
    deleted_aliases: list[str] = field(default_factory=list)
    #: Enable/disable: the mailboxes whose state the action changed (an Undo reverts these).
    changed_state: list[str] = field(default_factory=list)


def _bulk_error(address: str, exc: ValidationError) -> ValidationError:
    return ValidationError(
        {
            key: [f"{address}: {message}" for message in messages]
            for key, messages in exc.message_dict.items()
        }
    )


@transaction.atomic
def mailbox_bulk(
    *,
    action: str,
    addresses: list[str],
    actor: Any,
    request: HttpRequest | None = None,
    quota: int | None = None,
    purge: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BulkResult:
    """Apply one action to several mailboxes, all or nothing.

    Raises ``Mailbox.DoesNotExist`` when any address is not a mailbox the actor may see.
    Generated passwords are returned once in the result and stored only as hashes.
    ``progress(done)`` is called after each mailbox (a background operation's progress bar).
    """
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Choose an action.")})
    wanted = sorted(set(addresses))
    if not wanted:
        raise ValidationError({"addresses": _("Select at least one mailbox.")})
    mailboxes = list(
        Mailbox.objects.visible_to(actor).select_related("domain").filter(pk__in=wanted)
    )
    if len(mailboxes) != len(wanted):
        raise Mailbox.DoesNotExist("some selected mailboxes do not exist or are not visible")
    if action == "set_quota" and (quota is None or quota < 0):
        raise ValidationError({"quota": _("Enter the new quota in MB.")})
    if action == "delete" and purge and not settings.MAILADMIN_PURGE_ALLOWED:
        raise ValidationError({"purge": _("Deleting mailbox data is disabled on this server.")})
    result = BulkResult(action=action, addresses=[m.username for m in mailboxes])
    for done, mailbox in enumerate(mailboxes, start=1):
        try:
            if action in ("enable", "disable"):
                if bool(mailbox.active) != (action == "enable"):
                    result.changed_state.append(mailbox.username)
                mailbox_update(
                    mailbox=mailbox, actor=actor, request=request, active=action == "enable"
                )
            elif action == "set_quota":
                mailbox_update(mailbox=mailbox, actor=actor, request=request, quota=quota)
            elif action == "delete":
                deleted = mailbox_delete(mailbox=mailbox, actor=actor, request=request, purge=purge)
                result.changed_aliases += deleted.changed_aliases
                result.deleted_aliases += deleted.deleted_aliases
            else:
                password = generate_password()
                mailbox_update(mailbox=mailbox, actor=actor, request=request, password=password)
                result.passwords[mailbox.username] = password
        except ValidationError as exc:
            raise _bulk_error(mailbox.username, exc) from exc
        if progress is not None:
            progress(done)
    # An alias changed by one deletion may be deleted by a later one.
    result.changed_aliases = sorted(
        set(result.changed_aliases) - set(result.deleted_aliases) - set(result.addresses)
    )
    result.deleted_aliases = sorted(set(result.deleted_aliases))
    return result


# --- import ------------------------------------------------------------------------------------
class ImportRejected(ValidationError):
    """An import that wrote nothing: ``lines`` lists ``(line, message)``, line ``None`` for
    what concerns the whole file (such as the domain's limits)."""

    def __init__(self, lines: list[tuple[int | None, str]]) -> None:
        self.lines = sorted(lines, key=lambda item: -1 if item[0] is None else item[0])
        super().__init__(
            [
                message
                if line is None
                else _("Line %(line)s: %(message)s") % {"line": line, "message": message}
                for line, message in self.lines
            ]
        )


def _messages(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [m for messages in exc.message_dict.values() for m in messages]
    return list(exc.messages)


def _import_quota(value: Any) -> int | None:
    """A row's quota in MB: empty for the domain template's."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise ValidationError({"quota": _("Enter the quota as a whole number of MB.")}) from None


def _import_hash(value: str) -> str:
    """An existing hash of a row, in the form the panel stores (ValidationError otherwise)."""
    try:
        return importable_hash(value)
    except ValueError as exc:
        raise ValidationError({"password_hash": str(exc)}) from exc


def _row_password(row: dict[str, Any]) -> str:
    """The stored password of a row: its ``password`` through the password rules, or its
    ``password_hash`` (a migration from ExtMan or another panel) checked as a known hash."""
    password = str(row.get("password") or "")
    stored = str(row.get("password_hash") or "").strip()
    if stored and password:
        raise ValidationError(
            {"password": _("Give either a password or a password hash, not both.")}
        )
    if stored:
        return _import_hash(stored)
    return check_password(password)


@transaction.atomic
def mailbox_import(
    *,
    domain: str,
    rows: list[dict[str, Any]],
    actor: Any,
    request: HttpRequest | None = None,
    progress: Callable[[int], None] | None = None,
    dry_run: bool = False,
) -> list[Mailbox]:
    """Create many mailboxes of ``domain`` at once, all or nothing (SPEC §3.4, §7.1).

    Each row is a dict with ``local_part``, ``name``, ``password`` and an optional ``quota``
    (MB; empty for the domain template's) and, optionally, the ``line`` of the file it came
    from (its position in ``rows`` otherwise). Instead of a ``password``, a row may carry a
    ``password_hash`` (``$1$…``, ``{CRYPT}$6$…``, ``{SHA}…``: any scheme
    :mod:`mailadmin.lib.passwords` verifies), kept so that people keep their passwords; it is
    stored in the spelling the mail stack reads (:func:`importable_hash`).

    The rules are those of :func:`mailbox_create`:
    every row is checked (also against the other rows and against the addresses already in
    use, looked up for the whole batch at once), then the domain's limits for the whole batch
    under the domain's row lock. Any problem raises :class:`ImportRejected` with every line's
    messages, and nothing is written.

    Otherwise the rows are inserted in bulk, the domain's usage figures change once, the audit
    log gets one ``mailbox.import`` entry naming every new mailbox (one readable line on the
    audit page, however long the file), and the Maildirs are queued as
    ``maildir.create_batch`` jobs of :data:`MAILDIR_BATCH_SIZE` mailboxes each. The number of
    queries does not grow with the number of rows, except for one INSERT per
    :data:`INSERT_BATCH_SIZE` rows and one job row per :data:`MAILDIR_BATCH_SIZE` mailboxes.

    ``progress(done)`` is called as the rows are checked (hashing their passwords is most of
    the time an import takes) and with the number of rows once everything is written.

    ``dry_run`` makes every check (all of them come before the first write) and returns the
    unsaved mailboxes the import would create; nothing is written and no job is recorded, so
    it is safe on ExtMan's MyISAM tables too, which cannot roll back.
    """
    check_domain_visible(actor, domain)
    if not rows:
        raise ImportRejected([(None, _("The file holds no mailboxes."))])
    if len(rows) > MAX_IMPORT_ROWS:
        raise ImportRejected(
            [(None, _("Import at most %(max)s mailboxes at once.") % {"max": MAX_IMPORT_ROWS})]
        )
    dom = lock_domain(domain)
    problems: list[tuple[int | None, str]] = []

    def collect(line: int | None, check, *args, **kwargs):
        try:
            return check(*args, **kwargs)
        except ValidationError as exc:
            problems.extend((line, message) for message in _messages(exc))
            return None

    # What every row takes from the domain template, checked once.
    expiredate = dom.default_mailbox_expiry()
    collect(None, check_expiry, dom, expiredate)
    services = template_services(dom)
    collect(None, check_services, actor, dom, services, None)
    netdisk_text = collect(None, template_quota, dom, "netdiskquota", None)

    first_line: dict[str, int] = {}
    candidates: list[tuple[int, str, str, dict[str, Any]]] = []
    for index, row in enumerate(rows, start=1):
        line = int(row.get("line") or index)
        new = collect(line, new_mailbox_address, dom.domain, str(row.get("local_part") or ""))
        if new is None:
            continue
        local, address = new
        if address in first_line:
            problems.append(
                (
                    line,
                    _("%(address)s is already on line %(first)s of the file.")
                    % {"address": address, "first": first_line[address]},
                )
            )
            continue
        first_line[address] = line
        candidates.append((line, local, address, row))

    owners = address_owners(first_line)
    name_length = Mailbox._meta.get_field("name").max_length
    accepted: list[tuple[str, str, str, str]] = []  # local, hash, name, quota string
    quota_total = 0
    for checked, (line, local, address, row) in enumerate(candidates):
        if progress is not None:
            progress(checked)
        before = len(problems)
        owner = owners.get(address)
        if owner:
            problems.append((line, address_in_use_message(address, owner)))
        name = str(row.get("name") or "").strip()
        collect(line, check_storable, name=name)
        if len(name) > name_length:
            problems.append(
                (line, _("The name is longer than %(max)s characters.") % {"max": name_length})
            )
        if has_control_characters(name):
            problems.append(
                (line, _("The name holds control characters (such as line breaks): remove them."))
            )
        hashed = collect(line, _row_password, row)
        quota_text = None
        megabytes = collect(line, _import_quota, row.get("quota"))
        if megabytes is not None or row.get("quota") in (None, ""):
            quota_text = collect(line, template_quota, dom, "quota", megabytes)
        if quota_text is not None:
            # Only the rule on a quota of 0 in a domain with a total quota: no query.
            collect(line, check_limits, dom, new_quota=quota_bytes(quota_text))
            quota_total += quota_bytes(quota_text)
        if len(problems) == before and hashed and quota_text is not None:
            accepted.append((local, hashed, name, quota_text))
    netdisk_each = quota_bytes(netdisk_text) if netdisk_text is not None else 0
    collect(
        None,
        check_limits,
        dom,
        new_users=len(rows),
        quota_delta=quota_total,
        netdisk_delta=netdisk_each * len(rows),
    )
    if problems:
        raise ImportRejected(problems)

    now = local_now()
    mailboxes = [
        new_mailbox_row(
            dom,
            local,
            password=hashed,
            name=name,
            quota=quota_text,
            netdiskquota=netdisk_text or "0",
            createdate=now,
            expiredate=expiredate,
            services=services,
        )
        for local, hashed, name, quota_text in accepted
    ]
    if dry_run:
        return mailboxes  # unsaved: what the import would create
    Mailbox.objects.bulk_create(mailboxes, batch_size=INSERT_BATCH_SIZE)
    indexes.index_new(mailboxes)  # no save signal in bulk
    usage_change(
        dom.domain,
        mailboxes=len(mailboxes),
        quota=quota_total,
        netdisk=netdisk_each * len(mailboxes),
    )
    # One entry for the whole file: the page shows it as one line with the addresses folded.
    audit_record(
        actor=actor,
        action="mailbox.import",
        request=request,
        object_type="domain",
        object_id=dom.domain,
        domain=dom.domain,
        changes={"mailboxes": [[], [mailbox.username for mailbox in mailboxes]]},
        message=gettext_noop("%(count)s mailboxes imported from a file, %(quota)s MB in all"),
        message_args={
            "count": len(mailboxes),
            "quota": quota_total // settings.MAILADMIN_QUOTA_MULTIPLIER,
        },
    )
    for start in range(0, len(mailboxes), MAILDIR_BATCH_SIZE):
        batch = mailboxes[start : start + MAILDIR_BATCH_SIZE]
        first, last = batch[0].username, batch[-1].username
        job_record(
            kind=Job.Kind.MAILDIR_CREATE_BATCH,
            payload={
                "mailboxes": [
                    {"address": mailbox.username, **maildir_payload(mailbox, dom.hashdirpath)}
                    for mailbox in batch
                ]
            },
            addresses=[mailbox.username for mailbox in batch],
            domain=dom.domain,
            object_id=first if first == last else f"{first} … {last}",
            mailhost="",
            created_by=actor,
        )
    if progress is not None:
        progress(len(rows))
    return mailboxes
