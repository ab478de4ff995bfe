"""``yibao simulate REFORM.yaml... --area DIR``: an area's year of claims settled under the
baseline and each reform through the one kernel, compared (back-office.md §6,
docs/simulation.md). A bad reform or area is refused with one line and exit 2 before any work."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli.options import with_policy_dir

ReformsArg = Annotated[
    list[Path],
    typer.Argument(
        metavar="REFORM.yaml",
        help="reform files (YAML or JSON: name, policy)",
        show_default=False,
    ),
]
AreaOpt = Annotated[Path, typer.Option("--area", help="a generated (or exported) area's folder")]
YearOpt = Annotated[
    int | None, typer.Option("--year", help="the year of claims (default: the area's)")
]
RegionOpt = Annotated[
    str | None, typer.Option("--region", help="6-digit region code (default: the area's)")
]
EngineOpt = Annotated[str, typer.Option("--engine", help="local (in process) or spark")]
MasterOpt = Annotated[
    str | None, typer.Option("--master", help="Spark master URL (--engine spark; local[2] ...)")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="parts settled at once (local engine)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the report as JSON")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="folder for report.json and the charts (PNG)")
]

#: the rows of the text report: (TOTALS key, label)
ROWS = (
    ("contributions", "contributions"),
    ("person_contributions", "  paid by persons"),
    ("fiscal_subsidy", "  fiscal subsidy"),
    ("assistance_subsidy", "  assistance subsidy"),
    ("account_credits", "personal account credits"),
    ("hifp_pay", "basic pooling fund (hifp)"),
    ("hifmi_pay", "critical illness (hifmi)"),
    ("hifob_pay", "large-amount (hifob)"),
    ("maf_pay", "medical assistance (maf)"),
    ("fund_pay_sumamt", "funds in all"),
    ("acct_pay", "personal account"),
    ("acct_mulaid_pay", "family mutual aid"),
    ("psn_cash_pay", "cash paid by persons"),
    ("fund_balance", "fund result"),
    ("households_over_10pct", "households > 10% of income"),
    ("households_over_25pct", "households > 25% of income"),
)


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


@with_policy_dir
def simulate(
    reforms: ReformsArg,
    area: AreaOpt,
    year: YearOpt = None,
    region: RegionOpt = None,
    engine: EngineOpt = "local",
    master: MasterOpt = None,
    workers: WorkersOpt = None,
    as_json: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Settle the area's year of claims under the baseline and each reform (a named policy
    overlay) and report both and the difference: contributions and subsidies, each fund's
    payments, the funds' result, cash paid by persons, who is affected, and household burden
    by scheme and income quintile; charts with --out."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from yibao.batch.simulation.local import AreaError
    from yibao.batch.simulation.reform import ReformError
    from yibao.batch.simulation.run import check_engine, plan, report, settle

    if out is not None and out.exists() and not out.is_dir():
        raise _fail(f"--out: {out} is not a folder")
    if master is not None and engine != "spark":
        raise _fail("--master: only with --engine spark")
    try:
        check_engine(engine)
        p = plan(area, reforms, year, region)
    except (AreaError, ReformError) as exc:
        raise _fail(str(exc)) from exc
    err = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} claims"),
    )
    with Progress(
        *columns, TimeRemainingColumn(), console=err, disable=not err.is_terminal, transient=True
    ) as progress:
        task = progress.add_task(f"settling × {len(p.scenarios)} scenarios", total=p.claims)

        def on_part(claims: int, persons: int) -> None:
            progress.advance(task, claims)

        try:
            acc = settle(p, engine, master, workers, on_part)
        except (ValueError, OSError) as exc:  # a part's bad column or value (ColumnError), I/O
            raise _fail(f"--area: {exc}") from exc
    result = report(p, acc, engine)
    if out is not None:
        from yibao.batch.simulation.charts import draw

        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        result_files = [str(out / "report.json"), *map(str, draw(result, out))]
    else:
        result_files = []
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    _print(result, result_files)


def _print(result: dict[str, Any], files: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout)
    console.print(
        f"area {result['area']} (region {result['region']}, {result['year']}): "
        f"{result['persons']:,} persons, {result['households']:,} households, "
        f"{result['claims']:,} claims, {result['total']} yuan billed; engine {result['engine']}"
    )
    for r in result["reforms"]:
        table = Table(title=f"{r['name']} ({r['source']}): yuan, households counted")
        table.add_column("")
        table.add_column("baseline", justify="right")
        table.add_column("reform", justify="right")
        table.add_column("difference", justify="right")
        for key, label in ROWS:
            table.add_row(
                label,
                _cell(result["baseline"][key]),
                _cell(r["totals"][key]),
                _cell(r["delta"][key], signed=True),
            )
        console.print(table)
        a = r["affected"]
        console.print(
            f"{a['persons']:,} persons and {a['households']:,} households affected; "
            f"{a['households_better_off']:,} households better off, "
            f"{a['households_worse_off']:,} worse off (out-of-pocket + own contributions)"
        )
    if not result["burden_measured"]:
        console.print("household burden not measured: the area's persons have no household_income")
    else:
        _burden(console, result)
    if result.get("calibration"):
        if result.get("benefits"):
            console.print(f"benefits: {result['benefits']} (yibao synth --benefits)")
        print_calibration(console, result["calibration"])
    for f in files:
        console.print(f"wrote {f}")


def _burden(console: Any, result: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="households over 10% / 25% of income, by income quintile")
    table.add_column("quintile")
    table.add_column("households", justify="right")
    table.add_column("income per member (yuan)", justify="right")
    scenarios = [("baseline", result["baseline"])] + [
        (r["name"], r["totals"]) for r in result["reforms"]
    ]
    for name, _ in scenarios:
        table.add_column(name, justify="right")
    for q, bounds in enumerate(result["quintiles"]):
        row = [
            str(bounds["quintile"]),
            f"{bounds['households']:,}",
            f"{bounds['income_per_member_from']} – {bounds['income_per_member_to']}",
        ]
        for _, totals in scenarios:
            b = totals["burden_by_quintile"][q]
            row.append(f"{b['households_over_10pct']:,} / {b['households_over_25pct']:,}")
        table.add_row(*row)
    console.print(table)


def print_calibration(console: Any, rows: list[dict[str, Any]]) -> None:
    """The area's calibration table: each measure generated against its published figure."""
    from rich.table import Table

    table = Table(title="calibration of the area against published figures")
    keys = list(rows[0])
    for key in keys:
        table.add_column(key.replace("_", " "))
    for row in rows:
        table.add_row(*("–" if row.get(k) is None else str(row.get(k)) for k in keys))
    console.print(table)


def _cell(value: Any, signed: bool = False) -> str:
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:+,}" if signed else f"{value:,}"
    text = str(value)
    if signed and not text.startswith("-"):
        text = "+" + text
    return text
