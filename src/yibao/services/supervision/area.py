"""The year's supervision rules over a generated area's Parquet (``persons``, ``claims``,
``lines`` parts; docs/synthetic-data.md), part by part: every part holds whole persons, so a
person's visits over the year are checked together. Findings are written as Parquet
(``findings.parquet``: one row per piece of evidence) and counted per rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.kernel.catalogue import shipped_table
from yibao.kernel.classify import NO_LIMIT, CatalogueTable, Lines, classify_lines
from yibao.kernel.segments import I64
from yibao.kernel.supervision import (
    RULES,
    Hits,
    LineColumns,
    Thresholds,
    VisitColumns,
    run_rules,
)
from yibao.policy.params import Policy
from yibao.policy.supervision import RuleCatalogue, rule_catalogue
from yibao.policy.vocab import InsuranceScheme, MedType, RuleAction

PERSON_COLUMNS = ["psn_no", "sex", "birth_date", "enrolled_on", "scheme"]
CLAIM_COLUMNS = [
    "claim_id",
    "psn_no",
    "date",
    "med_type",
    "level",
    "diagnosis",
    "admit_date",
    "discharge_status",
    "fixmedins_code",
    "total",
]
LINE_COLUMNS = ["claim_id", "feedetl_sn", "code", "fee_date", "quantity", "unit_price", "approved"]
#: 离院方式 5: died
DIED = "5"


@dataclass(frozen=True)
class AreaRun:
    """A supervision run over an area: the evidence rows (Arrow) and what was read."""

    evidence: pa.Table
    lines: int
    visits: int

    def counts(self) -> dict[str, int]:
        """Findings (distinct rule and visit) per rule."""
        if not self.evidence.num_rows:
            return {r.value: 0 for r in RULES}
        keys = self.evidence.group_by(["rule", "claim_id"]).aggregate([])
        per = keys.group_by("rule").aggregate([("claim_id", "count")]).to_pylist()
        found = {row["rule"]: row["claim_id_count"] for row in per}
        return {r.value: int(found.get(r.value, 0)) for r in RULES}


def _days(column: pa.ChunkedArray, fill: int) -> I64:
    days = pc.cast(column, pa.int32())
    if days.null_count:
        days = pc.fill_null(days, fill)
    return np.asarray(days.to_numpy(), dtype=np.int64)


def _ints(column: pa.ChunkedArray) -> I64:
    return np.asarray(column.to_numpy(), dtype=np.int64)


def _rows(keys: I64, wanted: I64, what: str) -> I64:
    """The row of ``keys`` (ascending) holding each wanted key; runs of one key (a claim's
    lines) are looked up once."""
    if len(wanted) > 1:
        start = np.flatnonzero(np.concatenate(([True], wanted[1:] != wanted[:-1])))
        if len(start) < len(wanted) // 2:
            runs = _rows(keys, wanted[start], what)
            return np.repeat(runs, np.diff(np.append(start, len(wanted))))
    at = np.searchsorted(keys, wanted).clip(0, max(len(keys) - 1, 0))
    if len(wanted) and (not len(keys) or (keys[at] != wanted).any()):
        raise ValueError(f"{what}: a row refers to an unknown key")
    return at


def check_part(
    persons: pa.Table,
    claims: pa.Table,
    lines: pa.Table,
    table: CatalogueTable,
    catalogue: RuleCatalogue,
    year: int,
) -> pa.Table:
    """The rules over one part's persons, claims and lines: its evidence rows."""
    psn = _ints(persons["psn_no"])
    claim_id = _ints(claims["claim_id"])
    if len(claim_id) > 1 and not bool((claim_id[1:] > claim_id[:-1]).all()):
        raise ValueError("claims: claim_id must ascend within a part")
    person = _rows(psn, _ints(claims["psn_no"]), "claims.psn_no")
    day = _days(claims["date"], 0)
    admit = _days(claims["admit_date"], -1)
    admit = np.where(admit < 0, day, admit)
    inpatient = np.asarray(
        pc.is_in(claims["med_type"], pa.array([MedType.INPATIENT, MedType.MATERNITY])).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.bool_,
    )
    diagnosis_codes = pc.dictionary_encode(claims["diagnosis"]).combine_chunks()
    diagnosis = np.asarray(
        pc.fill_null(diagnosis_codes.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    limits = np.array(
        [catalogue.stay_limit(d) for d in diagnosis_codes.dictionary.to_pylist()] + [NO_LIMIT],
        dtype=np.int64,
    )
    died = np.full(len(psn), NO_LIMIT, dtype=np.int64)
    dead = np.asarray(
        pc.fill_null(pc.equal(claims["discharge_status"], DIED), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.bool_,
    )
    np.minimum.at(died, person[dead], day[dead])
    covered_from = _days(persons["enrolled_on"], 0)
    visits = VisitColumns(
        person=person,
        day=day,
        admit=admit,
        inpatient=inpatient,
        diagnosis=diagnosis,
        stay_limit=limits[diagnosis],
        died_on=died[person],
        covered_from=covered_from[person],
        covered_to=np.full(len(day), NO_LIMIT, dtype=np.int64),
    )
    visit = _rows(claim_id, _ints(lines["claim_id"]), "lines.claim_id")
    codes = pc.dictionary_encode(lines["code"]).combine_chunks()
    code_id = table.code_ids(codes.dictionary.to_numpy(zero_copy_only=False)).take(
        codes.indices.to_numpy(zero_copy_only=False)
    )
    line_day = _days(lines["fee_date"], 0)
    row = table.rows(code_id, line_day)
    if (row < 0).any():
        raise ValueError("lines.code: a code the area's catalogue does not list on its day")
    male = np.asarray(pc.equal(persons["sex"], "M").to_numpy(zero_copy_only=False), dtype=bool)
    sex = np.where(male, 1, 2)[person]
    birth_year = np.asarray(
        pc.year(persons["birth_date"]).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    quantity = _ints(lines["quantity"])
    unit_price = _ints(lines["unit_price"])
    reason = line_reasons(
        table,
        Lines(
            visit=visit,
            row=row,
            day=line_day,
            quantity=quantity,
            unit_price=unit_price,
            sex=sex[visit],
            # age on 31 December, as the generator bills (docs/supervision.md)
            age=(year - birth_year)[person][visit],
            level=_ints(claims["level"])[visit],
            approved=np.asarray(lines["approved"].to_numpy(), dtype=np.bool_),
        ),
    )
    found = run_rules(
        visits,
        LineColumns(visit, code_id, line_day, quantity, unit_price, reason),
        Thresholds(
            catalogue.readmission_days,
            catalogue.frequency_window_days,
            catalogue.frequency_max_visits,
        ),
        frozenset(r.code for r in catalogue.rules if r.action != RuleAction.OFF),
    )
    evidence = evidence_table(found, claims, lines)
    resident = pc.equal(persons["scheme"], InsuranceScheme.RESIDENT.value)
    scheme = pc.if_else(resident, InsuranceScheme.RESIDENT.value, InsuranceScheme.EMPLOYEE.value)
    return evidence.append_column("scheme", scheme.take(pa.array(person[found.visit])))


#: Lines classified at a time (cut at a visit's end): the classification's passes stay in cache.
BATCH = 1 << 17


def line_reasons(table: CatalogueTable, lines: Lines) -> I64:
    """Each line's classification reason (index into REASONS), in batches of whole visits."""
    n = len(lines.visit)
    reason = np.empty(n, dtype=np.int64)
    lo = 0
    while lo < n:
        hi = min(n, lo + BATCH)
        if hi < n:  # end at a visit boundary
            hi = int(np.searchsorted(lines.visit, lines.visit[hi], side="left"))
            if hi <= lo:
                hi = int(np.searchsorted(lines.visit, lines.visit[lo], side="right"))
        part = slice(lo, hi)
        reason[part] = classify_lines(
            table,
            Lines(
                visit=lines.visit[part] - lines.visit[lo],
                row=lines.row[part],
                day=lines.day[part],
                quantity=lines.quantity[part],
                unit_price=lines.unit_price[part],
                sex=lines.sex[part],
                age=lines.age[part],
                level=lines.level[part],
                approved=lines.approved[part],
            ),
        ).reason
        lo = hi
    return reason


def evidence_table(found: Hits, claims: pa.Table, lines: pa.Table) -> pa.Table:
    """Evidence rows as Arrow: rule, claim, person, institution, line number (−1), the other
    claim (−1) and the amount at stake (the line's, else the claim's total, fen); ``check_part``
    adds the patient's scheme (employee or resident: the fund a recovery goes back to)."""
    claim_id = _ints(claims["claim_id"])
    has_line = found.line >= 0
    line_at = np.where(has_line, found.line, 0)
    line_sn = _ints(lines["feedetl_sn"]) if lines.num_rows else np.zeros(1, dtype=np.int64)
    amount_line = _ints(lines["amount"]) if "amount" in lines.column_names else None
    total = _ints(claims["total"])
    amount = np.where(
        has_line,
        amount_line[line_at] if amount_line is not None else 0,
        total[found.visit] if len(total) else 0,
    )
    other = np.where(found.other >= 0, claim_id[np.maximum(found.other, 0)], -1)
    visit_pick = pa.array(found.visit)
    return pa.table(
        {
            "rule": pa.array([RULES[i].value for i in found.rule], pa.string()),
            "claim_id": pa.array(claim_id[found.visit]),
            "psn_no": claims["psn_no"].take(visit_pick),
            "fixmedins_code": claims["fixmedins_code"].take(visit_pick),
            "feedetl_sn": pa.array(np.where(has_line, line_sn[line_at], -1)),
            "other_claim_id": pa.array(other),
            "amount": pa.array(amount.astype(np.int64)),
        }
    )


def area_parts(area: Path | str) -> list[str]:
    root = Path(area)
    names = sorted(p.name for p in (root / "claims").glob("part-*.parquet"))
    if not names:
        raise FileNotFoundError(f"{root}: no claims/part-*.parquet")
    return names


def read_part(area: Path | str, name: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    root = Path(area)
    lines_cols = [*LINE_COLUMNS, "amount"]
    return (
        pq.read_table(root / "persons" / name, columns=PERSON_COLUMNS),
        pq.read_table(root / "claims" / name, columns=CLAIM_COLUMNS),
        pq.read_table(root / "lines" / name, columns=lines_cols),
    )


def supervise_area(
    area: Path | str,
    region: str,
    year: int,
    threads: int = 2,
    policy: Policy | None = None,
    on_part: Callable[[int, int], None] | None = None,
) -> AreaRun:
    """Every rule of the region's catalogue (on 1 January of ``year``; rules ``off`` skipped)
    over the area's year: the evidence of what fires."""
    catalogue = rule_catalogue(policy or Policy(region), dt.date(year, 1, 1))
    table = shipped_table(region)
    names = area_parts(area)

    def one(name: str) -> tuple[pa.Table, int, int]:
        persons, claims, lines = read_part(area, name)
        found = check_part(persons, claims, lines, table, catalogue, year)
        return found, lines.num_rows, claims.num_rows

    out: list[pa.Table] = []
    n_lines = n_visits = 0
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for i, (found, nl, nv) in enumerate(pool.map(one, names)):
            out.append(found)
            n_lines += nl
            n_visits += nv
            if on_part:
                on_part(i + 1, len(names))
    return AreaRun(pa.concat_tables(out), n_lines, n_visits)


@dataclass(frozen=True)
class RuleScore:
    """One rule's findings against the planted ground truth."""

    rule: str
    planted: int
    found: int  # planted cases the rule found
    findings: int
    false_positives: int  # findings that are not planted cases

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0


def read_truth(area: Path | str) -> pa.Table:
    """The planted irregularities of an area generated with ``--irregular``."""
    parts = sorted((Path(area) / "truth").glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"{area}: no truth/part-*.parquet (generate with --irregular)")
    return pa.concat_tables(pq.read_table(p) for p in parts)


def score(run: AreaRun, truth: pa.Table) -> list[RuleScore]:
    """Recall and false positives per rule: a planted case is found when a finding of its rule
    names its claim (a person's, for visit frequency: one finding per person)."""
    out = []
    ev, tr = run.evidence, truth
    for rule in RULES:
        key = "psn_no" if rule.value == "visit_frequency" else "claim_id"
        found_keys = set(pc.filter(ev[key], pc.equal(ev["rule"], rule.value)).to_pylist())
        planted = set(pc.filter(tr[key], pc.equal(tr["rule"], rule.value)).to_pylist())
        out.append(
            RuleScore(
                rule.value,
                len(planted),
                len(planted & found_keys),
                len(found_keys),
                len(found_keys - planted),
            )
        )
    return out
