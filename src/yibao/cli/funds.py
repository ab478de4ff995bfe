"""``yibao funds``: fund management (基金运行). One self-contained block per command: balances
(``report``), the medical assistance allocation (``allocate``), the provincial adjustment
(``adjust``), the monthly settlement with institutions (``clearing``, in ``cli/clearing.py``)
and between areas (``cross-region``, there too)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from yibao.cli import funds_ops
from yibao.cli.clearing import clearing, cross_region
from yibao.cli.common import DbOpt, JsonOpt, emit, fail, out, parse_date, unit_of_work
from yibao.cli.options import with_policy_dir
from yibao.domain.errors import InvalidField
from yibao.policy import fen_to_yuan
from yibao.services import adjustment, ledger

funds_app = typer.Typer(no_args_is_help=True, help="Fund management")
funds_app.command("clearing")(clearing)
funds_app.command("cross-region")(cross_region)


# report: fund balances


@funds_app.command("report")
def funds_report(
    area: Annotated[str | None, typer.Option(help="One pooling area")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Fund balances by pooling area; personal accounts summed."""
    with unit_of_work(db, as_json) as uow:
        report = ledger.funds_report(uow, area)

    def human() -> None:
        for line in report.lines:
            out.print(f"{line.code:<40} {fen_to_yuan(line.balance):>18}")
        out.print(
            f"{'personal accounts (' + str(report.personal_accounts) + ')':<40} "
            f"{fen_to_yuan(report.personal_total):>18}"
        )

    emit(report.as_dict(), as_json, human)


# allocate: the medical assistance fund's fiscal allocation


@funds_app.command("allocate")
def funds_allocate(
    area: Annotated[str, typer.Argument(help="The pooling area (6 digits)")],
    year: Annotated[int, typer.Argument(help="The year")],
    on: Annotated[str | None, typer.Option(help="Posting date (default 1 January)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post the year's fiscal allocation to the medical assistance fund (once per area, year)."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        a = ledger.allocate_assistance(uow, area, year, on=day)
    state = "posted" if a.posted else "already posted" if a.amount else "nothing to post"
    emit(
        a.as_dict(),
        as_json,
        f"{a.area} {a.year}: {fen_to_yuan(a.amount)} yuan for {a.recipients} aid recipients "
        f"({state})",
    )


# adjust: the provincial adjustment fund's draws and gap payments


def _read_gaps(path: Path | None, as_json: bool) -> adjustment.Gaps:
    if path is None:
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"gaps: cannot read {path}: {exc}", as_json)
    except yaml.YAMLError:
        fail(f"gaps: {path} is not YAML or JSON", as_json)
    try:
        return adjustment.parse_gaps(doc)
    except InvalidField as exc:
        fail(str(exc), as_json)


@funds_app.command("adjust")
@with_policy_dir
def funds_adjust(
    year: Annotated[int, typer.Option("--year", help="The year of the adjustment")],
    gaps: Annotated[
        Path | None,
        typer.Option(
            "--gaps", help="YAML {employee|resident: {area: yuan}}: this year's policy-caused gaps"
        ),
    ] = None,
    province: Annotated[str | None, typer.Option(help="One province (default: all)")] = None,
    on: Annotated[str | None, typer.Option(help="Posting date (default 31 December)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The year's provincial adjustment: draws from every city's pooling fund into the
    province's adjustment fund, and its share of the cities' policy-caused gaps, per scheme, from
    last year's figures on the ledger (posted once per province, scheme and year)."""
    day = parse_date(on, "on", as_json) if on is not None else None
    given = _read_gaps(gaps, as_json)
    with unit_of_work(db, as_json) as uow:
        done = adjustment.adjust(uow, year, gaps=given, province=province, on=day)

    def human() -> None:
        if not done:
            out.print(f"{year}: no pooling funds on the ledger")
        for a in done:
            state = (
                "posted"
                if a.posted
                else "nothing to post"
                if a.transaction is None
                else "already posted"
                if a.matches_ledger
                else "already posted, [red]differently[/red]: the ledger keeps what was posted"
            )
            r = a.result
            out.print(
                f"{a.province} {a.scheme.value} {a.year}: adjustment fund "
                f"{fen_to_yuan(a.adjustment_balance)} → {fen_to_yuan(r.adjustment_balance_after)}"
                f"{' (paused)' if r.paused else ''}, {state}"
            )
            for x in r.areas:
                months = "unbounded" if x.reserve_months.is_infinite() else x.reserve_months
                gap = (
                    f"; gap {fen_to_yuan(x.gap_from_adjustment)} from the fund, "
                    f"{fen_to_yuan(x.gap_from_balance)} from its balance"
                    if x.gap_from_adjustment or x.gap_from_balance
                    else ""
                )
                out.print(
                    f"  {x.code}: {months} months, {x.warning.value}; "
                    f"draw {fen_to_yuan(x.draw)}{gap}"
                )

    emit([a.as_dict() for a in done], as_json, human)


# analysis, warnings, budget: the fund manager's commands (``cli/funds_ops.py``)

funds_ops.attach(funds_app)
