"""Provider payment groups' use cases: read the discharged inpatient cases of some years (from
the store or from a generated area's Parquet), build a region's DIP groups or DRG weights from
them, load an official table file, and read the table in force.

Cases are columnar (``Cases``): the kernels (``kernel.dip_groups``, ``kernel.drg``) group them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import BigInteger, Date, String, column, text

from yibao.kernel.dip_groups import build_groups, cell_sums, group_scores, history_weights
from yibao.kernel.dip_groups import year_positions as positions
from yibao.kernel.drg import compile_drg_table, group_cases
from yibao.policy import ParameterError, Policy
from yibao.policy.group_tables import (
    GroupTableError,
    GroupTableRow,
    read_table,
    shipped_drg_table,
)
from yibao.rules.provider_payment import group_building
from yibao.store.repositories.payment_groups import GroupTable, PaymentGroupRepository
from yibao.store.uow import UnitOfWork

I64 = npt.NDArray[np.int64]
_REGION = re.compile(r"[0-9]{6}")
#: Admissions: the med types of a stay in hospital (deliveries included).
STAY_TYPES = ("inpatient", "maternity")
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(2999, 12, 31)


@dataclass(frozen=True)
class Cases:
    """Discharged inpatient cases, one value per case: the discharge year, principal diagnosis
    and procedure, every diagnosis (principal first), total cost (fen), age at admission (-1
    unknown), institution code."""

    year: I64
    diagnosis: pa.Array
    procedure: pa.Array
    diagnoses: pa.Array
    cost: I64
    age: I64
    institution: pa.Array

    def __len__(self) -> int:
        return len(self.year)


def check_region(region: str, file: str = "<command>") -> str:
    if not _REGION.fullmatch(region):
        raise GroupTableError(file, None, "region", f"{region!r} is not a six-digit region code")
    return region


def check_years(years: Sequence[int]) -> list[int]:
    out = sorted(set(years))
    if not out or out[0] < 1990 or out[-1] > 2999:
        raise GroupTableError("<command>", None, "years", "must be years from 1990 to 2999")
    return out


def _ages(birth: npt.NDArray[np.datetime64], on: npt.NDArray[np.datetime64]) -> I64:
    """Whole years from ``birth`` to ``on``."""

    def parts(d: npt.NDArray[np.datetime64]) -> tuple[I64, I64]:
        years = d.astype("datetime64[Y]")
        months = d.astype("datetime64[M]")
        month = (months - years).astype(np.int64)
        day = (d - months).astype(np.int64)
        return years.astype(np.int64), month * 32 + day

    by, bmd = parts(birth)
    oy, omd = parts(on)
    return (oy - by - (omd < bmd)).astype(np.int64)


def area_cases(folder: Path | str, years: Sequence[int] | None = None) -> Cases:
    """The discharged stays (rows with a ``discharge_status``) of a generated area's claims, of
    ``years`` (None: every year present); ages from the persons' birth dates."""
    root = Path(folder)
    parts = sorted((root / "claims").glob("part-*.parquet"))
    if not parts:
        raise GroupTableError(str(root), None, "area", "no claims/part-*.parquet in the folder")
    columns = ["psn_no", "date", "admit_date", "total", "fixmedins_code", "diagnosis",
               "procedure", "diagnoses", "discharge_status"]  # fmt: skip
    tables = []
    for part in parts:
        t = pq.read_table(part, columns=columns)
        t = t.filter(pc.is_valid(t["discharge_status"]))
        tables.append(t)
    claims = pa.concat_tables(tables).combine_chunks()
    year = pc.year(claims["date"]).to_numpy(zero_copy_only=False).astype(np.int64)
    if years is not None:
        keep = np.isin(year, np.asarray(list(years), np.int64))
        claims = claims.filter(pa.array(keep))
        year = year[keep]
    person_parts = [
        pq.read_table(p, columns=["psn_no", "birth_date"])
        for p in sorted((root / "persons").glob("part-*.parquet"))
    ]
    if person_parts:
        persons = pa.concat_tables(person_parts).sort_by("psn_no")
        psn = persons["psn_no"].to_numpy().astype(np.int64)
        births = persons["birth_date"].to_numpy().astype("datetime64[D]")
    else:  # no persons: ages unknown
        psn = np.zeros(0, np.int64)
        births = np.zeros(0, "datetime64[D]")
    who = claims["psn_no"].to_numpy().astype(np.int64)
    at = np.clip(np.searchsorted(psn, who), 0, max(len(psn) - 1, 0))
    admit = pc.fill_null(claims["admit_date"], claims["date"])
    age = (
        _ages(births[at], admit.to_numpy().astype("datetime64[D]"))
        if len(psn) and len(who)
        else np.full(len(who), -1, np.int64)
    )
    if len(psn):
        age = np.where(psn[at] == who, age, -1)
    return Cases(
        year=year,
        diagnosis=claims["diagnosis"].combine_chunks(),
        procedure=claims["procedure"].combine_chunks(),
        diagnoses=claims["diagnoses"].combine_chunks(),
        cost=claims["total"].to_numpy().astype(np.int64),
        age=age,
        institution=claims["fixmedins_code"].combine_chunks(),
    )


_STORE_CASES = text(
    """
    SELECT v.id, v.end_date, v.begin_date, v.fixmedins_code, s.medfee_sumamt, p.birth_date
    FROM visits v
    JOIN settlements s ON s.visit_id = v.id AND s.status = 'settled'
    JOIN persons p ON p.id = v.person_id
    WHERE v.discharge_way IS NOT NULL AND v.status = 'registered'
      AND v.med_type IN ('inpatient', 'maternity')
      AND v.end_date >= :first AND v.end_date <= :last
      AND (:region = '' OR s.pooling_area = :region)
    ORDER BY v.id
    """
).columns(
    column("id", BigInteger),
    column("end_date", Date),
    column("begin_date", Date),
    column("fixmedins_code", String),
    column("medfee_sumamt", BigInteger),
    column("birth_date", Date),
)
_STORE_CODES = """
    SELECT c.visit_id, c.code FROM {table} c
    JOIN visits v ON v.id = c.visit_id
    WHERE v.discharge_way IS NOT NULL AND v.end_date >= :first AND v.end_date <= :last
    ORDER BY c.visit_id, c.seq
"""


def _lists(ids: I64, pairs: Sequence[tuple[int, str]]) -> pa.Array:
    """Each visit's codes in order (a list per id of ``ids``, which are ascending)."""
    owner = np.array([p[0] for p in pairs], np.int64)
    pos = np.searchsorted(ids, owner)
    found = (
        (pos < len(ids)) & (ids[np.clip(pos, 0, max(len(ids) - 1, 0))] == owner)
        if len(ids)
        else np.zeros(len(owner), np.bool_)
    )
    codes = [p[1] for p, ok in zip(pairs, found, strict=True) if ok]
    counts = np.bincount(pos[found], minlength=len(ids)) if len(ids) else np.zeros(0, np.int64)
    offsets = np.zeros(len(ids) + 1, np.int32)
    np.cumsum(counts, out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(codes, pa.string()))


def store_cases(uow: UnitOfWork, years: Sequence[int], region: str = "") -> Cases:
    """The discharged inpatient visits of ``years`` with a settlement in force (``region``: of
    that pooling area); cost = the settlement's total (medfee_sumamt)."""
    years = check_years(years)
    bounds = {"first": dt.date(years[0], 1, 1), "last": dt.date(years[-1], 12, 31)}
    with uow:
        rows = uow.session.execute(_STORE_CASES, {**bounds, "region": region}).all()
        diagnoses = [
            (int(r[0]), str(r[1]))
            for r in uow.session.execute(text(_STORE_CODES.format(table="visit_diagnoses")), bounds)
        ]
        procedures = [
            (int(r[0]), str(r[1]))
            for r in uow.session.execute(
                text(_STORE_CODES.format(table="visit_procedures")), bounds
            )
        ]
    rows = [r for r in rows if r[1].year in years]
    ids = np.array([r[0] for r in rows], np.int64)
    diag_lists = _lists(ids, diagnoses)
    proc_lists = _lists(ids, procedures)
    end = np.array([r[1] for r in rows], "datetime64[D]")
    begin = np.array([r[2] for r in rows], "datetime64[D]")
    birth = np.array([r[5] for r in rows], "datetime64[D]")
    return Cases(
        year=end.astype("datetime64[Y]").astype(np.int64) + 1970,
        diagnosis=pc.list_element(_padded(diag_lists), 0),
        procedure=pc.list_element(_padded(proc_lists), 0),
        diagnoses=diag_lists,
        cost=np.array([int(r[4]) for r in rows], np.int64),
        age=_ages(birth, begin) if rows else np.zeros(0, np.int64),
        institution=pa.array([str(r[3]) for r in rows], pa.string()),
    )


def _padded(lists: pa.Array) -> pa.Array:
    """Lists with an empty one replaced by ``[null]`` (so element 0 exists)."""
    empty = pc.equal(pc.list_value_length(lists), 0)
    filler = pa.array([[None]] * len(lists), lists.type)
    return pc.if_else(empty, filler, lists)


def dip_rows(
    cases: Cases, years: Sequence[int], policy: Policy, on: dt.date
) -> list[GroupTableRow]:
    """The DIP groups of a history as table rows (``kernel.dip_groups.build_groups``)."""
    building = group_building(policy, "dip", on)
    built = build_groups(cases.year, cases.diagnosis, cases.procedure, cases.cost, years, building)
    return [
        GroupTableRow(
            "group", g.code, kind=g.kind, score=g.score, avg_cost=g.avg_cost, cases=g.cases
        )
        for g in built
    ]


def drg_rows(
    cases: Cases, years: Sequence[int], table: Sequence[GroupTableRow], policy: Policy, on: dt.date
) -> list[GroupTableRow]:
    """A grouping table with each DRG's relative weight (× 100 by ``drg.scale``), average cost
    and cases from the history: weight = the DRG's weighted average cost ÷ that of every
    grouped case × scale. DRGs without cases keep the table's weight."""
    building = group_building(policy, "drg", on)
    compiled = compile_drg_table(table)
    assigned = group_cases(compiled, cases.diagnosis, cases.procedure, cases.diagnoses, cases.age)
    weights = history_weights(building, len(years))
    pos = positions(cases.year, years, weights)
    counts, sums = cell_sums(assigned.drg, pos, cases.cost, len(compiled.drgs), len(years))
    scored = group_scores(
        counts, sums, counts.sum(axis=0), sums.sum(axis=0), weights, building.scale
    )
    out: list[GroupTableRow] = []
    i = 0
    for row in table:
        if row.level == "drg":
            found = scored[i]
            i += 1
            if found is not None:
                row = replace(row, score=found[0], avg_cost=found[1], cases=found[2])
        out.append(row)
    return out


def default_from(years: Sequence[int]) -> dt.date:
    """A table built from ``years`` applies from the first day of the following year."""
    return dt.date(max(years) + 1, 1, 1)


def _check_day(on: dt.date, file: str) -> None:
    if not FIRST_DAY <= on <= LAST_DAY:
        raise GroupTableError(file, None, "from", f"{on} is outside {FIRST_DAY} .. {LAST_DAY}")


def save_built(
    uow: UnitOfWork,
    method: str,
    region: str,
    on: dt.date,
    years: Sequence[int],
    rows: Sequence[GroupTableRow],
) -> GroupTable:
    """Store a built table as the region's version from ``on`` (replacing one of that day)."""
    check_region(region)
    _check_day(on, "<command>")
    if not rows:
        raise GroupTableError("<command>", None, "years", "no discharged cases in those years")
    detail = f"built from {min(years)}-{max(years)}"
    with uow:
        table = PaymentGroupRepository(uow.session).replace(
            method, region, on, "built", detail, rows
        )
        uow.commit()
    return table


def load_file(
    uow: UnitOfWork, path: Path | str, method: str, region: str, on: dt.date
) -> GroupTable:
    """Load a table file (all or nothing) as the region's version from ``on``."""
    path = Path(path)
    check_region(region, str(path))
    _check_day(on, str(path))
    rows = read_table(path, method)
    with uow:
        table = PaymentGroupRepository(uow.session).replace(
            method, region, on, "loaded", path.name, rows
        )
        uow.commit()
    return table


def table_in_force(
    uow: UnitOfWork, method: str, region: str, on: dt.date
) -> tuple[GroupTable | None, list[GroupTableRow]]:
    """The region's table in force on ``on`` and its rows; for DRG without a stored table, the
    shipped illustrative grouping table of the region or the national one (no weights)."""
    with uow:
        repo = PaymentGroupRepository(uow.session)
        found = repo.in_force(method, region, on)
        if found is not None:
            return found, repo.rows(found.id)
    if method == "drg":
        shipped = shipped_drg_table(region) or shipped_drg_table("000000")
        if shipped is not None:
            return None, read_table(shipped, "drg")
    return None, []


def grouping_table(uow: UnitOfWork | None, region: str, on: dt.date) -> list[GroupTableRow]:
    """The DRG grouping table to build weights with: the stored one in force, else shipped."""
    if uow is not None:
        _, rows = table_in_force(uow, "drg", region, on)
        if rows:
            return rows
    shipped = shipped_drg_table(region) or shipped_drg_table("000000")
    if shipped is None:
        raise ParameterError("<shipped>", "drg", "no grouping table")
    return read_table(shipped, "drg")
