"""A part's claims as visits, with their fee detail lines classified, their diagnoses and
procedures (``claims/part-*.parquet`` and ``lines/part-*.parquet``), built as Arrow tables in
columns (no Python loop per visit or line) for ``store.bulk_write.copy_arrow``.

What the online path stores for the same visit (2201 registration, 2204 upload, 2402
discharge), with these conventions:

- a visit's ``mdtrt_id`` is ``S`` + region + year + ``claim_id`` (unique across the areas and
  years loaded into one database); status ``registered``; an admission (``admit_date`` given:
  inpatient and maternity stays) begins on ``admit_date`` and is discharged on ``date`` with
  ``discharge_status`` as its 离院方式; any other visit begins on ``date`` and has no end date
  (as a visit registered by 2201 and never discharged);
- a line's ``feedetl_sn`` is the Parquet's line number as text; its ``hosp_appr_flag`` is ``1``
  (approved) or ``2`` (not approved) for an item restricted to indications on its fee date, and
  ``0`` (none needed) for any other item; every line is live;
- each line is classified as 2204 classifies a visit's lines (``services.fees.classify``):
  ``kernel.classify.classify_lines`` over the area's catalogue (``services.catalogue``), the
  patient's sex and age on the line's fee date, the visit's level, in upload order; the amount
  it computes must be the Parquet's ``amount`` (else the part is refused, naming the line);
- diagnoses are Western medicine (``diag_type`` 1), the principal first (seq 1); procedures
  keep their order, the first the main one, without a date (the generator does not draw one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection

from yibao.domain.fees import ICD9CM3, ICD10
from yibao.domain.settlement import VisitStatus
from yibao.kernel.classify import (
    CLASSES,
    REASONS,
    SEX_FEMALE,
    SEX_MALE,
    CatalogueTable,
    Lines,
    VisitSums,
    classify_lines,
    line_too_large,
    visit_sums,
)
from yibao.policy.vocab import CrossRegion, FeeLineStatus
from yibao.services.area_load.report import AreaLoadRefused
from yibao.services.area_load.settle import Visits
from yibao.store.bulk_write import copy_arrow, next_ids

#: the claim's own amounts, settled from when the area is loaded without its lines
CLAIM_AMOUNTS = ("fully_self_paid", "over_limit", "category_b")
CLAIM_COLUMNS = (
    "claim_id",
    "psn_no",
    "date",
    "med_type",
    "level",
    "cross_region",
    "fixmedins_code",
    "admit_date",
    "total",
    "diagnoses",
    "procedures",
    "discharge_status",
)
LINE_COLUMNS = ("claim_id", "feedetl_sn", "code", "fee_date", "quantity", "unit_price", "approved")
#: 西医诊断 (the generator's diagnoses are ICD-10 codes)
DIAG_TYPE = "1"
#: lines classified and written at a time (whole visits; bounds the memory of a large part)
LINE_SLICE = 250_000


def sibling(persons_part: Path, kind: str) -> Path:
    """The ``claims`` or ``lines`` part of a persons part (same number)."""
    return persons_part.parent.parent / kind / persons_part.name


@dataclass
class People:
    """The part's registered persons as sorted arrays (for columnar lookups by ``psn_no``)."""

    psn_no: np.ndarray
    person_id: np.ndarray
    sex: np.ndarray  # SEX_MALE or SEX_FEMALE
    birth: np.ndarray  # datetime64[D]

    @classmethod
    def of(cls, table: pa.Table, person_ids: dict[int, int]) -> People:
        psn = table.column("psn_no").to_numpy()
        order = np.argsort(psn, kind="stable")
        psn = psn[order]
        ids = np.array([person_ids.get(int(p), -1) for p in psn], dtype=np.int64)
        sex = np.where(
            table.column("sex").to_numpy(zero_copy_only=False)[order] == "M", SEX_MALE, SEX_FEMALE
        ).astype(np.int64)
        birth = table.column("birth_date").to_numpy().astype("datetime64[D]")[order]
        return cls(psn, ids, sex, birth)

    def at(self, psn_no: np.ndarray) -> np.ndarray:
        """Index of each ``psn_no``, −1 when not a registered person of the part."""
        if not len(self.psn_no):
            return np.full(len(psn_no), -1, dtype=np.int64)
        i = np.searchsorted(self.psn_no, psn_no).clip(0, len(self.psn_no) - 1)
        ok = (self.psn_no[i] == psn_no) & (self.person_id[i] >= 0)
        return np.where(ok, i, -1).astype(np.int64)


@dataclass
class Built:
    """The rows of a part's visits and the counts a report shows."""

    visits: pa.Table
    diagnoses: pa.Table
    procedures: pa.Table
    #: per visit (in ``visits`` order): its claim_id, level, person index, begin and end day
    claim_id: np.ndarray
    level: np.ndarray
    person: np.ndarray
    begin: np.ndarray  # epoch days
    end: np.ndarray  # epoch days (the begin day when no end date)
    total: np.ndarray  # the claim's total (fen): its lines must sum to it
    by_med_type: dict[str, int] = field(default_factory=dict)


def _refuse(part: str, where: str, field_: str, reason: str) -> AreaLoadRefused:
    return AreaLoadRefused(f"{part}: {where}: {field_}: {reason}")


def _days(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False), dtype=np.int64)


def _codes(
    table: pa.Table, column: str, visit_ids: pa.Array, pattern: str, part: str, claims: pa.Array
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """A list column exploded: (visit id, seq from 1, code) per entry; a code not in the
    national format refuses the part, naming the claim."""
    lists = table.column(column).combine_chunks()
    parent = pc.list_parent_indices(lists)
    codes = pc.list_flatten(lists)
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    seq = np.arange(len(codes), dtype=np.int32) - starts.astype(np.int32) + 1
    bad = pc.invert(pc.match_substring_regex(codes, f"^(?:{pattern})$")).fill_null(True)
    if pc.any(bad).as_py():
        k = pc.index(bad, True).as_py()
        claim = claims[parent[k].as_py()].as_py()
        raise _refuse(
            part, f"claim {claim}", f"{column}[{seq[k] - 1}]", f"{codes[k]} is not a code"
        )
    return visit_ids.take(parent), pa.array(seq), codes


def build_visits(
    claims: pa.Table,
    people: People,
    visit_ids: list[int],
    region: str,
    year: int,
    part: str,
) -> Built:
    """The visits, diagnoses and procedures of a part's claims (every claim's person must be a
    registered person of the part)."""
    n = claims.num_rows
    claim_ids = claims.column("claim_id").combine_chunks()
    person = people.at(claims.column("psn_no").to_numpy())
    if (person < 0).any():
        k = int(np.flatnonzero(person < 0)[0])
        raise _refuse(part, f"claim {claim_ids[k]}", "psn_no", "not a person of the part")
    admit = claims.column("admit_date")
    date = claims.column("date")
    admitted = pc.is_valid(admit)
    begin = pc.if_else(admitted, admit, date)
    end = pc.if_else(admitted, date, pa.scalar(None, pa.date32()))
    ids = pa.array(visit_ids, type=pa.int64())
    prefix = f"S{region}{year}"
    mdtrt = pc.binary_join_element_wise(
        pa.array([prefix] * n, pa.string()), pc.cast(claim_ids, pa.string()), ""
    )
    visits = pa.table(
        {
            "id": ids,
            "mdtrt_id": mdtrt,
            "person_id": pa.array(people.person_id[person]),
            "fixmedins_code": claims.column("fixmedins_code"),
            "med_type": claims.column("med_type"),
            "level": pc.cast(claims.column("level"), pa.int32()),
            "cross_region": pc.fill_null(claims.column("cross_region"), CrossRegion.NONE.value),
            "begin_date": begin,
            "end_date": end,
            "status": pa.array([VisitStatus.REGISTERED.value] * n, pa.string()),
            "discharge_way": claims.column("discharge_status"),
        }
    )
    d_visit, d_seq, d_code = _codes(claims, "diagnoses", ids, ICD10.pattern, part, claim_ids)
    diagnoses = pa.table(
        {
            "visit_id": d_visit,
            "seq": d_seq,
            "code": d_code,
            "diag_type": pa.array([DIAG_TYPE] * len(d_code), pa.string()),
        }
    )
    p_visit, p_seq, p_code = _codes(claims, "procedures", ids, ICD9CM3.pattern, part, claim_ids)
    procedures = pa.table(
        {
            "visit_id": p_visit,
            "seq": p_seq,
            "code": p_code,
            "performed_on": pa.nulls(len(p_code), pa.date32()),
            "main": pc.equal(p_seq, 1),
        }
    )
    begin_days = _days(begin)
    counts = pc.value_counts(claims.column("med_type")).to_pylist()
    return Built(
        visits=visits,
        diagnoses=diagnoses,
        procedures=procedures,
        claim_id=claim_ids.to_numpy(),
        level=claims.column("level").to_numpy().astype(np.int64),
        person=person,
        begin=begin_days,
        end=np.where(admitted.to_numpy(zero_copy_only=False), _days(date), begin_days),
        total=claims.column("total").to_numpy(),
        by_med_type={str(c["values"]): int(c["counts"]) for c in counts},
    )


@dataclass
class LineSlice:
    """Fee lines of whole visits ready to copy, and their sums per visit
    (``kernel.classify.visit_sums``) and counts from visit ``first`` on."""

    rows: pa.Table
    first: int
    sums: VisitSums
    counts: np.ndarray


def _age_on(birth: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Age in whole years on each day (``domain.registry.Person.age_on``, in columns)."""
    by, dy = birth.astype("datetime64[Y]"), day.astype("datetime64[Y]")
    bm, dm = birth.astype("datetime64[M]"), day.astype("datetime64[M]")
    b_md = (bm - by).astype(np.int64) * 32 + (birth - bm).astype(np.int64)
    d_md = (dm - dy).astype(np.int64) * 32 + (day - dm).astype(np.int64)
    return np.asarray((dy - by).astype(np.int64) - (d_md < b_md), dtype=np.int64)


def build_lines(
    lines: pa.Table, built: Built, people: People, table: CatalogueTable, region: str, part: str
) -> LineSlice:
    """Whole visits' lines classified (``kernel.classify.classify_lines``) as the rows of
    ``fee_lines``; a line that the online upload (2204) would refuse refuses the part, naming
    the claim, the line and the field."""
    m = lines.num_rows
    claim = lines.column("claim_id").to_numpy()
    visit = np.searchsorted(built.claim_id, claim).clip(0, max(len(built.claim_id) - 1, 0))
    sn = lines.column("feedetl_sn")

    def refuse(bad: np.ndarray, field_: str, reason: str) -> AreaLoadRefused:
        k = int(np.flatnonzero(bad)[0])
        return _refuse(part, f"claim {claim[k]} line {sn[k]}", field_, reason)

    if m and (built.claim_id[visit] != claim).any():
        raise refuse(built.claim_id[visit] != claim, "claim_id", "not a claim of the part")
    if m and (visit[1:] < visit[:-1]).any():
        raise refuse(np.append(False, visit[1:] < visit[:-1]), "claim_id", "lines out of order")
    codes = lines.column("code").combine_chunks().dictionary_encode()
    dictionary = np.asarray(codes.dictionary.to_pylist(), dtype=np.str_)
    code_id = table.code_ids(dictionary)[codes.indices.to_numpy(zero_copy_only=False)]
    day = _days(lines.column("fee_date"))
    rows = table.rows(code_id, day)
    if (rows < 0).any():
        unknown = code_id < 0
        bad = rows < 0
        k = int(np.flatnonzero(bad)[0])
        reason = "not in" if unknown[k] else f"not valid on {lines.column('fee_date')[k]} in"
        raise refuse(
            bad, "code", f"{lines.column('code')[k]} is {reason} the catalogue of {region}"
        )
    quantity = lines.column("quantity").to_numpy()
    price = lines.column("unit_price").to_numpy()
    if (quantity <= 0).any():
        raise refuse(quantity <= 0, "quantity", "must be more than 0")
    if (price < 0).any():
        raise refuse(price < 0, "unit_price", "must not be negative")
    if line_too_large(quantity, price).any():
        raise refuse(line_too_large(quantity, price), "unit_price", "quantity × price too large")
    outside = (day < built.begin[visit]) | (day > built.end[visit])
    if outside.any():
        raise refuse(outside, "fee_date", "outside the visit")
    person = built.person[visit]
    approved_in = lines.column("approved").to_numpy(zero_copy_only=False).astype(np.bool_)
    needs = table.needs_approval[rows]
    found = classify_lines(
        table,
        Lines(
            visit=visit.astype(np.int64),
            row=rows,
            day=day,
            quantity=quantity,
            unit_price=price,
            sex=people.sex[person],
            age=_age_on(people.birth[person], day.astype("datetime64[D]")),
            level=built.level[visit],
            approved=approved_in & needs,
        ),
    )
    stated = lines.column("amount").to_numpy() if "amount" in lines.column_names else None
    if stated is not None and (stated != found.amount).any():
        raise refuse(stated != found.amount, "amount", "is not quantity × unit_price")
    approval = np.where(needs, np.where(approved_in, "1", "2"), "0")
    classes = np.asarray([c.value for c in CLASSES])[table.item_class[rows]]
    reasons = np.asarray([r.value for r in REASONS])[found.reason]
    out = pa.table(
        {
            "visit_id": pa.array(built.visits.column("id").to_numpy()[visit]),
            "feedetl_sn": pc.cast(sn, pa.string()),
            "code": lines.column("code"),
            "quantity": pa.array(quantity),
            "unit_price": pa.array(price),
            "amount": pa.array(found.amount),
            "fee_date": lines.column("fee_date"),
            "approval": pa.array(approval, pa.string()),
            "status": pa.array([FeeLineStatus.LIVE.value] * m, pa.string()),
            "item_class": pa.array(classes, pa.string()),
            "fully_self_paid": pa.array(found.fully_self_paid),
            "over_limit": pa.array(found.over_limit),
            "in_scope": pa.array(found.in_scope),
            "category_b": pa.array(found.category_b),
            "reason": pa.array(reasons, pa.string()),
        }
    )
    first = int(visit[0]) if m else 0
    count = int(visit[-1]) - first + 1 if m else 0
    counts = np.bincount(visit - first, minlength=count) if m else np.zeros(0, np.int64)
    return LineSlice(out, first, visit_sums(visit - first, found, count), counts)


def _check_columns(path: Path, wanted: tuple[str, ...]) -> None:
    have = set(pq.read_schema(path).names)
    missing = [c for c in wanted if c not in have]
    if missing:
        raise AreaLoadRefused(
            f"{path} has no column {', '.join(missing)} (generated by an older yibao synth?)"
        )


def read_claims(path: Path, with_amounts: bool = False) -> pa.Table:
    """A claims part's columns (``with_amounts``: and the claim's own amounts)."""
    columns = (*CLAIM_COLUMNS, *CLAIM_AMOUNTS) if with_amounts else CLAIM_COLUMNS
    _check_columns(path, columns)
    return pq.read_table(path, columns=list(columns))


def _whole_visits(path: Path) -> Iterator[pa.Table]:
    """The lines of a part, about ``LINE_SLICE`` at a time, each batch the whole lines of its
    visits (a visit's lines are classified together: its per-stay maxima count them all)."""
    _check_columns(path, (*LINE_COLUMNS, "amount"))
    pending: pa.Table | None = None
    reader = pq.ParquetFile(path)
    for batch in reader.iter_batches(batch_size=LINE_SLICE, columns=[*LINE_COLUMNS, "amount"]):
        table = pa.Table.from_batches([batch])
        if pending is not None:
            table = pa.concat_tables([pending, table])
        claim = table.column("claim_id").to_numpy()
        cut = int(np.searchsorted(claim, claim[-1], side="left"))  # the last visit's first line
        if cut:
            yield table.slice(0, cut)
        pending = table.slice(cut)
    if pending is not None and pending.num_rows:
        yield pending


@dataclass
class Written:
    """What ``write_visits`` wrote."""

    visits: dict[str, int] = field(default_factory=dict)  # by med type
    claims_skipped: int = 0  # of persons not registered (invalid rows)
    diagnoses: int = 0
    procedures: int = 0
    lines: int = 0
    #: the lines' amounts summed (fen): amount, fully self-paid, over limit, category B
    amounts: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    #: the visits as the settlement of the load takes them (``settle.Visits``)
    to_settle: Visits | None = None


def write_visits(
    conn: Connection,
    persons_part: Path,
    person_ids: dict[int, int],
    region: str,
    year: int,
    catalogue: CatalogueTable | None,
) -> Written:
    """Copy the visits of a persons part's claims, their diagnoses and procedures and (with a
    ``catalogue``) their classified lines, inside the caller's transaction. A claim whose
    lines do not sum to its ``total`` refuses the part."""
    part = persons_part.name
    claims_path = sibling(persons_part, "claims")
    if not claims_path.exists():
        raise AreaLoadRefused(f"{claims_path} is missing (the claims of {part})")
    claims = read_claims(claims_path, with_amounts=catalogue is None)
    persons = pq.read_table(persons_part, columns=["psn_no", "sex", "birth_date"])
    people = People.of(persons, person_ids)
    # the claims of a person not registered (an invalid row of the part) are left out
    known = people.at(claims.column("psn_no").to_numpy()) >= 0
    skipped = claims.column("claim_id").to_numpy()[~known]
    if len(skipped):
        claims = claims.filter(pa.array(known))
    built = build_visits(
        claims, people, next_ids(conn, "visits", claims.num_rows), region, year, part
    )
    out = Written(visits=built.by_med_type, claims_skipped=len(skipped))
    copy_arrow(conn, "visits", built.visits)
    copy_arrow(conn, "visit_diagnoses", built.diagnoses)
    copy_arrow(conn, "visit_procedures", built.procedures)
    out.diagnoses, out.procedures = built.diagnoses.num_rows, built.procedures.num_rows
    v = built.visits
    out.to_settle = Visits(
        visit_id=v.column("id").to_numpy(),
        mdtrt_id=v.column("mdtrt_id").to_pylist(),
        claim_id=built.claim_id,
        person=built.person,
        person_id=people.person_id[built.person],
        day=_days(claims.column("date")),
        med_type=v.column("med_type").to_pylist(),
        level=built.level,
        cross_region=v.column("cross_region").to_pylist(),
        institution=v.column("fixmedins_code").to_pylist(),
        total=built.total,
        fully_self_paid=np.zeros(0, np.int64),
        over_limit=np.zeros(0, np.int64),
        category_b=np.zeros(0, np.int64),
    )
    if catalogue is None:
        for name in CLAIM_AMOUNTS:
            setattr(out.to_settle, name, claims.column(name).to_numpy().astype(np.int64))
        return out
    del claims
    lines_path = sibling(persons_part, "lines")
    if not lines_path.exists():
        raise AreaLoadRefused(f"{lines_path} is missing (the fee lines of {part})")
    n = len(built.claim_id)
    totals, fully_self_paid, over_limit, category_b, counts = (
        np.zeros(n, dtype=np.int64) for _ in range(5)
    )
    last = -1  # the last visit of the lines so far: a visit's lines come together
    for chunk in _whole_visits(lines_path):
        if len(skipped):
            chunk = chunk.filter(pa.array(~np.isin(chunk.column("claim_id").to_numpy(), skipped)))
            if not chunk.num_rows:
                continue
        done = build_lines(chunk, built, people, catalogue, region, part)
        if done.first <= last:
            sn = chunk.column("feedetl_sn")[0]
            raise _refuse(
                part,
                f"claim {built.claim_id[done.first]} line {sn}",
                "claim_id",
                "lines out of order",
            )
        last = done.first + len(done.sums.total) - 1
        copy_arrow(conn, "fee_lines", done.rows)
        s = done.sums
        at = slice(done.first, done.first + len(s.total))
        totals[at] += s.total
        fully_self_paid[at] += s.fully_self_paid
        over_limit[at] += s.over_limit
        category_b[at] += s.category_b
        counts[at] += done.counts
        for i, x in enumerate((s.total, s.fully_self_paid, s.over_limit, s.category_b)):
            out.amounts[i] += int(x.sum())
        out.lines += done.rows.num_rows
    if (totals != built.total).any():
        k = int(np.flatnonzero(totals != built.total)[0])
        raise _refuse(
            part,
            f"claim {built.claim_id[k]}",
            "total",
            f"{built.total[k]} fen is not the sum of its lines ({totals[k]} fen)",
        )
    t = out.to_settle
    t.fully_self_paid, t.over_limit, t.category_b, t.lines = (
        fully_self_paid,
        over_limit,
        category_b,
        counts,
    )
    return out
