"""``yibao ledger`` and ``yibao year-end``: reconcile the double-entry fund ledger, close a
year. (``yibao funds`` is in ``cli/funds.py``.)"""

from __future__ import annotations

from typing import Annotated

import typer

from yibao.cli.common import DbOpt, JsonOpt, emit, out, unit_of_work
from yibao.cli.options import with_policy_dir
from yibao.policy import fen_to_yuan
from yibao.services import ledger, yearend

ledger_app = typer.Typer(no_args_is_help=True, help="The double-entry fund ledger")


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
