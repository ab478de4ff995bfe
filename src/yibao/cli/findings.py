"""``yibao findings``: supervision findings worked to the end: list, show (with evidence and
audit trail), confirm with a recovery amount, dismiss with a reason, recover (posts to the
ledger), and institutions' credit scores (docs/supervision.md)."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from yibao.cli.common import DbOpt, JsonOpt, OperatorOpt, database, emit, fail, parse_date
from yibao.policy.money import AmountError, parse_yuan
from yibao.services.supervision import findings
from yibao.store.uow import UnitOfWork

app = typer.Typer(no_args_is_help=True, help="Supervision findings: list, confirm, recover")

IdArg = Annotated[int, typer.Argument(help="the finding's id")]
AreaOpt = Annotated[str | None, typer.Option("--area", help="6-digit region code")]
YearOpt = Annotated[int | None, typer.Option("--year", help="the year of visits")]


def _by(operator: str | None) -> str:
    return operator or getpass.getuser()


def _fen(yuan: str, as_json: bool) -> int:
    """Yuan as every amount is read (``policy.money.parse_yuan``), as fen; else exit 2 naming
    ``--recovery``."""
    try:
        return parse_yuan(yuan, "--recovery")
    except AmountError as exc:
        fail(str(exc), as_json)


def _line(f: findings.FindingView) -> str:
    money = f"{f.amount / 100:.2f}"
    return f"{f.id:>6} {f.status:<9} {f.rule:<18} {f.institution:<14} claim {f.claim} {money}"


@app.command("list")
def list_(
    area: AreaOpt = None,
    year: YearOpt = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    rule: Annotated[str | None, typer.Option("--rule")] = None,
    institution: Annotated[str | None, typer.Option("--institution")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Findings (filtered by area, year, status, rule, institution)."""
    with database(db, as_json) as engine:
        try:
            found = findings.list_findings(
                UnitOfWork.for_engine(engine), area, year, status, rule, institution
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
        data: Any = [f.to_dict() for f in found]
        emit(data, as_json, "\n".join(_line(f) for f in found) or "no findings")


@app.command()
def show(finding: IdArg, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """A finding with its evidence and who moved it when."""
    with database(db, as_json) as engine:
        f = findings.show(UnitOfWork.for_engine(engine), finding)
        emit(f.to_dict(), as_json, _line(f))


@app.command()
def confirm(
    finding: IdArg,
    recovery: Annotated[
        str, typer.Option("--recovery", help="yuan the institution pays back (e.g. 120.50)")
    ],
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """open → confirmed, with the amount to recover."""
    with database(db, as_json) as engine:
        fen = _fen(recovery, as_json)
        f = findings.confirm(UnitOfWork.for_engine(engine), finding, fen, _by(operator))
        emit(f.to_dict(), as_json, _line(f))


@app.command()
def dismiss(
    finding: IdArg,
    reason: Annotated[str, typer.Option("--reason", help="why it is not irregular")],
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """open or confirmed → dismissed, with a reason."""
    with database(db, as_json) as engine:
        f = findings.dismiss(UnitOfWork.for_engine(engine), finding, reason, _by(operator))
        emit(f.to_dict(), as_json, _line(f))


@app.command()
def recover(
    finding: IdArg,
    on: Annotated[str | None, typer.Option("--on", help="the day recovered (YYYY-MM-DD)")] = None,
    db: DbOpt = None,
    operator: OperatorOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """confirmed → recovered: posts the recovery to the ledger (the institution owes the fund)."""
    with database(db, as_json) as engine:
        day = parse_date(on, "--on", as_json) if on else None
        f = findings.recover(UnitOfWork.for_engine(engine), finding, _by(operator), day)
        emit(f.to_dict(), as_json, _line(f))


@app.command()
def scores(
    area: Annotated[str, typer.Option("--area", help="6-digit region code")],
    year: Annotated[int, typer.Option("--year")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Institutions' credit scores for the year, from their confirmed findings."""
    with database(db, as_json) as engine:
        got = findings.credit_scores(UnitOfWork.for_engine(engine), area, year)
        emit(got, as_json, "\n".join(f"{k:<16} {v:>3}" for k, v in got.items()) or "none")
