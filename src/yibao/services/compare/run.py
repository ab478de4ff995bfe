"""``compare run``: department files read, matched against the registry (the store or a
generated area), the findings and coverage; stored in the store once per set of inputs.

A run is identified by the digest of its area, day and files (each file's SHA-256): the same
inputs compared again return the stored run and add nothing. The seam for record linkage: the
run stores its unmatched records (``compare_unmatched``); ``linked`` (``source``, ``row_no``,
``person``) adds linkage's accepted pairs as matches before the findings are made.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from yibao.domain.errors import InvalidField
from yibao.domain.registry import check_area
from yibao.policy.params import Policy
from yibao.services.compare.files import KINDS, DepartmentFile, read_department
from yibao.services.compare.match import Comparison, compare
from yibao.services.compare.registry import Registry, from_area, from_store
from yibao.store.compare_models import CompareRunRow
from yibao.store.repositories.compare import CompareRepository
from yibao.store.uow import UnitOfWork

Progress = Callable[[str], None]
#: record linkage's seam: (unmatched records, registry) -> accepted pairs (``match.LINKED``:
#: ``source``, ``row_no``, ``person``), taken as matches by the findings
Linker = Callable[[pa.Table, Registry], pa.Table]


@dataclass(frozen=True)
class Targets:
    overall: Decimal
    low_income: Decimal


def targets(area: str, on: dt.date) -> Targets:
    """The coverage targets in force (``compare.coverage.target``, ``.target_low_income``)."""
    policy = Policy(area)
    return Targets(
        policy.rate("compare.coverage.target", on),
        policy.rate("compare.coverage.target_low_income", on),
    )


def newborn_window(area: str, on: dt.date) -> int:
    return Policy(area).count("resident.waiting.newborn_window_days", on)


def parse_sources(specs: list[str]) -> dict[str, Path]:
    """``KIND=FILE`` pairs, each kind at most once."""
    out: dict[str, Path] = {}
    for spec in specs:
        kind, sep, file = spec.partition("=")
        kind = kind.strip()
        if not sep or not file:
            raise InvalidField("source", "must be KIND=FILE", spec)
        if kind not in KINDS:
            raise InvalidField("source", f"kind must be one of {', '.join(KINDS)}", kind)
        if kind in out:
            raise InvalidField("source", f"{kind} given twice", spec)
        out[kind] = Path(file)
    if not out:
        raise InvalidField("source", "give at least one KIND=FILE")
    return out


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_digest(area: str, on: dt.date, sources: dict[str, Path], *, linked: bool = False) -> str:
    parts = [area, on.isoformat()] + [f"{k}={file_digest(sources[k])}" for k in sorted(sources)]
    if linked:
        parts.append("linked")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


@dataclass
class RunReport:
    """A comparison and, when stored, its run id (``new``: stored by this call)."""

    area: str
    on: dt.date
    digest: str
    comparison: Comparison | None
    run_id: int | None = None
    new: bool = True
    targets: Targets | None = None

    def coverage_rows(self) -> list[dict[str, Any]]:
        assert self.comparison is not None
        return coverage_rows(self.comparison.coverage, self.targets)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "area": self.area,
            "on": self.on.isoformat(),
            "digest": self.digest,
            "run_id": self.run_id,
            "new": self.new,
        }
        c = self.comparison
        if c is not None:
            out["rows"] = c.rows
            out["matched"] = c.matched
            out["unmatched"] = c.unmatched.num_rows
            out["errors"] = c.errors.num_rows
            out["findings"] = c.counts()
            out["coverage"] = self.coverage_rows()
            out["seconds"] = {k: round(v, 3) for k, v in c.seconds.items()}
            out["first_errors"] = [
                {k: v for k, v in e.items()} for e in c.errors.slice(0, 20).to_pylist()
            ]
        return out


def coverage_rows(coverage: pa.Table, goal: Targets | None) -> list[dict[str, Any]]:
    """The coverage table with each row's rate and target (low-income groups: the higher)."""
    rows = []
    for r in coverage.to_pylist():
        rate = Decimal(r["insured"]) / Decimal(r["population"]) if r["population"] else None
        target = None
        if goal is not None:
            low = r["dimension"] == "group" and r["value"] != "none"
            target = goal.low_income if low else goal.overall
        rows.append(
            {
                **r,
                "rate": None if rate is None else float(round(rate, 4)),
                "target": None if target is None else float(target),
                "meets": None if rate is None or target is None else rate >= target,
            }
        )
    order = {"overall": 0, "group": 1, "area": 2, "age_band": 3, "sex": 4}

    def key(r: dict[str, Any]) -> tuple[int, int, str]:
        value = str(r["value"])
        if r["dimension"] == "age_band":
            return (order["age_band"], int(value.split("-")[0].rstrip("+")), value)
        first = 0 if value in ("all", "low_income") else 1
        return (order.get(r["dimension"], 9), first, value)

    return sorted(rows, key=key)


def read_sources(
    sources: dict[str, Path], progress: Progress | None = None
) -> dict[str, DepartmentFile]:
    files = {}
    for kind, path in sources.items():
        if progress is not None:
            progress(f"reading {kind} {path}")
        files[kind] = read_department(kind, path)
    return files


def compare_files(
    sources: dict[str, Path],
    registry: Registry,
    *,
    area: str,
    on: dt.date,
    linker: Linker | None = None,
    progress: Progress | None = None,
) -> tuple[Comparison, dict[str, DepartmentFile]]:
    """Read, match and find; with ``linker``, the unmatched records are linked and the
    comparison made again with its pairs as matches."""
    files = read_sources(sources, progress)
    if progress is not None:
        progress("matching")
    window = newborn_window(area, on)
    comparison = compare(files, registry, on, area=area, newborn_window_days=window)
    if linker is not None and comparison.unmatched.num_rows:
        if progress is not None:
            progress(f"linking {comparison.unmatched.num_rows} unmatched records")
        linked = linker(comparison.unmatched, registry)
        comparison = compare(
            files, registry, on, area=area, newborn_window_days=window, linked=linked
        )
    return comparison, files


def run_area(
    sources: dict[str, Path],
    folder: Path,
    *,
    on: dt.date | None = None,
    linker: Linker | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Compare against a generated area's persons (no database); ``on`` defaults to the last
    day of the area's year."""
    registry = from_area(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    area = str(meta["region"])
    day = on or dt.date(int(meta["year"]), 12, 31)
    comparison, _ = compare_files(
        sources, registry, area=area, on=day, linker=linker, progress=progress
    )
    return RunReport(
        area, day, run_digest(area, day, sources), comparison, targets=targets(area, day)
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _evidence(findings: pa.Table, files: dict[str, DepartmentFile]) -> list[str]:
    """The department row each finding rests on, as JSON (registry findings: {})."""
    out = ["{}"] * findings.num_rows
    sources = findings["source"].to_pylist()
    rows = findings["row_no"].to_pylist()
    for kind, file in files.items():
        wanted = [i for i, s in enumerate(sources) if s == kind and rows[i] is not None]
        if not wanted:
            continue
        index = pc.index_in(pa.array([rows[i] for i in wanted]), file.rows["row_no"])
        taken = file.rows.drop_columns(["id_reason", "id_key"]).take(index).to_pylist()
        for i, data in zip(wanted, taken, strict=True):
            out[i] = json.dumps(
                {k: _jsonable(v) for k, v in data.items()}, ensure_ascii=False, sort_keys=True
            )
    return out


def run_store(
    uow: UnitOfWork,
    sources: dict[str, Path],
    *,
    area: str,
    by: str,
    on: dt.date,
    linker: Linker | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Compare against the store's registry and store the run (once per inputs). With
    ``linker``, the records no ID matched are linked and its pairs taken as matches."""
    check_area(area, "area")
    if not by.strip():
        raise InvalidField("by", "missing")
    digest = run_digest(area, on, sources, linked=linker is not None)
    with uow:
        existing = CompareRepository(uow.session).run_by_digest(digest)
        if existing is not None:
            return RunReport(area, on, digest, None, existing.id, new=False)
    registry = from_store(uow, on)
    comparison, files = compare_files(
        sources, registry, area=area, on=on, linker=linker, progress=progress
    )
    goal = targets(area, on)
    report = RunReport(area, on, digest, comparison, targets=goal)
    if progress is not None:
        progress("storing")
    sources_json = {
        k: {
            "file": str(sources[k]),
            "rows": comparison.rows.get(k, 0),
            "matched": comparison.matched.get(k, 0),
            "errors": int(pc.sum(pc.equal(comparison.errors["source"], k)).as_py() or 0),
        }
        for k in sources
    }
    f = comparison.findings
    evidence = _evidence(f, files)
    with uow:
        repo = CompareRepository(uow.session)
        run = repo.add_run(
            CompareRunRow(
                digest=digest,
                area=area,
                on_date=on,
                sources=json.dumps(sources_json, ensure_ascii=False, sort_keys=True),
                coverage=json.dumps(report.coverage_rows(), ensure_ascii=False),
                created_by=by.strip()[:60],
            )
        )
        rows = f.to_pylist()
        repo.add_findings(
            [
                {
                    "run_id": run.id,
                    "kind": r["kind"],
                    "person_id": r["person"],
                    "id_no": r["id_no"],
                    "name": r["name"],
                    "source": r["source"],
                    "row_no": r["row_no"],
                    "on_date": r["on_date"],
                    "detail": r["detail"] or "",
                    "evidence": evidence[i],
                    "status": "open",
                }
                for i, r in enumerate(rows)
            ]
        )
        repo.add_unmatched([{"run_id": run.id, **r} for r in comparison.unmatched.to_pylist()])
        uow.commit()
        report.run_id = run.id
    return report
