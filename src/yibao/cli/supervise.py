"""``yibao supervise``: the year's supervision rules (智能监控) over a generated area's Parquet,
findings written as Parquet with their evidence and counted per rule (docs/supervision.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from yibao.cli.options import with_policy_dir

AreaDirOpt = Annotated[
    Path | None,
    typer.Option("--area-dir", help="a generated area (persons, claims, lines parts)"),
]
YearOpt = Annotated[int, typer.Option("--year", help="the year of visits")]
AreaOpt = Annotated[
    str | None, typer.Option("--area", help="6-digit region code (default: the area's)")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="findings Parquet (default AREA_DIR/findings.parquet)")
]
ThreadsOpt = Annotated[int, typer.Option("--threads", min=1, help="parts checked at once")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the counts as JSON")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="the store: without --area-dir its visits are checked; the findings are recorded "
        "there (idempotent)",
    ),
]


@with_policy_dir
def supervise(
    year: YearOpt,
    area_dir: AreaDirOpt = None,
    area: AreaOpt = None,
    out: OutOpt = None,
    threads: ThreadsOpt = 2,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every rule of the area's catalogue over a year of visits and lines: of a generated
    area (``--area-dir``: findings written as Parquet, with recall and false positives when it
    has planted irregularities) or of the store (``--area`` and ``--db``); ``--db`` records the
    findings (a rerun adds none)."""
    import pyarrow.parquet as pq

    if area_dir is None:
        _store(year, area, db, as_json)
        return

    from yibao.services.supervision.area import read_truth, score, supervise_area

    if not (area_dir / "claims").is_dir():
        typer.echo(f"error: --area-dir: {area_dir} is not a generated area (no claims/)", err=True)
        raise typer.Exit(2)
    meta = area_dir / "meta.json"
    region = area or (json.loads(meta.read_text())["region"] if meta.exists() else None)
    if region is None:
        typer.echo("error: --area: no region given and no meta.json in the area", err=True)
        raise typer.Exit(2)
    try:
        run = supervise_area(area_dir, region, year, threads)
    except (FileNotFoundError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    target = out or area_dir / "findings.parquet"
    pq.write_table(run.evidence, target)
    if db is not None:
        from yibao.cli.common import database
        from yibao.services.supervision import findings
        from yibao.store.uow import UnitOfWork

        with database(db, as_json) as engine:
            added = findings.record(UnitOfWork.for_engine(engine), run.evidence, region, year)
        result_db = {"recorded": added}
    else:
        result_db = {}
    result: dict[str, object] = {
        "lines": run.lines,
        "visits": run.visits,
        "findings": run.counts(),
        "out": str(target),
        **result_db,
    }
    if (area_dir / "truth").is_dir():
        result["planted"] = {
            s.rule: {
                "planted": s.planted,
                "found": s.found,
                "findings": s.findings,
                "false_positives": s.false_positives,
            }
            for s in score(run, read_truth(area_dir))
        }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"{run.visits} visits, {run.lines} lines → {target}")
    if result_db:
        typer.echo(f"  {result_db['recorded']} new findings recorded")
    planted = result.get("planted", {})
    assert isinstance(planted, dict)
    for rule, n in run.counts().items():
        extra = ""
        if rule in planted:
            p = planted[rule]
            extra = (
                f"  planted {p['planted']}, found {p['found']}, not planted {p['false_positives']}"
            )
        typer.echo(f"  {rule:<18} {n:>8}{extra}")


def _store(year: int, area: str | None, db: str | None, as_json: bool) -> None:
    """The store's visits of the year in ``area``, their findings recorded."""
    from yibao.cli.common import database
    from yibao.services.supervision import findings
    from yibao.services.supervision.store_run import supervise_store
    from yibao.store.uow import UnitOfWork

    if area is None or len(area) != 6 or not area.isdigit():
        typer.echo("error: --area: a 6-digit region code is needed without --area-dir", err=True)
        raise typer.Exit(2)
    with database(db, as_json) as engine:
        evidence, n_lines, n_visits = supervise_store(UnitOfWork.for_engine(engine), area, year)
        added = findings.record(UnitOfWork.for_engine(engine), evidence, area, year)
    result = {
        "lines": n_lines,
        "visits": n_visits,
        "evidence": evidence.num_rows,
        "recorded": added,
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(f"{n_visits} visits, {n_lines} lines: {added} new findings recorded")
