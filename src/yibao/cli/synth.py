"""``yibao synth``: generate a synthetic pooling area, and summarise one.

yibao synth generate --region 360100 --persons 1000000 --year 2025 --out out/ --seed 1
yibao synth --region 360100 --persons 1000000 --year 2025 --out out/ --seed 1   (the same)
yibao synth summary out/ [--chart out/summary.png] [--json]
yibao synth load out/ --db URL [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError

from yibao.cli.common import parse_years
from yibao.cli.options import with_policy_dir
from yibao.domain.errors import RecordError
from yibao.policy import ParameterError
from yibao.services.area_load import load_area
from yibao.synth.config import DEFAULT_CHUNK, SynthConfig
from yibao.synth.ids import check_region
from yibao.synth.summary import draw_chart, summarize
from yibao.synth.writer import generate as generate_area

app = typer.Typer(
    invoke_without_command=True,
    add_completion=False,
    help="Synthetic pooling area: persons and a year of claims as Parquet",
)

REGION = typer.Option("360100", "--region", help="6-digit division code of the pooling area")
PERSONS = typer.Option(100_000, "--persons", min=1, help="number of insured persons")
YEAR = typer.Option(2025, "--year", help="year of claims")
YEARS = typer.Option(
    None,
    "--years",
    help="a history, e.g. 2022-2024: one area per year in OUT/<year>/ (year k: seed + k)",
)
SEED = typer.Option(0, "--seed", min=0, help="random seed (same seed, same files)")
CHUNK = typer.Option(DEFAULT_CHUNK, "--chunk-size", min=1, help="persons per Parquet part")
QUIET = typer.Option(False, "--quiet", help="no progress bar")
IRREGULAR = typer.Option(
    0.0, "--irregular", min=0.0, max=0.5, help="share of claims planted irregular (truth/)"
)
BENEFITS = typer.Option(
    "calibrated",
    "--benefits",
    help="calibrated (the region's parameters with the calibrated inpatient ratios of "
    "synth/calibrated.yaml on top) or region (the region's parameters alone)",
)
OUT_OPTIONAL = typer.Option(None, "--out", help="output folder (generates when given)")
OUT = typer.Option(..., "--out", help="output folder")
FOLDER = typer.Argument(..., help="a generated folder")
CHART = typer.Option(None, "--chart", help="write a PNG chart here")
AS_JSON = typer.Option(False, "--json", help="print the figures as JSON")
REPORT_JSON = typer.Option(False, "--json", help="print the load report as JSON")
DEPT_OUT = typer.Option(None, "--out", help="output folder (default: FOLDER/departments)")
NOISE = typer.Option(
    1.0, "--noise", min=0.0, max=5.0, help="scale of every noise and planted share"
)
FORMAT = typer.Option("parquet", "--format", help="parquet or csv")
DB = typer.Option(
    None, "--db", help="database URL (default: $YIBAO_DATABASE_URL or ./yibao.sqlite)"
)


def _generate(
    out: Path,
    region: str,
    persons: int,
    year: int,
    seed: int,
    chunk_size: int,
    quiet: bool,
    irregular: float = 0.0,
    benefits: str = "calibrated",
) -> None:
    try:
        config = SynthConfig(region, persons, year, seed, chunk_size, irregular, benefits)
        check_region(region, year)
    except ValueError as exc:
        typer.echo(f"error: {exc.public() if isinstance(exc, ParameterError) else exc}", err=True)
        raise typer.Exit(2) from exc
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]chunks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[persons]:,} persons, {task.fields[claims]:,} claims"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, disable=quiet, transient=False) as bar:
        task = bar.add_task("generate", total=config.chunks, persons=0, claims=0)

        def progress(done: int, chunks: int, persons_done: int, claims_done: int) -> None:
            bar.update(task, completed=done, persons=persons_done, claims=claims_done)

        manifest = generate_area(out, config, progress)
    planted = f", {manifest.planted} planted irregular" if manifest.planted else ""
    typer.echo(f"{manifest.persons} persons, {manifest.claims} claims{planted} → {out}")


def _generate_years(
    out: Path,
    region: str,
    persons: int,
    years: str | None,
    year: int,
    seed: int,
    chunk_size: int,
    quiet: bool,
    irregular: float = 0.0,
    benefits: str = "calibrated",
) -> None:
    """One year into OUT, or with ``years`` each year of the history into OUT/<year>/."""
    if years is None:
        _generate(out, region, persons, year, seed, chunk_size, quiet, irregular, benefits)
        return
    for k, y in enumerate(parse_years(years, False, most=10)):
        _generate(
            out / str(y), region, persons, y, seed + k, chunk_size, quiet, irregular, benefits
        )


@app.callback()
@with_policy_dir
def main(
    ctx: typer.Context,
    out: Path | None = OUT_OPTIONAL,
    region: str = REGION,
    persons: int = PERSONS,
    year: int = YEAR,
    years: str | None = YEARS,
    seed: int = SEED,
    chunk_size: int = CHUNK,
    quiet: bool = QUIET,
    irregular: float = IRREGULAR,
    benefits: str = BENEFITS,
) -> None:
    """Generate a pooling area (options here or after ``generate``), or summarise one."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)
    _generate_years(out, region, persons, years, year, seed, chunk_size, quiet, irregular, benefits)


@app.command()
@with_policy_dir
def generate(
    out: Path = OUT,
    region: str = REGION,
    persons: int = PERSONS,
    year: int = YEAR,
    years: str | None = YEARS,
    seed: int = SEED,
    chunk_size: int = CHUNK,
    quiet: bool = QUIET,
    irregular: float = IRREGULAR,
    benefits: str = BENEFITS,
) -> None:
    """Generate persons and their claims for a year into OUT (Parquet parts + meta.json), or
    with ``--years FIRST-LAST`` a history, one year per folder OUT/<year>/."""
    _generate_years(out, region, persons, years, year, seed, chunk_size, quiet, irregular, benefits)


@app.command()
@with_policy_dir
def summary(
    folder: Path = FOLDER,
    chart: Path | None = CHART,
    as_json: bool = AS_JSON,
) -> None:
    """Key figures of a generated area beside the published national ones."""
    if not (folder / "meta.json").exists():
        typer.echo(f"error: {folder} has no meta.json (not a generated folder)", err=True)
        raise typer.Exit(2)
    result = summarize(folder)
    if chart is not None:
        draw_chart(result, chart)
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    Console().print(summary_table(result))
    for ranking in result.get("rankings", {}).values():
        generated = ", ".join(f"{name} {share}%" for name, share in ranking["generated"])
        typer.echo(f"{ranking['label']}: {generated}")
        if ranking["published"]:
            published = ", ".join(ranking["published"])
            typer.echo(f"  published ({ranking['source']}): {published}")
    for key, text in result["sources"].items():
        typer.echo(f"{key}: {text}")
    if chart is not None:
        typer.echo(f"chart: {chart}")


def summary_table(result: dict[str, Any]) -> Table:
    """The figures of ``summarize`` beside the published ones, as a Rich table."""
    table = Table(title=f"Synthetic area {result['meta']['region']}, {result['meta']['year']}")
    for column in ("figure", "unit", "generated", "published", "source"):
        table.add_column(column, justify="left" if column in ("figure", "source") else "right")
    for fig in result["figures"].values():
        value, published = fig["value"], fig["published"]
        table.add_row(
            fig["label"],
            fig["unit"],
            "—" if value is None else f"{value:,}",
            "" if published is None else f"{published:,}",
            fig["source"] or "",
        )
    return table


@app.command()
@with_policy_dir
def load(
    folder: Path = FOLDER,
    db: str | None = DB,
    as_json: bool = REPORT_JSON,
    quiet: bool = QUIET,
    no_lines: bool = typer.Option(
        False, "--no-lines", help="Load the visits without their fee detail lines (faster)."
    ),
    no_settlements: bool = typer.Option(
        False, "--no-settlements", help="Load the visits without settling them (faster)."
    ),
) -> None:
    """Load a generated area into the registry database: persons, households, relations,
    special groups, enrolments, the year's contributions on the ledger, and the claims as
    visits with their diagnoses, procedures and classified fee lines, settled through the
    kernel with their ledger transactions (idempotent)."""
    console = Console(stderr=True)
    columns = (
        TextColumn("[bold]persons"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=quiet or as_json) as bar:
            task = bar.add_task("load", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            report = load_area(
                folder,
                db,
                progress=progress,
                lines=not no_lines,
                settlements=not no_settlements,
            )
    except (RecordError, ParameterError) as exc:
        message = exc.public() if isinstance(exc, ParameterError) else str(exc)
        if as_json:
            print(json.dumps({"error": message}, ensure_ascii=False), file=sys.stderr)
        else:
            typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from exc
    except OperationalError as exc:
        typer.echo(f"error: database: {exc.orig}", err=True)
        raise typer.Exit(3) from exc
    if as_json:
        json.dump(report.as_dict(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return
    out = Console(highlight=False)
    if not report.parts_loaded:
        out.print(f"{folder} is already loaded in {report.database} ({report.parts} parts)")
        return
    out.print(
        f"{report.persons_inserted:,} persons loaded into {report.database} "
        f"({report.parts_loaded} parts loaded, {report.parts_skipped} already there) in "
        f"{report.seconds:.1f} s, {report.persons_per_minute:,.0f} persons/min"
    )
    enrolments = ", ".join(f"{k} {v:,}" for k, v in sorted(report.enrolments.items()))
    contributions = ", ".join(f"{k} {v:,}" for k, v in sorted(report.contributions.items()))
    out.print(
        f"households {report.households:,}, relations {report.relations:,}, "
        f"special groups {report.groups:,}"
    )
    out.print(f"enrolments: {enrolments}")
    out.print(f"contributions: {contributions}")
    out.print(f"ledger: {report.transactions:,} transactions, {report.postings:,} postings")
    visits = ", ".join(f"{k} {v:,}" for k, v in sorted(report.visits.items()))
    out.print(
        f"visits: {visits}; diagnoses {report.diagnoses:,}, procedures {report.procedures:,}, "
        f"fee lines {report.lines:,}"
    )
    if report.settlements:
        settled = report.as_dict()["settlements"]
        out.print(
            f"settlements: {report.settlements:,}, medical fees {settled['medfee_sumamt']}, "
            f"funds {settled['fund_pay_sumamt']}, personal accounts {settled['acct_pay']}, "
            f"cash {settled['psn_cash_pay']} yuan"
        )
    if report.invalid:
        out.print(f"[red]{report.invalid} invalid persons[/red] (first: {report.errors[:3]})")


@app.command()
def departments(
    folder: Path = FOLDER,
    out: Path | None = DEPT_OUT,
    seed: int = SEED,
    noise: float = NOISE,
    fmt: str = FORMAT,
    quiet: bool = QUIET,
) -> None:
    """Other departments' files for a generated area (household registry, aid recipients,
    deaths, employment, education) with realistic noise, and their truth.parquet."""
    from yibao.synth.departments import write_departments

    if not (folder / "meta.json").exists():
        typer.echo(f"error: {folder} has no meta.json (not a generated folder)", err=True)
        raise typer.Exit(2)
    if fmt not in ("parquet", "csv"):
        typer.echo(f"error: --format must be parquet or csv, got {fmt!r}", err=True)
        raise typer.Exit(2)
    console = Console(stderr=True)
    columns = (TextColumn("[bold]parts"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task("departments", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        manifest = write_departments(
            folder, out, seed=seed, noise=noise, fmt=fmt, progress=progress
        )
    rows = ", ".join(f"{k} {v:,}" for k, v in manifest.rows.items())
    planted = ", ".join(f"{k} {v:,}" for k, v in manifest.planted.items())
    typer.echo(f"{rows} → {out or folder / 'departments'}")
    typer.echo(f"planted: {planted}")
