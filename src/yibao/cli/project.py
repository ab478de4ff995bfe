"""``yibao project --area DIR --years N [--reform R.yaml]...``: the insurance funds' income,
expenditure, balance and reserve months year by year from the area's settled year, under the
baseline and each reform (docs/simulation.md, Projection). Bad input is refused with one line
and exit 2 before any work."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli.options import with_policy_dir

AreaOpt = Annotated[Path, typer.Option("--area", help="a generated (or exported) area's folder")]
YearsOpt = Annotated[int, typer.Option("--years", help="years to project, the settled one first")]
ReformOpt = Annotated[
    list[Path] | None,
    typer.Option("--reform", help="a reform file (YAML or JSON: name, policy); repeatable"),
]
EffectiveOpt = Annotated[
    int | None,
    typer.Option("--effective", help="the reforms' year of effect (default: the year after)"),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="NAME=VALUE for a projection.* parameter (growth.cost_factor=1.08)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the projection as JSON")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="folder for projection.json and projection.png")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _overrides(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip().removeprefix("projection.")
        if not sep or not name:
            raise _fail(f"--set: expected NAME=VALUE, got {item!r}")
        out[name] = value
    return out


@with_policy_dir
def project(
    area: AreaOpt,
    years: YearsOpt,
    reform: ReformOpt = None,
    effective: EffectiveOpt = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
    out: OutOpt = None,
) -> None:
    """Project the funds' income, expenditure, balance and reserve months year by year from
    the area's settled year (population ageing, cost, wage and income growth and enrolment
    drift as the projection.* parameters), under the baseline and each reform from its year of
    effect; a chart with --out."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from yibao.batch.projection import ProjectionError, draw_chart
    from yibao.batch.projection import project as run
    from yibao.batch.simulation.local import AreaError
    from yibao.batch.simulation.reform import ReformError

    overrides = _overrides(set_ or [])
    err = Console(stderr=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} claims"),
    )
    with Progress(
        *columns, TimeRemainingColumn(), console=err, disable=not err.is_terminal, transient=True
    ) as progress:
        task = progress.add_task("settling the area's year", total=None)
        try:
            result = run(
                area,
                years,
                list(reform or []),
                effective,
                overrides,
                on_part=lambda claims: progress.advance(task, claims),
                on_start=lambda claims: progress.update(task, total=claims),
            )
        except (AreaError, ReformError, ProjectionError) as exc:
            raise _fail(str(exc)) from exc
    body = result.report()
    files: list[str] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "projection.json").write_text(
            json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        files = [str(out / "projection.json"), str(draw_chart(body, out / "projection.png"))]
    if as_json:
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
        return
    _print(body, files)


def _print(body: dict[str, Any], files: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=max(Console().width, 120))
    console.print(
        f"area {body['area']} (region {body['region']}): {body['persons']:,} persons, "
        f"{body['claims']:,} claims settled for {body['base_year']}; {body['years']} years"
    )
    for sc in body["scenarios"]:
        since = f", from {sc['effective']}" if sc["effective"] else ""
        for fund, rows in sc["funds"].items():
            table = Table(title=f"{sc['name']}{since}: {fund} fund (yuan)")
            for col in ("year", "persons", "income", "expenditure", "surplus", "balance"):
                table.add_column(col, justify="right")
            table.add_column("reserve months", justify="right")
            for r in rows:
                table.add_row(
                    str(r["year"]),
                    f"{r['persons']:,}",
                    r["income"],
                    r["expenditure"],
                    r["surplus"],
                    r["balance"],
                    r["reserve_months"] or "∞",
                )
            console.print(table)
    console.print("assumptions: " + ", ".join(f"{k}={v}" for k, v in body["assumptions"].items()))
    if body.get("calibration"):
        from yibao.cli.simulate import print_calibration

        if body.get("benefits"):
            console.print(f"benefits: {body['benefits']} (yibao synth --benefits)")
        print_calibration(console, body["calibration"])
    for f in files:
        console.print(f"wrote {f}")
