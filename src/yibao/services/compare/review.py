"""The review list of record linkage (人工复核): link a department's unmatched records against
the registry (the store's persons with their household's address, or a generated area's
persons), store the candidate pairs with both sides' fields, and let a person confirm or reject
each ``review`` pair; every move is audited (who, when). Pairs ``auto`` or ``confirmed`` are the
records linked to a person, which the findings take as matched by ID (``linked``).
docs/linkage.md.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from yibao.domain.errors import InvalidField, NotFound
from yibao.domain.linkage import LINKED, PairStateError, PairStatus, check_move, check_note
from yibao.domain.registry import check_area
from yibao.services import clock
from yibao.services.compare.linkage import (
    FIELDS,
    REGISTRY_COLUMNS,
    Linkage,
    Progress,
    Thresholds,
    link,
    thresholds,
)
from yibao.store.linkage_models import CandidatePairRow
from yibao.store.models import HouseholdRow, PersonRow
from yibao.store.repositories.linkage import LinkageRepository
from yibao.store.uow import UnitOfWork
from yibao.synth.departments import household_address

SIDE_FIELDS = ("name", "sex", "birth_date", "address", "id_no")
#: The stored length of each side's field (``linkage_pairs``).
SIDE_SIZES = {"name": 100, "sex": 1, "birth_date": 10, "address": 200, "id_no": 18}
LINKED_SCHEMA = pa.schema(
    [("source", pa.string()), ("row_no", pa.int64()), ("psn_no", pa.string()),
     ("status", pa.string())]
)  # fmt: skip


def _actor(by: str) -> str:
    name = by.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise InvalidField("by", "who acts: 1 to 64 printable characters")
    return name


def registry_from_store(uow: UnitOfWork, region: str | None = None) -> pa.Table:
    """The registry side: every person of the store (of ``region`` if given), ``psn_no`` their
    id, the address their household's."""
    stmt = (
        select(
            PersonRow.id,
            PersonRow.name,
            PersonRow.sex,
            PersonRow.birth_date,
            HouseholdRow.address,
            PersonRow.national_id,
        )
        .outerjoin(HouseholdRow, HouseholdRow.id == PersonRow.household_id)
        .order_by(PersonRow.id)
    )
    if region is not None:
        stmt = stmt.where(PersonRow.region == region)
    with uow:
        rows = uow.session.execute(stmt).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return pa.table(
        {
            "psn_no": pa.array([str(v) for v in cols[0]], pa.string()),
            "name": pa.array(cols[1], pa.string()),
            "sex": pa.array(cols[2], pa.string()),
            "birth_date": pa.array([d.isoformat() for d in cols[3]], pa.string()),
            "address": pa.array(cols[4], pa.string()),
            "id_no": pa.array(cols[5], pa.string()),
        }
    )


def registry_from_area(folder: Path) -> pa.Table:
    """The registry side from a generated area's persons (``synth``: ``persons/part-*.parquet``,
    or one ``persons.parquet``): numbers, names, sex, birth dates and national IDs; the address
    the file's ``address`` column, else the household's (``synth.departments``), else none."""
    parts = sorted((folder / "persons").glob("part-*.parquet"))
    if not parts and (folder / "persons.parquet").is_file():
        parts = [folder / "persons.parquet"]
    if not parts:
        raise InvalidField("registry", f"{folder} holds no generated area's persons")
    have = pq.read_schema(parts[0]).names
    columns = ("psn_no", "name", "sex", "birth_date", "national_id", "address", "household_id")
    table = pa.concat_tables(
        [pq.read_table(p, columns=[c for c in columns if c in have]) for p in parts]
    )
    if "address" in have:
        address = table["address"]
    elif "household_id" in have:
        address = household_address(table["household_id"].to_numpy())
    else:
        address = pa.nulls(table.num_rows, pa.string())
    birth = table["birth_date"]
    return pa.table(
        {
            "psn_no": table["psn_no"].cast(pa.string()),
            "name": table["name"],
            "sex": table["sex"],
            "birth_date": birth
            if pa.types.is_string(birth.type)
            else pc.strftime(birth, "%Y-%m-%d"),
            "address": address,
            "id_no": table["national_id"],
        }
    )


def _side(table: pa.Table, key: str, prefix: str) -> dict[Any, dict[str, Any]]:
    cols = {f: table[f].to_pylist() for f in SIDE_FIELDS}
    keys = (
        table[key].to_pylist()
        if key != "record"
        else list(zip(table["source"].to_pylist(), table["row_no"].to_pylist(), strict=True))
    )
    return {
        k: {f"{prefix}_{f}": (None if cols[f][i] is None else str(cols[f][i])) for f in SIDE_FIELDS}
        for i, k in enumerate(keys)
    }


def pairs_of(linkage: Linkage, records: pa.Table, registry: pa.Table) -> list[dict[str, Any]]:
    """The candidate pairs as rows to store: each with its record's and its person's fields."""
    cands = linkage.candidates
    if cands.num_rows == 0:
        return []
    want_rec = set(zip(cands["source"].to_pylist(), cands["row_no"].to_pylist(), strict=True))
    rec_mask = [
        (s, r) in want_rec
        for s, r in zip(records["source"].to_pylist(), records["row_no"].to_pylist(), strict=True)
    ]
    recs = _side(records.filter(pa.array(rec_mask)), "record", "rec")
    psn_keys = registry["psn_no"].cast(pa.string())
    people = _side(
        registry.set_column(registry.schema.get_field_index("psn_no"), "psn_no", psn_keys).filter(
            pc.is_in(psn_keys, value_set=pc.unique(cands["psn_no"]))
        ),
        "psn_no",
        "psn",
    )
    out = []
    for c in cands.to_pylist():
        row = {
            "source": c["source"],
            "row_no": c["row_no"],
            "psn_no": c["psn_no"],
            "match_weight": c["match_weight"],
            "match_probability": c["match_probability"],
            "status": c["status"],
            **{f"level_{f}": c[f"gamma_{f}"] for f in FIELDS},
            **recs[(c["source"], c["row_no"])],
            **people[c["psn_no"]],
        }
        for side in ("rec", "psn"):  # as the columns hold them (a department's odd value)
            for f, size in SIDE_SIZES.items():
                if row[f"{side}_{f}"] is not None:
                    row[f"{side}_{f}"] = row[f"{side}_{f}"][:size]
        out.append(row)
    return out


@dataclass(frozen=True)
class LinkRun:
    """What a linkage run stored: the candidate pairs found (auto, review) and how many were
    new (a rerun over the same records adds none twice)."""

    auto: int
    review: int
    added: int
    weights: dict[str, list[tuple[str, float]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "auto": self.auto,
            "review": self.review,
            "added": self.added,
            "weights": {k: [list(lv) for lv in v] for k, v in self.weights.items()},
        }


def link_and_store(
    uow: UnitOfWork,
    area: str,
    records: pa.Table,
    registry: pa.Table,
    by: str,
    *,
    limits: Thresholds | None = None,
    on: dt.date | None = None,
    seed: int = 16,
    progress: Progress | None = None,
) -> LinkRun:
    """Link the unmatched ``records`` against ``registry`` with the area's thresholds and
    store the candidate pairs (``auto`` and ``review``), each audited as created by ``by``."""
    actor = _actor(by)
    check_area(area, "area")
    limits = limits or thresholds(area, on or clock.today())
    linkage = link(records, registry, limits, seed=seed, progress=progress)
    rows = pairs_of(linkage, records, registry)
    with uow:
        added = LinkageRepository(uow.session).add_pairs(area, rows, actor, clock.now())
        uow.commit()
    auto = sum(1 for r in rows if r["status"] == PairStatus.AUTO)
    return LinkRun(auto, len(rows) - auto, added, linkage.weights)


@dataclass(frozen=True)
class PairView:
    """A candidate pair as the reviewer sees it: the record beside the person, the match
    weight and probability, each field's comparison level, the status and its trail."""

    id: int
    area: str
    source: str
    row_no: int
    psn_no: str
    match_weight: float
    match_probability: float
    levels: dict[str, int]
    record: dict[str, str | None]
    person: dict[str, str | None]
    status: str
    actions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _view(repo: LinkageRepository, row: CandidatePairRow, detail: bool = False) -> PairView:
    actions: tuple[dict[str, Any], ...] = ()
    if detail:
        actions = tuple(
            {"status": a.status, "by": a.actor, "at": a.at.isoformat(), "detail": a.detail}
            for a in repo.actions(row.id)
        )
    return PairView(
        row.id,
        row.area,
        row.source,
        row.row_no,
        row.psn_no,
        round(row.match_weight, 4),
        round(row.match_probability, 6),
        {f: int(getattr(row, f"level_{f}")) for f in FIELDS},
        {f: getattr(row, f"rec_{f}") for f in SIDE_FIELDS},
        {f: getattr(row, f"psn_{f}") for f in SIDE_FIELDS},
        row.status,
        actions,
    )


def list_pairs(
    uow: UnitOfWork,
    area: str | None = None,
    source: str | None = None,
    status: str | None = None,
) -> list[PairView]:
    """Candidate pairs (by record, best first), filtered by area, source and status."""
    if status is not None:
        try:
            PairStatus(status)
        except ValueError:
            raise InvalidField("status", f"one of {', '.join(PairStatus)}") from None
    with uow:
        repo = LinkageRepository(uow.session)
        return [_view(repo, r) for r in repo.find(area=area, source=source, status=status)]


def show(uow: UnitOfWork, pair_id: int) -> PairView:
    """A candidate pair with its audit trail."""
    with uow:
        repo = LinkageRepository(uow.session)
        return _view(repo, repo.get(pair_id), detail=True)


def confirm(uow: UnitOfWork, pair_id: int, by: str, note: str | None = None) -> PairView:
    """review → confirmed: the record is this person. The record's other open candidates are
    rejected with it (audited); a record has one confirmed or auto person at most."""
    actor, text = _actor(by), check_note(note)
    with uow:
        repo = LinkageRepository(uow.session)
        row = repo.get(pair_id, lock=True)
        check_move(pair_id, PairStatus(row.status), PairStatus.CONFIRMED)
        others = [
            o for o in repo.of_record(row.area, row.source, row.row_no, lock=True) if o.id != row.id
        ]
        if any(PairStatus(o.status) in LINKED for o in others):
            raise PairStateError(pair_id, row.status, "confirmed (its record is already linked)")
        at = clock.now()
        row.status = PairStatus.CONFIRMED.value
        repo.act(row.id, row.status, actor, at, text or "confirmed")
        for o in others:
            if o.status == PairStatus.REVIEW:
                o.status = PairStatus.REJECTED.value
                repo.act(o.id, o.status, actor, at, f"pair {row.id} confirmed for this record")
        uow.commit()
    return show(uow, pair_id)


def reject(uow: UnitOfWork, pair_id: int, by: str, note: str | None = None) -> PairView:
    """review or auto → rejected: the record is not this person."""
    actor, text = _actor(by), check_note(note)
    with uow:
        repo = LinkageRepository(uow.session)
        row = repo.get(pair_id, lock=True)
        check_move(pair_id, PairStatus(row.status), PairStatus.REJECTED)
        row.status = PairStatus.REJECTED.value
        repo.act(row.id, row.status, actor, clock.now(), text or "rejected")
        uow.commit()
    return show(uow, pair_id)


def linked(uow: UnitOfWork, area: str, source: str | None = None) -> pa.Table:
    """The records linked to a person (``auto`` or ``confirmed``), for the findings to take
    as matched by ID: ``source``, ``row_no``, ``psn_no``, ``status``."""
    with uow:
        rows = LinkageRepository(uow.session).find(
            statuses=[s.value for s in LINKED], area=area, source=source
        )
        data = [
            {"source": r.source, "row_no": r.row_no, "psn_no": r.psn_no, "status": r.status}
            for r in rows
        ]
    return pa.Table.from_pylist(data, schema=LINKED_SCHEMA)


def read_records(path: Path) -> pa.Table:
    """Unmatched records from a Parquet or CSV file with the linkage columns
    (``linkage.RECORD_COLUMNS``; ``row_no`` as written by the file reader)."""
    from yibao.services.compare.linkage import RECORD_COLUMNS

    if not path.is_file():
        raise NotFound("records file", str(path))
    if path.suffix.lower() == ".parquet":
        table = pq.read_table(path)
    else:
        import pyarrow.csv as pcsv

        table = pcsv.read_csv(
            path,
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in RECORD_COLUMNS if c != "row_no"}
                | {"row_no": pa.int64()}
            ),
        )
    missing = [c for c in RECORD_COLUMNS if c not in table.column_names]
    if missing:
        raise InvalidField("records", f"{path.name}: missing column(s) {', '.join(missing)}")
    return table.select(list(RECORD_COLUMNS))


__all__ = [
    "REGISTRY_COLUMNS",
    "LinkRun",
    "PairView",
    "confirm",
    "link_and_store",
    "linked",
    "list_pairs",
    "read_records",
    "registry_from_area",
    "registry_from_store",
    "reject",
    "show",
]
