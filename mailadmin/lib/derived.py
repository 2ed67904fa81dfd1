"""Panel tables derived from the rows of a legacy table, and how they are kept right.

A derived index holds rows computed from each source row's address, domain and a few of its
columns: of the ``mailbox`` table the words of its display name (``mailboxes.names``) and its
numeric sort keys (``mailboxes.sortkeys``), of the ``alias`` table its targets
(``aliases.index``). Every such table is kept the same way (``mailboxes.indexes`` runs those
of the mailboxes):

- every save of a source row through the ORM re-indexes that row when a column it is
  computed from may have changed (a ``post_save`` signal); the services forget a deleted or
  renamed row (:meth:`DerivedIndex.forget_addresses`) and follow their bulk paths (an
  import: :meth:`~DerivedIndex.index_new`; a domain renamed or deleted:
  :meth:`~DerivedIndex.rename_domain`, :meth:`~DerivedIndex.forget_domain`). No mailbox
  delete signal: it would make Django load every row of a domain deleted in bulk.
- ``migrate`` fills the table from the existing rows;
- :meth:`DerivedIndex.reindex_all` (run with the usage recompute: ``manage.py
  recompute_usage`` and the periodic task) corrects what something else wrote into the
  source table (ExtMan, SQL), :data:`CHUNK` rows at a time: its memory stays that of one
  chunk whatever the size of the table.

Readers of a derived table always go back to the source rows themselves (the list's own
query), so a stale row never shows a mailbox or alias that is gone or out of scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import models, transaction
from django.db.models import Value
from django.db.models.functions import Concat, Left, Length

BATCH = 1000
#: Source rows compared at a time by the recompute.
CHUNK = 5000

#: ``rows(address, domain, *columns)``: the derived rows of one source row, as tuples in the
#: order of the index's ``fields``.
RowsFunction = Callable[..., Iterable[tuple[Any, ...]]]


class DerivedIndex:
    """One panel table derived from the rows of ``source`` (see the module's docstring).

    ``source_key`` is the source's primary key (its address) and ``source_domain`` its domain
    column; ``columns`` are the source columns the rows are computed from (besides those two);
    ``fields`` the table's fields, of which ``address`` and ``domain`` hold the source row's
    address and domain."""

    def __init__(
        self,
        *,
        model: type[models.Model],
        fields: tuple[str, ...],
        columns: tuple[str, ...],
        rows: RowsFunction,
        source: type[models.Model],
        source_key: str,
        source_domain: str = "domain",
        address: str = "address",
        domain: str = "domain",
    ) -> None:
        self.source = source
        self.source_key = source_key
        self.source_domain = source_domain
        self.model = model
        self.fields = fields
        self.columns = columns
        self.rows = rows
        self.address = address
        self.domain = domain

    def __repr__(self) -> str:
        return f"DerivedIndex({self.model._meta.db_table})"

    def _rows_of(self, address: str, domain: str | None, *values: Any) -> Iterator[tuple]:
        yield from self.rows(address, domain or "", *values)

    def _insert(self, rows: Iterable[tuple[Any, ...]]) -> int:
        objects = [self.model(**dict(zip(self.fields, row, strict=True))) for row in rows]
        # ignore_conflicts: keys a case-insensitive collation holds equal (ß / ss) are one.
        self.model.objects.bulk_create(objects, batch_size=BATCH, ignore_conflicts=True)
        return len(objects)

    def _of(self, addresses: list[str]) -> models.QuerySet:
        return self.model.objects.filter(**{f"{self.address}__in": addresses})

    @transaction.atomic
    def index_addresses(self, addresses: Iterable[str]) -> None:
        """Index the source rows ``addresses`` as they are now (gone ones are forgotten)."""
        addresses = list(addresses)
        for start in range(0, len(addresses), BATCH):
            batch = addresses[start : start + BATCH]
            self._of(batch).delete()
            self._insert(
                row
                for values in self.source.objects.filter(pk__in=batch).values_list(
                    self.source_key, self.source_domain, *self.columns
                )
                for row in self._rows_of(*values)
            )

    def index_new(self, objects: Iterable[models.Model]) -> None:
        """Index source rows just inserted in bulk (an import), from the objects themselves:
        one DELETE of leftovers under their addresses and the INSERTs, in the caller's
        transaction."""
        objects = list(objects)
        self.forget_addresses(getattr(o, self.source_key) for o in objects)
        domain = f"{self.source_domain}_id"
        self._insert(
            row
            for o in objects
            for row in self._rows_of(
                getattr(o, self.source_key),
                getattr(o, domain),
                *(getattr(o, c) for c in self.columns),
            )
        )

    def rename_domain(self, old: str, new: str) -> None:
        """Follow a domain renamed in bulk (``local@old`` became ``local@new``) in one UPDATE.
        A legacy row whose address did not end in ``@old`` is left to :meth:`reindex_all`."""
        suffix = f"@{old}"
        address = self.address
        self.model.objects.filter(**{self.domain: old, f"{address}__endswith": suffix}).update(
            **{
                self.domain: new,
                address: Concat(Left(address, Length(address) - len(suffix)), Value(f"@{new}")),
            }
        )

    def forget_addresses(self, addresses: Iterable[str]) -> None:
        """Forget source rows deleted or renamed (the old address)."""
        addresses = list(addresses)
        for start in range(0, len(addresses), BATCH):
            self._of(addresses[start : start + BATCH]).delete()

    def forget_domain(self, domain: str) -> None:
        """Forget every source row of ``domain`` (deleted or moved in bulk)."""
        self.model.objects.filter(**{self.domain: domain}).delete()

    @transaction.atomic
    def index_domain(self, domain: str) -> None:
        """Index every source row of ``domain`` again (its rows were changed in bulk)."""
        self.forget_domain(domain)
        self._insert(
            row
            for values in self.source.objects.filter(**{self.source_domain: domain})
            .values_list(self.source_key, self.source_domain, *self.columns)
            .iterator(chunk_size=BATCH)
            for row in self._rows_of(*values)
        )

    def reindex_all(self) -> int:
        """Make the table match the source table; returns how many of its rows changed.
        Walks the source rows :data:`CHUNK` at a time (by primary key), compares each chunk's
        rows with the stored ones and writes only the differences, then drops the rows of
        addresses that are no source row at all: the memory stays that of one chunk, whatever
        the number of rows."""
        changed = 0
        last = None
        key = self.source_key
        while True:
            rows = self.source.objects.order_by(key)
            if last is not None:
                rows = rows.filter(**{f"{key}__gt": last})
            chunk = list(rows.values_list(key, self.source_domain, *self.columns)[:CHUNK])
            if chunk:
                changed += self._reconcile(chunk)
                last = chunk[-1][0]
            if len(chunk) < CHUNK:
                return changed + self._forget_orphans()

    def _reconcile(self, chunk: list[tuple[Any, ...]]) -> int:
        """Write the differences for these source rows (``address, domain, *columns``)."""
        wanted = {row for values in chunk for row in self._rows_of(*values)}
        stored: set[tuple[Any, ...]] = set()
        stale: list[Any] = []
        for pk, *row in self._of([values[0] for values in chunk]).values_list("pk", *self.fields):
            key = tuple(row)
            if key in wanted and key not in stored:
                stored.add(key)
            else:
                stale.append(pk)  # changed, or a duplicate
        missing = [row for row in wanted if row not in stored]
        with transaction.atomic():
            for start in range(0, len(stale), BATCH):
                self.model.objects.filter(pk__in=stale[start : start + BATCH]).delete()
            self._insert(missing)
        return len(stale) + len(missing)

    def _forget_orphans(self) -> int:
        """Drop the rows of addresses that are no source row (deleted behind the panel's
        back), walking the table's addresses :data:`CHUNK` at a time."""
        dropped = 0
        last = None
        while True:
            rows = self.model.objects.order_by(self.address)
            if last is not None:
                rows = rows.filter(**{f"{self.address}__gt": last})
            addresses = list(rows.values_list(self.address, flat=True).distinct()[:CHUNK])
            if not addresses:
                return dropped
            existing = set(
                self.source.objects.filter(pk__in=addresses).values_list("pk", flat=True)
            )
            gone = [address for address in addresses if address not in existing]
            if gone:
                dropped += self._of(gone).delete()[0]
            last = addresses[-1]
            if len(addresses) < CHUNK:
                return dropped

    def on_save(self, instance: models.Model, update_fields: Iterable[str] | None) -> None:
        """Follow an ORM save of ``instance`` when a column the rows come from may have
        changed."""
        watched = {self.source_key, self.source_domain, *self.columns}
        if update_fields is not None and not watched & set(update_fields):
            return
        self.index_addresses([getattr(instance, self.source_key)])
