"""Numeric sort keys of the mailboxes (``mailboxes.models.MailboxSortKey``).

The table is derived from the mailbox rows and kept right as every derived index is
(``mailadmin.lib.derived``: the save signal, the services' bulk paths, the migration and the
recompute). The mailbox list sorted by quota reads its page's keys from the table's index
(``mailadmin.lib.listing.SideKeys``) and then the mailboxes themselves, so a stale key never
shows a mailbox that is gone or out of scope. A mailbox written behind the panel's back
(ExtMan, SQL) has no key until the recompute gives it one (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from domains.models import DomainDiskUsage
from mailadmin.lib.derived import DerivedIndex
from mailadmin.lib.listing import SideKeys
from mailadmin.lib.quota import quota_sort_key, quota_sort_key_sql
from mailboxes.models import Mailbox, MailboxDiskUsage, MailboxSortKey

#: The index of each order of one domain's mailbox list (``mailadmin.lib.schema``), named to
#: MariaDB for the key query of a seek: left to itself it may read the domain's entries from
#: the first. The quota order's is the sort key table's (:func:`quota_side_keys`).
DOMAIN_SORT_INDEXES = {
    "address": "mailadmin_mailbox_domain",
    "name": "mailadmin_mailbox_domain_name",
    "expiry": "mailadmin_mailbox_domain_expiry",
    "active": "mailadmin_mailbox_domain_active",
}


def _rows(address: str, domain: str, quota: str | None) -> Iterator[tuple[str, str, int]]:
    yield address, domain, quota_sort_key(quota)


SORT_KEYS = DerivedIndex(
    model=MailboxSortKey,
    fields=("address", "domain", "quota_bytes"),
    columns=("quota",),
    rows=_rows,
    source=Mailbox,
    source_key="username",
)


def fill_missing_sql(connection: BaseDatabaseWrapper) -> int:
    """Give every mailbox without a sort key its key, in one ``INSERT ... SELECT`` computed by
    the database (the migration and the benchmark's seeding: 1,000,000 rows in seconds).
    Returns the number of rows inserted."""
    qn = connection.ops.quote_name
    quota, params = quota_sort_key_sql(f"m.{qn('quota')}", connection.vendor)
    table = qn(MailboxSortKey._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (address, {qn('domain')}, quota_bytes)"  # noqa: S608
            f" SELECT m.username, m.{qn('domain')}, {quota} FROM {qn('mailbox')} m"
            f" WHERE NOT EXISTS (SELECT 1 FROM {table} k WHERE k.address = m.username)",
            params,
        )
        return cursor.rowcount


def quota_key() -> Subquery:
    """A mailbox's quota sort key, for a list that sorts its own rows (a search): NULL, the
    smallest, for a mailbox without a key yet."""
    return Subquery(
        MailboxSortKey.objects.filter(address=OuterRef("username")).values("quota_bytes")[:1]
    )


def quota_side_keys(domains: list[str] | None, scope: QuerySet) -> SideKeys:
    """The quota order read from the sort key index: of ``domains``, or of every mailbox, each
    key checked against ``scope`` (the list's query). The index is named for one domain and
    for all; a list of several domains lets the database choose (it sorts their keys)."""
    rows: QuerySet = MailboxSortKey.objects.all()
    index = "mailadmin_sort_key_quota_all"
    if domains is not None:
        rows = rows.filter(domain__in=domains)
        index = "mailadmin_sort_key_quota" if len(domains) == 1 else ""
    return SideKeys(rows=rows, value="quota_bytes", key="address", index=index, scope=scope)


def used_side_keys(domains: list[str] | None, scope: QuerySet) -> SideKeys:
    """The order by measured disk use, read from the disk usage table's index as the quota
    order reads the sort keys: of ``domains``, or of every mailbox, each key checked against
    ``scope``. Only mailboxes with a measured figure are in it (docs/disk-usage.md); a
    mailbox never measured, without a Maildir or not measurable has none. Their number is
    the domains' sums of measured mailboxes (``domains.DomainDiskUsage``), not a count."""
    rows: QuerySet = MailboxDiskUsage.objects.filter(used_bytes__isnull=False)
    index = "mailadmin_disk_usage_used_all"
    if domains is not None:
        rows = rows.filter(domain__in=domains)
        index = "mailadmin_disk_usage_used" if len(domains) == 1 else ""
    return SideKeys(
        rows=rows,
        value="used_bytes",
        key="mailbox_id",
        index=index,
        scope=scope,
        partial=True,
        total=lambda: measured_mailboxes(domains),
    )


def measured_mailboxes(domains: list[str] | None) -> int:
    """The mailboxes with a measured figure of ``domains`` (None: of every domain), from the
    domains' sums of their measurements (one query on that table, whatever the mailboxes)."""
    rows = DomainDiskUsage.objects.all()
    if domains is not None:
        rows = rows.filter(domain__in=domains)
    return rows.aggregate(measured=Coalesce(Sum("measured"), 0))["measured"]
