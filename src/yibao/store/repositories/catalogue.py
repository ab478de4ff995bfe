"""The catalogue repository (医保目录): each region's loads and the item versions they brought."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.orm import Session

from yibao.policy.catalogue import CatalogueItem
from yibao.policy.vocab import ItemClass, ItemKind
from yibao.store.catalogue_models import CatalogueItemRow, CatalogueLoadRow
from yibao.store.sql import BulkRead, insert_rows

_ITEMS = cast(Table, CatalogueItemRow.__table__)
_LOADS = cast(Table, CatalogueLoadRow.__table__)
#: the regions' loads as a cache key (read for every batch of uploads: built once; a part of a
#: batch of uploads' read too, ``FeeRepository.for_upload``)
STAMPS = BulkRead(
    lambda in_: (
        select(_LOADS.c.region, _LOADS.c.id, _LOADS.c.valid_from, _LOADS.c.sha256)
        .where(in_(_LOADS.c.region, "keys"))
        .order_by(_LOADS.c.region, _LOADS.c.id)
    )
)
#: The item fields stored as they are (the rest: kind, class, dates, load, region).
_PLAIN = (
    "code",
    "name",
    "unit",
    "price_limit",
    "typical_price",
    "sex",
    "min_age",
    "max_age",
    "min_level",
    "max_per_day",
    "max_per_stay",
    "indication",
    "fee_type",
    "procedure",
)


@dataclass(frozen=True, slots=True)
class CatalogueLoad:
    """One load of a region's catalogue: the version from ``valid_from`` on."""

    id: int
    region: str
    valid_from: dt.date
    file_name: str
    sha256: str
    items: int


def _load(row: CatalogueLoadRow) -> CatalogueLoad:
    return CatalogueLoad(row.id, row.region, row.valid_from, row.file_name, row.sha256, row.items)


def _item(row: Any) -> CatalogueItem:
    return CatalogueItem(
        kind=ItemKind(row.kind),
        item_class=ItemClass(row.item_class),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        **{f: getattr(row, f) for f in _PLAIN},
    )


#: ``session.info``'s key for the stamps read by another statement of its transaction
_READ = "yibao.catalogue_stamps"


def stamps_of(rows: Iterable[Sequence[Any]]) -> tuple[tuple[str, int, str, str], ...]:
    """The rows of ``STAMPS`` as ``CatalogueRepository.stamps`` gives them."""
    return tuple((str(r), int(i), d.isoformat(), str(h)) for r, i, d, h in rows)


def stamps_read(
    session: Session, regions: Iterable[str], stamps: tuple[tuple[str, int, str, str], ...]
) -> None:
    """Record ``stamps`` (``stamps_of``), every load of ``regions``, read by another statement
    of the session's transaction: ``CatalogueRepository.stamps`` of regions among them answers
    from them until the transaction ends, as a read of its own would in that transaction."""
    session.info[_READ] = (session.get_transaction(), frozenset(regions), stamps)


class CatalogueRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def loads(self, region: str) -> list[CatalogueLoad]:
        """The region's loads, oldest first."""
        rows = self.session.scalars(
            select(CatalogueLoadRow)
            .where(CatalogueLoadRow.region == region)
            .order_by(CatalogueLoadRow.valid_from)
        )
        return [_load(r) for r in rows]

    def stamps(self, regions: Sequence[str]) -> tuple[tuple[str, int, str, str], ...]:
        """Every load of the regions: (region, load id, first day, the file's sha256), what
        changes whenever a load changes a region's catalogue (a cache key)."""
        wanted = set(regions)
        known = self.session.info.get(_READ)
        if known is not None and known[0] is self.session.get_transaction() and known[1] >= wanted:
            return tuple(s for s in known[2] if s[0] in wanted)
        return stamps_of(STAMPS.rows(self.session, keys=sorted(wanted)))

    def items(self, region: str, code: str | None = None) -> list[CatalogueItem]:
        """The region's item versions (of one code), by code and date."""
        query = select(_ITEMS).where(_ITEMS.c.region == region)
        if code is not None:
            query = query.where(_ITEMS.c.code == code)
        rows = self.session.execute(query.order_by(_ITEMS.c.code, _ITEMS.c.valid_from))
        return [_item(r) for r in rows]

    def supersede(self, region: str, on: dt.date) -> None:
        """Make room for a version from ``on``: drop the region's loads and items that begin on
        or after it, and end the versions that run past it the day before."""
        self.session.info.pop(_READ, None)  # the loads change: stamps read before are not
        later = select(CatalogueLoadRow.id).where(
            CatalogueLoadRow.region == region, CatalogueLoadRow.valid_from >= on
        )
        self.session.execute(
            delete(CatalogueItemRow).where(
                CatalogueItemRow.region == region, CatalogueItemRow.valid_from >= on
            )
        )
        self.session.execute(delete(CatalogueLoadRow).where(CatalogueLoadRow.id.in_(later)))
        self.session.execute(
            update(CatalogueItemRow)
            .where(
                CatalogueItemRow.region == region,
                CatalogueItemRow.valid_from < on,
                (CatalogueItemRow.valid_to.is_(None)) | (CatalogueItemRow.valid_to >= on),
            )
            .values(valid_to=on - dt.timedelta(days=1))
        )

    def add_load(
        self,
        region: str,
        on: dt.date,
        file_name: str,
        sha256: str,
        items: Sequence[CatalogueItem],
    ) -> CatalogueLoad:
        """Record a load from ``on`` and its item versions (each already starting on or after
        ``on``)."""
        self.session.info.pop(_READ, None)
        row = CatalogueLoadRow(
            region=region,
            valid_from=on,
            file_name=file_name[:255],
            sha256=sha256,
            items=len(items),
        )
        self.session.add(row)
        self.session.flush()
        insert_rows(
            self.session,
            _ITEMS,
            [
                {
                    "load_id": row.id,
                    "region": region,
                    "valid_from": i.valid_from or on,
                    "valid_to": i.valid_to,
                    "kind": i.kind.value,
                    "item_class": i.item_class.value,
                    **{f: getattr(i, f) for f in _PLAIN},
                }
                for i in items
            ],
        )
        return _load(row)
