"""``yibao funds analysis``, ``yibao funds warnings`` and ``yibao funds budget``: the fund
manager's operation analysis, risk warnings and budgets (``attach`` puts them on ``funds``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from yibao.cli.common import DbOpt, JsonOpt, emit, fail, out, unit_of_work
from yibao.cli.options import with_policy_dir
from yibao.policy import fen_to_yuan
from yibao.services import fund_analysis, fund_budgets, fund_warnings

YearOpt = Annotated[int, typer.Option("--year", help="The year (e.g. 2025)")]
AreaOpt = Annotated[
    str | None, typer.Option("--area", help="One pooling area (6 digits; default: every area)")
]

budget_app = typer.Typer(no_args_is_help=True, help="Fund budgets: enter, import, compare")


def analysis(
    year: YearOpt,
    area: AreaOpt = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the balances and reserve months")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Each fund's monthly income, expenditure, balance and reserve months, growth against last
    year and the projected year-end balance, from the ledger."""
    if chart is not None and chart.suffix.lower() != ".png":
        fail(f"chart: {chart.name!r} is not a .png file", as_json)
    with unit_of_work(db, as_json) as uow:
        result = fund_analysis.analyse(uow, year, area)
    if chart is not None:
        from yibao.cli.funds_chart import render

        try:
            render(result, chart)
        except OSError as exc:
            fail(f"chart: cannot write {chart}: {exc.strerror}", as_json)

    def human() -> None:
        where = f" of {area}" if area else ""
        out.print(f"Funds{where} {year}, months 1–{result.through}")
        for line in result.lines:
            out.print(f"\n[bold]{line.fund.value}[/bold] {line.area or '(no enrolment)'}")
            out.print(
                f"{'month':>5} {'income':>16} {'expenditure':>16} {'balance':>18} {'reserve':>8}"
            )
            for m in line.months:
                reserve = "—" if m.reserve_months is None else str(m.reserve_months)
                out.print(
                    f"{m.month:>5} {fen_to_yuan(m.income):>16} {fen_to_yuan(m.expenditure):>16} "
                    f"{fen_to_yuan(m.balance):>18} {reserve:>8}"
                )
            growth = (
                f"income {line.income_growth or '—'}%, expenditure "
                f"{line.expenditure_growth or '—'}% on last year's same months"
            )
            out.print(f"growth: {growth}")
            if line.projection is not None:
                out.print(
                    f"year-end balance ({line.projection.method}): "
                    f"{fen_to_yuan(line.projection.balance)}"
                )
        if chart is not None:
            out.print(f"\nchart: {chart}")

    emit(result.as_dict(), as_json, human)


@with_policy_dir
def warnings(
    year: YearOpt,
    area: AreaOpt = None,
    stored: Annotated[
        bool, typer.Option("--stored", help="List the stored warnings without evaluating")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the risk warnings of every month of the year so far, store them (replacing the
    year's earlier ones) and list them; with --stored, list only."""
    with unit_of_work(db, as_json) as uow:
        if stored:
            found = fund_warnings.stored(uow, year, area)
        else:
            found = fund_warnings.evaluate(uow, year, area).warnings
    data = {"year": year, "area": area, "warnings": [fund_warnings.warning_dict(w) for w in found]}

    def human() -> None:
        if not found:
            out.print(f"{year}: no warnings")
        for w in found:
            facts = ", ".join(
                f"{k} {'/'.join(map(str, v.values())) if isinstance(v, dict) else v}"
                for k, v in w.evidence.items()
            )
            out.print(f"{w.year}-{w.month:02d} {w.area} {w.fund.value}: {w.risk} ({facts})")

    emit(data, as_json, human)


@budget_app.command("set")
def budget_set(
    year: YearOpt,
    area: Annotated[str, typer.Option("--area", help="The pooling area (6 digits)")],
    fund: Annotated[str, typer.Option("--fund", help="The fund (e.g. resident_pooling)")],
    income: Annotated[str, typer.Option("--income", help="The year's income, yuan")],
    expenditure: Annotated[str, typer.Option("--expenditure", help="The year's expenditure")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Enter (or replace) a fund's budget for a year in an area."""
    with unit_of_work(db, as_json) as uow:
        b = fund_budgets.set_budget(uow, fund_budgets.budget(year, area, fund, income, expenditure))
    data = {
        "year": b.year,
        "area": b.area,
        "fund": b.fund.value,
        "income": fen_to_yuan(b.income),
        "expenditure": fen_to_yuan(b.expenditure),
    }
    emit(
        data,
        as_json,
        f"budget {b.year} {b.area} {b.fund.value}: income {data['income']}, "
        f"expenditure {data['expenditure']}",
    )


@budget_app.command("import")
def budget_import(
    file: Annotated[str, typer.Argument(help="CSV: year,area,fund,income,expenditure (- stdin)")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Import budgets from a CSV file (all or nothing; a bad line is named with its field)."""
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        text = raw.decode("utf-8-sig")
    except OSError as exc:
        fail(f"file: cannot read {file}: {exc.strerror}", as_json)
    except UnicodeDecodeError as exc:
        fail(f"file: not UTF-8 (byte {exc.start})", as_json)
    with unit_of_work(db, as_json) as uow:
        budgets = fund_budgets.import_budgets(uow, text)
    emit({"imported": len(budgets)}, as_json, f"{len(budgets)} budgets imported")


@budget_app.command("show")
def budget_show(
    year: YearOpt,
    area: AreaOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The year's budgets against the ledger's actuals, month by month (budget to date: the
    year's line spread evenly)."""
    with unit_of_work(db, as_json) as uow:
        found = fund_budgets.compare(uow, year, area)
    data = {"year": year, "area": area, "budgets": [c.as_dict() for c in found]}

    def human() -> None:
        if not found:
            out.print(f"{year}: no budgets")
        for c in found:
            d = c.as_dict()
            out.print(
                f"\n[bold]{d['fund']}[/bold] {d['area']} {year}: income {d['income']} "
                f"({d['income_execution_pct'] or '—'}% so far), expenditure {d['expenditure']} "
                f"({d['expenditure_execution_pct'] or '—'}% so far)"
            )
            for m in d["months"]:
                out.print(
                    f"{m['month']:>5} income {m['income_actual_to_date']:>16} / "
                    f"{m['income_budget_to_date']:>16}  expenditure "
                    f"{m['expenditure_actual_to_date']:>16} / {m['expenditure_budget_to_date']:>16}"
                )

    emit(data, as_json, human)


def attach(funds_app: typer.Typer) -> None:
    """Put ``analysis``, ``warnings`` and ``budget`` on the ``funds`` command group."""
    funds_app.command("analysis")(analysis)
    funds_app.command("warnings")(warnings)
    funds_app.add_typer(budget_app, name="budget")
