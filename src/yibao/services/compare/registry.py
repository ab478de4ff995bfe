"""The registry side of a comparison, as Arrow tables, from the store or a generated area.

- ``persons``: ``person`` (the store's person id, or a generated area's ``psn_no``), ``id_no``,
  ``name``, ``sex``, ``birth_date``, ``area``, ``address`` (the household's), ``aid_class``
  (the aid class in force on the day compared, null if none)
- ``enrolments``: ``person``, ``category`` (employee, flexible, retiree, resident), ``area``,
  ``start_date``, ``end_date`` (null: open) — the enrolments not ended before the day compared
- ``settlements(persons)``: ``person``, ``date``, ``ref`` of the settlements (the store) or
  claims (an area) of the given persons
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import and_, or_, select

from yibao.domain.enrolment import EnrolmentKind
from yibao.domain.errors import InvalidField
from yibao.policy.vocab import AidClass
from yibao.store.models import (
    EnrolmentRow,
    HouseholdRow,
    PersonRow,
    SettlementRow,
    SpecialGroupRow,
)
from yibao.store.uow import UnitOfWork
from yibao.synth.departments import household_address

PERSONS = pa.schema(
    [
        ("person", pa.int64()),
        ("id_no", pa.string()),
        ("name", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("area", pa.string()),
        ("address", pa.string()),
        ("aid_class", pa.string()),
    ]
)
ENROLMENTS = pa.schema(
    [
        ("person", pa.int64()),
        ("category", pa.string()),
        ("area", pa.string()),
        ("start_date", pa.date32()),
        ("end_date", pa.date32()),
    ]
)
SETTLEMENTS = pa.schema([("person", pa.int64()), ("date", pa.date32()), ("ref", pa.string())])
_CATEGORY = {k.value: k.category.value for k in EnrolmentKind}


@dataclass
class Registry:
    persons: pa.Table
    enrolments: pa.Table
    settlements: Callable[[list[int]], pa.Table]
    #: where it came from: a database URL or a folder
    origin: str


def _table(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.table(
        {f.name: pa.array(list(c), type=f.type) for f, c in zip(schema, cols, strict=True)},
        schema=schema,
    )


def from_store(uow: UnitOfWork, on: dt.date, area: str | None = None) -> Registry:
    """Every person of the store (of ``area`` if given), their enrolments not ended before
    ``on`` and their aid class in force on ``on``."""
    aid = [a.value for a in AidClass]
    groups = (
        select(SpecialGroupRow.person_id, SpecialGroupRow.kind)
        .where(SpecialGroupRow.kind.in_(aid))
        .where(SpecialGroupRow.valid_from <= on)
        .where(or_(SpecialGroupRow.valid_to.is_(None), SpecialGroupRow.valid_to >= on))
        .subquery()
    )
    persons = (
        select(
            PersonRow.id,
            PersonRow.national_id,
            PersonRow.name,
            PersonRow.sex,
            PersonRow.birth_date,
            PersonRow.region,
            HouseholdRow.address,
            groups.c.kind,
        )
        .outerjoin(HouseholdRow, HouseholdRow.id == PersonRow.household_id)
        .outerjoin(groups, groups.c.person_id == PersonRow.id)
        .order_by(PersonRow.id)
    )
    enrolments = select(
        EnrolmentRow.person_id,
        EnrolmentRow.kind,
        EnrolmentRow.pooling_area,
        EnrolmentRow.start_date,
        EnrolmentRow.end_date,
    ).where(
        and_(
            EnrolmentRow.status.in_(("active", "suspended", "terminated", "transferred")),
            or_(EnrolmentRow.end_date.is_(None), EnrolmentRow.end_date >= on),
            EnrolmentRow.start_date <= on,
        )
    )
    if area is not None:
        persons = persons.where(PersonRow.region == area)
    with uow:
        prow = uow.session.execute(persons).all()
        erow = uow.session.execute(enrolments).all()
    seen: set[int] = set()
    unique = []
    for r in prow:  # a person in two aid groups at once: the first (by the join's order)
        if r[0] not in seen:
            seen.add(r[0])
            unique.append(r)
    erows = [(p, _CATEGORY.get(k, k), a, s, e) for p, k, a, s, e in erow if p in seen]

    def settlements(people: list[int]) -> pa.Table:
        if not people:
            return SETTLEMENTS.empty_table()
        stmt = select(SettlementRow.person_id, SettlementRow.settled_on, SettlementRow.setl_id)
        stmt = stmt.where(SettlementRow.person_id.in_(people)).where(
            SettlementRow.status == "settled"
        )
        with uow:
            rows = uow.session.execute(stmt).all()
        return _table(rows, SETTLEMENTS)

    bind = uow.session_factory.kw.get("bind")
    origin = bind.url.render_as_string(hide_password=True) if bind is not None else "store"
    return Registry(_table(unique, PERSONS), _table(erows, ENROLMENTS), settlements, origin)


def from_area(folder: Path | str) -> Registry:
    """A generated area's persons (``synth``): everyone enrolled in the area from
    ``enrolled_on`` in their scheme, the household address from ``household_address``."""
    folder = Path(folder)
    parts = sorted((folder / "persons").glob("part-*.parquet"))
    if not parts:
        raise InvalidField(
            "area", "is not a generated area (no persons/part-*.parquet)", str(folder)
        )
    region = str(json.loads((folder / "meta.json").read_text(encoding="utf-8"))["region"])
    cols = ["psn_no", "national_id", "name", "sex", "birth_date", "household_id"]
    cols += ["assistance_class", "scheme", "enrolled_on"]
    table = pa.concat_tables(pq.read_table(p, columns=cols) for p in parts)
    n = table.num_rows
    persons = pa.table(
        {
            "person": table["psn_no"],
            "id_no": table["national_id"],
            "name": table["name"],
            "sex": table["sex"],
            "birth_date": table["birth_date"],
            "area": pa.array([region] * n, type=pa.string()) if n else pa.array([], pa.string()),
            "address": household_address(table["household_id"].to_numpy()),
            "aid_class": table["assistance_class"],
        },
        schema=PERSONS,
    )
    enrolments = pa.table(
        {
            "person": table["psn_no"],
            "category": table["scheme"],
            "area": persons["area"],
            "start_date": table["enrolled_on"],
            "end_date": pa.nulls(n, pa.date32()),
        },
        schema=ENROLMENTS,
    )

    def settlements(people: list[int]) -> pa.Table:
        claims = folder / "claims"
        if not people or not claims.is_dir():
            return SETTLEMENTS.empty_table()
        data = ds.dataset(claims, format="parquet").to_table(
            columns=["psn_no", "date", "claim_id"],
            filter=pc.is_in(ds.field("psn_no"), pa.array(people, type=pa.int64())),
        )
        return pa.table(
            {
                "person": data["psn_no"],
                "date": data["date"],
                "ref": data["claim_id"].cast(pa.string()),
            },
            schema=SETTLEMENTS,
        )

    return Registry(persons, enrolments, settlements, str(folder))
