"""Measuring the Maildirs of one storage host (the ``maildir.usage`` job; docs/disk-usage.md).

Runs on the storage host. Only a directory the mailbox owns is looked at, by the rules of
``mailboxes.homes`` (a relative home inside its own domain's directory, holding its Maildir,
sharing nothing with another mailbox): for a whole host or domain those rules are applied to
every mailbox at once, in memory, from one read of every mailbox's paths, instead of two
queries per mailbox. A mailbox whose home is not its own is recorded as *not measured* with
the reason, and nothing of it is read.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from domains.models import Domain
from domains.usage import disk_usage_apply, disk_usage_refresh
from mailadmin.lib import maildir
from mailadmin.lib.maildirsize import FROM_FILE, measure
from mailadmin.lib.quota import quota_bytes
from mailboxes.homes import home_problem, segments
from mailboxes.models import Mailbox, MailboxDiskUsage

#: Rows written per statement.
BATCH = 1000
#: Up to this many mailboxes named, their change is added to the domain's sums (the domain is
#: not summed again).
FEW = 100
_UPDATED = [
    "domain",
    "mailhost",
    "used_bytes",
    "messages",
    "quota_bytes",
    "percent",
    "source",
    "problem",
    "measured_at",
]


def _key(path: str, base: str) -> str | None:
    """A stored path as the database compares it (see ``homes._near``): below the mail base,
    without ``./``, repeated or trailing slashes, in lower case."""
    parts = segments((path or "").removeprefix(f"{base}/"))
    return "/".join(parts).lower() if parts is not None else None


def _prefixes(key: str) -> Iterator[str]:
    parts = key.split("/")
    for n in range(1, len(parts) + 1):
        yield "/".join(parts[:n])


@dataclass
class Owners:
    """Where every mailbox keeps its data, to tell whether a home is its mailbox's alone."""

    base: str
    homes: set[str] = field(default_factory=set)
    #: For each home of some mailbox: how many mailboxes have their home or Maildir in it.
    inside: Counter = field(default_factory=Counter)
    #: How many mailboxes have each Maildir.
    maildirs: Counter = field(default_factory=Counter)

    @classmethod
    def load(cls) -> Owners:
        base = str(settings.MAILADMIN_MAIL_BASE).rstrip("/")
        owners = cls(base=base)
        rows = Mailbox.objects.values_list("homedir", "maildir").iterator(chunk_size=5000)
        keys = [(_key(home, base), _key(box, base)) for home, box in rows]
        owners.homes = {home for home, _box in keys if home}
        for home, box in keys:
            found = {
                prefix
                for path in (home, box)
                if path
                for prefix in _prefixes(path)
                if prefix in owners.homes
            }
            owners.inside.update(found)
            if box:
                owners.maildirs[box] += 1
        return owners

    def shared(self, homedir: str, maildir_path: str) -> bool:
        """Whether another mailbox's home or Maildir is ``homedir`` or lies inside it, or
        another mailbox's Maildir contains it."""
        home, box = _key(homedir, self.base), _key(maildir_path, self.base)
        if home is None:
            return True
        if self.inside[home] > 1:
            return True
        return any(
            self.maildirs[prefix] - (1 if prefix == box else 0) > 0
            for prefix in _prefixes(home)
            if prefix in self.maildirs
        )


def _problem(row: tuple, hashdirpaths: dict[str, str], owners: Owners | None) -> str | None:
    address, domain, homedir, box = row[0], row[1], row[2], row[3]
    problem = home_problem(
        address=address,
        domain=domain,
        hashdirpath=hashdirpaths.get(domain, ""),
        homedir=homedir,
        maildir=box,
        others=owners is None,
    )
    if problem is None and owners is not None and owners.shared(homedir, box):
        problem = _("the home directory %(path)s is shared with other mailboxes.") % {
            "path": homedir
        }
    return problem


def _usage(row: tuple, base: Path, mailhost: str, problem: str | None) -> MailboxDiskUsage:
    address, domain, _homedir, box, quota = row
    limit = quota_bytes(quota)
    usage = MailboxDiskUsage(
        mailbox_id=address,
        domain=domain,
        mailhost=mailhost,
        quota_bytes=limit,
        measured_at=timezone.now(),
    )
    if problem is None:
        try:
            found = measure(maildir.safe_path(base, box))
        except maildir.UnsafePathError as exc:
            problem = str(exc)
        except PermissionError as exc:
            problem = _("the Maildir cannot be read: %(error)s") % {"error": exc.strerror}
        else:
            if found is None:
                usage.source = MailboxDiskUsage.Source.MISSING
                return usage
            usage.used_bytes, usage.messages = found.bytes, found.messages
            usage.source = (
                MailboxDiskUsage.Source.MAILDIRSIZE
                if found.source == FROM_FILE
                else MailboxDiskUsage.Source.WALK
            )
            if limit:
                usage.percent = min(found.bytes * 100 // limit, 2**31 - 1)
            return usage
    usage.source = MailboxDiskUsage.Source.REFUSED
    usage.problem = problem[:500]
    return usage


def _save(batch: list[MailboxDiskUsage]) -> None:
    options = {}
    if connection.features.supports_update_conflicts_with_target:
        options["unique_fields"] = ["mailbox"]
    MailboxDiskUsage.objects.bulk_create(
        batch, update_conflicts=True, update_fields=_UPDATED, **options
    )


@dataclass
class Result:
    measured: int = 0
    from_file: int = 0
    walked: int = 0
    missing: int = 0
    refused: int = 0
    removed: int = 0

    def note(self) -> str:
        text = (
            f"{self.measured} Maildirs measured ({self.from_file} from maildirsize,"
            f" {self.walked} counted on disk), {self.missing} without a Maildir,"
            f" {self.refused} not measured (home not the mailbox's own)"
        )
        if self.removed:
            return f"{text}, {self.removed} rows of former mailboxes removed."
        return f"{text}."


def measure_mailboxes(
    base: Path,
    mailhost: str,
    *,
    domain: str = "",
    addresses: Iterable[str] = (),
) -> Result:
    """Measure the Maildirs of the mailboxes of ``mailhost`` (all of them, those of ``domain``,
    or those named) and store the figures. A run over the whole host also removes the rows of
    mailboxes that are gone from it."""
    addresses = list(addresses)
    started = timezone.now() - datetime.timedelta(seconds=1)
    rows = Mailbox.objects.filter(mailhost=mailhost)
    if addresses:
        rows = rows.filter(username__in=addresses)
    elif domain:
        rows = rows.filter(domain_id=domain)
    columns = rows.order_by().values_list("username", "domain_id", "homedir", "maildir", "quota")
    hashdirpaths = {
        name: path or "" for name, path in Domain.objects.values_list("domain", "hashdirpath")
    }
    # One mailbox: the two lookups of homes.home_problem are cheaper than reading every row.
    owners = None if len(addresses) == 1 else Owners.load()
    result = Result()
    domains: set[str] = set()
    few = bool(addresses) and len(addresses) <= FEW
    before = (
        {row.pk: row for row in MailboxDiskUsage.objects.filter(pk__in=addresses)} if few else {}
    )
    changes: list[tuple[MailboxDiskUsage | None, MailboxDiskUsage]] = []
    batch: list[MailboxDiskUsage] = []
    for row in columns.iterator(chunk_size=5000):
        domains.add(row[1])
        usage = _usage(row, base, mailhost, _problem(row, hashdirpaths, owners))
        if usage.source == MailboxDiskUsage.Source.REFUSED:
            result.refused += 1
        elif usage.source == MailboxDiskUsage.Source.MISSING:
            result.missing += 1
        else:
            result.measured += 1
            if usage.source == MailboxDiskUsage.Source.MAILDIRSIZE:
                result.from_file += 1
            else:
                result.walked += 1
        batch.append(usage)
        if few:
            changes.append((before.get(usage.mailbox_id), usage))
        if len(batch) >= BATCH:
            _save(batch)
            batch = []
    if batch:
        _save(batch)
    if not addresses and not domain:
        gone = MailboxDiskUsage.objects.filter(mailhost=mailhost, measured_at__lt=started)
        domains.update(gone.order_by().values_list("domain", flat=True).distinct())
        result.removed, _counts = gone.delete()
    # The domain page reads these sums: a few mailboxes' changes are added to them, otherwise
    # one sum per domain measured (never one per mailbox).
    if few:
        disk_usage_apply(changes)
    else:
        disk_usage_refresh(domains)
    return result
