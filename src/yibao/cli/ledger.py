"""``yibao ledger``, ``yibao funds`` and ``yibao year-end``: reconcile the double-entry fund
ledger, report and allocate fund balances, close a year."""

from __future__ import annotations

from typing import Annotated

import typer

from yibao.cli import funds_ops
from yibao.cli.common import DbOpt, JsonOpt, emit, out, parse_date, unit_of_work
from yibao.cli.options import with_policy_dir
from yibao.policy import fen_to_yuan
from yibao.services import ledger, yearend

ledger_app = typer.Typer(no_args_is_help=True, help="The double-entry fund ledger")
funds_app = typer.Typer(no_args_is_help=True, help="Fund balances")


@ledger_app.command("check")
def ledger_check(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Reconcile: postings sum to zero per transaction; balances equal their postings."""
    with unit_of_work(db, as_json) as uow:
        report = ledger.reconcile(uow)

    def human() -> None:
        state = "[green]balanced[/green]" if report.ok else "[red]NOT balanced[/red]"
        out.print(f"{report.transactions} transactions, {report.postings} postings: {state}")
        for u in report.unbalanced:
            out.print(f"  transaction #{u.transaction_id}: sum {fen_to_yuan(u.total)}")
        for m in report.mismatches:
            out.print(
                f"  account {m.account}: stored {fen_to_yuan(m.stored)}, "
                f"postings {fen_to_yuan(m.postings)}"
            )

    emit(report.as_dict(), as_json, human)
    if not report.ok:
        raise typer.Exit(1)


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


@with_policy_dir
def year_end(
    year: Annotated[int, typer.Argument(help="The year to close")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Close a year: record lapses, continuous years and zero-claim years (idempotent)."""
    with unit_of_work(db, as_json) as uow:
        c = yearend.close_year(uow, year)
    data = {
        "year": c.year,
        "lapses_recorded": c.lapses_recorded,
        "retirees_added": c.retirees_added,
        "insured": c.insured,
        "lapsed": c.lapsed,
        "zero_claim": c.zero_claim,
        "next_year_rows": c.next_year_rows,
        "runs": c.runs,
    }
    emit(
        data,
        as_json,
        f"{c.year}: {c.insured} insured, {c.lapsed} lapsed ({c.lapses_recorded} new), "
        f"{c.zero_claim} zero-claim; run {c.runs}",
    )


funds_ops.attach(funds_app)
