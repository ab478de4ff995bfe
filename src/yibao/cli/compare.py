"""``yibao compare``: data comparison with other departments (docs/compare.md).

yibao compare run --source household=hh.csv --source death=death.parquet [--db URL] [--json]
yibao compare run --source ... --area-dir out/            (a generated area, no database)
yibao compare coverage [--run ID] [--chart coverage.png] [--json]
yibao compare findings [--run ID] [--kind uninsured] [--status open] [--json]
yibao compare show FINDING
yibao compare act FINDING... [--on DATE] [--note TEXT]
yibao compare unmatched [--run ID] --out unmatched.parquet
"""

from __future__ import annotations

import getpass
import json
import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.table import Table

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    database,
    emit,
    fail,
    out,
    parse_date,
)
from yibao.domain.errors import RecordError
from yibao.policy import ParameterError
from yibao.services.compare import actions
from yibao.services.compare.chart import write_chart
from yibao.services.compare.files import LayoutError
from yibao.services.compare.registry import Registry
from yibao.services.compare.run import (
    Linker,
    RunReport,
    parse_sources,
    run_area,
    run_store,
)
from yibao.store.repositories.compare import CompareRepository
from yibao.store.uow import UnitOfWork

app = typer.Typer(
    no_args_is_help=True,
    help="Data comparison with other departments: uninsured, duplicates, deaths, subsidies",
)

SourceOpt = Annotated[
    list[str],
    typer.Option(
        "--source",
        help="KIND=FILE (CSV or Parquet); KIND: household, aid, death, employment, education",
    ),
]
AreaDirOpt = Annotated[
    Path | None,
    typer.Option("--area-dir", help="compare against a generated area's persons (no database)"),
]
AreaOpt = Annotated[str, typer.Option("--area", help="the pooling area (6-digit code)")]
OnOpt = Annotated[
    str | None, typer.Option("--on", help="the day compared (YYYY-MM-DD; default today)")
]
RunOpt = Annotated[int | None, typer.Option("--run", help="a run's id (default: the latest)")]
ChartOpt = Annotated[Path | None, typer.Option("--chart", help="write the coverage PNG here")]
LinkOpt = Annotated[
    bool, typer.Option("--link", help="link the unmatched records (record linkage) first")
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="write the findings and unmatched records as Parquet here"),
]


def _by(operator: str | None) -> str:
    return operator or getpass.getuser()


def _linker(area: str) -> Linker:
    """Record linkage (``services.compare.linkage``) as the run's seam: its ``auto`` pairs."""
    try:
        linkage: Any = import_module("yibao.services.compare.linkage")
    except ImportError as exc:
        raise typer.BadParameter("record linkage is not installed", param_hint="--link") from exc

    def link(records: pa.Table, registry: Registry) -> pa.Table:
        from yibao.services.clock import today

        people = registry.persons
        side = pa.table(
            {
                "psn_no": people["person"].cast(pa.string()),
                "name": people["name"],
                "sex": people["sex"],
                "birth_date": people["birth_date"],
                "address": people["address"],
                "id_no": people["id_no"],
            }
        )
        found = linkage.link(records, side, linkage.thresholds(area, today()))
        auto = found.auto()
        return pa.table(
            {
                "source": auto["source"],
                "row_no": auto["row_no"],
                "person": auto["psn_no"].cast(pa.int64()),
            }
        )

    return link


def _report(report: RunReport, as_json: bool, show: bool) -> None:
    data = report.as_dict()
    if as_json:
        emit(data, True, "", show=show)
        return
    if report.comparison is None:
        out.print(
            f"run {report.run_id}: these files were already compared on {report.on} "
            f"(area {report.area}); nothing stored again"
        )
        return
    c = report.comparison
    stored = f"run {report.run_id}" if report.run_id is not None else "not stored"
    out.print(f"compared on {report.on}, area {report.area} ({stored})")
    for kind, n in c.rows.items():
        out.print(f"  {kind}: {n:,} rows, {c.matched.get(kind, 0):,} matched by ID")
    out.print(f"  unmatched records (linkage input): {c.unmatched.num_rows:,}")
    if c.errors.num_rows:
        out.print(f"  [red]{c.errors.num_rows:,} row errors[/red], first:")
        for e in c.errors.slice(0, 10).to_pylist():
            kept = "kept for linkage" if e["kept"] else "dropped"
            out.print(f"    {e['source']} row {e['row_no']} {e['field']}: {e['reason']} ({kept})")
    counts = c.counts()
    out.print("findings: " + (", ".join(f"{k} {v:,}" for k, v in counts.items()) or "none"))
    Console(highlight=False).print(coverage_table(report.coverage_rows()))


def coverage_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Coverage against the targets")
    for column in ("dimension", "value", "population", "insured", "rate", "target", "meets"):
        table.add_column(column, justify="left" if column in ("dimension", "value") else "right")
    for r in rows:
        table.add_row(
            r["dimension"],
            str(r["value"]),
            f"{r['population']:,}",
            f"{r['insured']:,}",
            "" if r["rate"] is None else f"{100 * r['rate']:.2f}%",
            "" if r["target"] is None else f"{100 * r['target']:.0f}%",
            "" if r["meets"] is None else ("yes" if r["meets"] else "[red]no[/red]"),
        )
    return table


def _write_out(report: RunReport, folder: Path) -> None:
    assert report.comparison is not None
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(report.comparison.findings, folder / "findings.parquet")
    pq.write_table(report.comparison.unmatched, folder / "unmatched.parquet")
    pq.write_table(report.comparison.errors, folder / "errors.parquet")


@app.command()
def run(
    source: SourceOpt,
    area: AreaOpt = "360100",
    on: OnOpt = None,
    area_dir: AreaDirOpt = None,
    link: LinkOpt = False,
    chart: ChartOpt = None,
    out_dir: OutOpt = None,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    show: ShowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Read the department files, match them by ID against the registry (the store, or a
    generated area with --area-dir), and store the findings and coverage (once per inputs)."""
    quiet = as_json
    console = Console(stderr=True)

    def progress(message: str) -> None:
        if not quiet:
            console.print(f"[dim]{message}[/dim]")

    try:
        sources = parse_sources(source)
        day = parse_date(on, "--on", as_json) if on else None
        if area_dir is not None:
            report = run_area(
                sources,
                area_dir,
                on=day,
                linker=_linker(area) if link else None,
                progress=progress,
            )
        else:
            with database(db, as_json, show) as engine:
                report = run_store(
                    UnitOfWork.for_engine(engine),
                    sources,
                    area=area,
                    by=_by(operator),
                    on=day or parse_date(None, "--on", as_json),
                    linker=_linker(area) if link else None,
                    progress=progress,
                )
    except LayoutError as exc:
        fail(str(exc), as_json)
    except (RecordError, ParameterError) as exc:
        fail(exc.public() if isinstance(exc, ParameterError) else str(exc), as_json)
    if out_dir is not None and report.comparison is not None:
        _write_out(report, out_dir)
    if chart is not None and report.comparison is not None:
        write_chart(report.coverage_rows(), chart, f"Coverage, area {report.area}, {report.on}")
    _report(report, as_json, show)


@app.command()
def coverage(
    run_id: RunOpt = None,
    chart: ChartOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Coverage rates of a stored run by area, age band, sex and group against the targets."""
    with database(db, as_json) as engine:
        summary = actions.run_summary(UnitOfWork.for_engine(engine), run_id)
    rows = summary["coverage"]
    if chart is not None:
        write_chart(rows, chart, f"Coverage, area {summary['area']}, {summary['on']}")
    if as_json:
        json.dump(
            {"run_id": summary["run_id"], "on": summary["on"], "coverage": rows},
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        sys.stdout.write("\n")
        return
    Console(highlight=False).print(coverage_table(rows))
    if chart is not None:
        out.print(f"chart: {chart}")


def _line(f: actions.FindingView) -> str:
    where = f"{f.source} row {f.row_no}" if f.row_no is not None else f.source
    who = f"person {f.person}" if f.person is not None else (f.id_no or "-")
    return f"{f.id:>7} {f.status:<7} {f.kind:<19} {who:<24} {where:<22} {f.detail}"


@app.command()
def findings(
    run_id: RunOpt = None,
    kind: Annotated[str | None, typer.Option("--kind", help="a finding kind")] = None,
    status: Annotated[str | None, typer.Option("--status", help="open, acted, closed")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100_000)] = 100,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    db: DbOpt = None,
    show: ShowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A worklist: the findings of a run (filtered by kind and status)."""
    with database(db, as_json, show) as engine:
        run_id, found = actions.findings(
            UnitOfWork.for_engine(engine),
            run_id,
            kind=kind,
            status=status,
            limit=limit,
            offset=offset,
        )
    data = {"run_id": run_id, "findings": [f.as_dict() for f in found]}
    emit(data, as_json, "\n".join(_line(f) for f in found) or "no findings", show=show)


@app.command()
def show(
    finding: Annotated[int, typer.Argument(help="the finding's id")],
    db: DbOpt = None,
    show_identity: ShowOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """A finding with its evidence row and its actions."""
    with database(db, as_json, show_identity) as engine:
        f = actions.finding(UnitOfWork.for_engine(engine), finding)
    data = f.as_dict()
    text = _line(f) + "\n  evidence: " + json.dumps(f.evidence, ensure_ascii=False)
    for h in f.history:
        text += f"\n  {h['at']} {h['by']}: {h['action']} ({h['detail']})"
    emit(data, as_json, text, show=show_identity)


@app.command()
def act(
    finding: Annotated[list[int], typer.Argument(help="the findings' ids")],
    on: OnOpt = None,
    note: Annotated[
        str | None, typer.Option("--note", help="why (closing a finding without an action)")
    ] = None,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Act on findings through the services (enrol; end an enrolment on the date of death;
    correct the aid class; close with a note), all or nothing, audited."""
    with database(db, as_json) as engine:
        day = parse_date(on, "--on", as_json) if on else None
        done = actions.act(UnitOfWork.for_engine(engine), finding, _by(operator), on=day, note=note)
    data = [a.__dict__ for a in done]
    emit(data, as_json, "\n".join(f"{a.finding}: {a.action}: {a.detail}" for a in done))


@app.command()
def unmatched(
    out_file: Annotated[Path, typer.Option("--out", help="Parquet file to write")],
    run_id: RunOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The records of a run no ID matched (record linkage's input) as Parquet."""
    from yibao.services.compare.match import UNMATCHED

    with database(db, as_json) as engine:
        uow = UnitOfWork.for_engine(engine)
        with uow:
            repo = CompareRepository(uow.session)
            the_run = repo.run(run_id)
            rows = [{c: getattr(r, c) for c in UNMATCHED.names} for r in repo.unmatched(the_run.id)]
    table = pa.Table.from_pylist(rows, schema=UNMATCHED)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, out_file)
    emit(
        {"run_id": the_run.id, "rows": table.num_rows, "file": str(out_file)},
        as_json,
        f"{table.num_rows:,} unmatched records of run {the_run.id} → {out_file}",
    )
