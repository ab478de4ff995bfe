"""``yibao pay``: record a contribution (employee, flexible worker, resident, repair of lapsed
years, retiree account credit), computed by the rules and posted as one balanced transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    emit,
    fail,
    parse_amount,
    parse_date,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.domain.contributions import ContributionRecord
from yibao.policy import fen_to_yuan
from yibao.services import contributions
from yibao.store.uow import UnitOfWork

KINDS = ("employee", "flexible", "retiree-credit", "resident", "repair")
MONTHLY = ("employee", "flexible", "retiree-credit")

#: The monthly payments on an amount: kind -> (option, whose contribution, service).
PayMonth = Callable[[UnitOfWork, str, dt.date, int, dt.date], ContributionRecord]
ON_AMOUNT: dict[str, tuple[str, str, PayMonth]] = {
    "employee": ("wage", "an employee", contributions.pay_employee),
    "flexible": ("base", "a flexible-worker", contributions.pay_flexible),
}


def contribution_dict(c: ContributionRecord) -> dict[str, Any]:
    """A contribution as printed (``--json``), amounts in yuan."""
    return {
        "id": c.id,
        "kind": c.kind.value,
        "period_start": c.period_start.isoformat(),
        "period_end": c.period_end.isoformat(),
        "paid_on": c.paid_on.isoformat(),
        "base": fen_to_yuan(c.base) if c.base is not None else None,
        "employer_part": fen_to_yuan(c.employer_part),
        "employee_part": fen_to_yuan(c.employee_part),
        "individual": fen_to_yuan(c.individual),
        "fiscal_subsidy": fen_to_yuan(c.fiscal_subsidy),
        "assistance_paid": fen_to_yuan(c.assistance_paid),
        "account_credit": fen_to_yuan(c.account_credit),
        "total": fen_to_yuan(c.total),
        "mutual_aid_link_id": c.mutual_aid_link_id,
        "transaction_id": c.transaction_id,
    }


def _period(value: str, monthly: bool, as_json: bool) -> dt.date:
    try:
        if monthly:
            year, month = value.split("-")[:2]
            return dt.date(int(year), int(month), 1)
        return dt.date(int(value), 1, 1)
    except ValueError:
        fail(f"period: {value!r} is not {'YYYY-MM' if monthly else 'YYYY'}", as_json)


def _payment_line(r: ContributionRecord, monthly: bool) -> str:
    period = f"{r.period_start:%Y-%m}" if monthly else f"{r.period_start:%Y}"
    return (
        f"{r.kind.value} {period} total {fen_to_yuan(r.total)} "
        f"(account credit {fen_to_yuan(r.account_credit)}), transaction #{r.transaction_id}"
    )


def _repair_years(years: str | None, as_json: bool) -> list[int]:
    if not years:
        fail("years: required for a repair (e.g. --years 2022,2023)", as_json)
    try:
        return [int(y) for y in years.split(",") if y.strip()]
    except ValueError:
        fail(f"years: {years!r} is not a list of years", as_json)


@with_policy_dir
def pay(
    national_id: Annotated[str, typer.Argument()],
    kind: Annotated[str, typer.Option(help="employee|flexible|resident|repair|retiree-credit")],
    period: Annotated[
        str | None,
        typer.Option(help="YYYY-MM (employee, flexible, retiree-credit) or YYYY (resident)"),
    ] = None,
    wage: Annotated[str | None, typer.Option(help="Monthly wage, yuan (employee)")] = None,
    base: Annotated[str | None, typer.Option(help="Chosen monthly base, yuan (flexible)")] = None,
    years: Annotated[str | None, typer.Option(help="Lapsed years to repair: 2022,2023")] = None,
    from_account_of: Annotated[
        str | None, typer.Option(help="Pay from this employee's personal account (mutual aid)")
    ] = None,
    on: Annotated[str | None, typer.Option(help="Payment date")] = None,
    show_identity: ShowOpt = False,
    operator: OperatorOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record a contribution: computed by the rules, posted as one balanced transaction."""
    day = parse_date(on, "on", as_json)
    kind = kind.replace("_", "-")
    monthly = kind in MONTHLY
    if kind not in KINDS:
        fail(f"kind: {kind!r} is not employee|flexible|resident|repair|retiree-credit", as_json)
    if kind != "repair" and period is None:
        fail("period: required", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        records: list[ContributionRecord]
        if kind in ON_AMOUNT:
            field, whose, pay_month = ON_AMOUNT[kind]
            amount = {"wage": wage, "base": base}[field]
            if amount is None:
                fail(f"{field}: required for {whose} contribution", as_json)
            assert period is not None
            first = _period(period, True, as_json)
            paid = parse_amount(amount, field, as_json)
            records = [pay_month(uow, national_id, first, paid, day)]
        elif kind == "retiree-credit":
            assert period is not None
            first = _period(period, True, as_json)
            records = [contributions.credit_retiree(uow, national_id, first, day)]
        elif kind == "resident":
            assert period is not None
            year = _period(period, False, as_json).year
            records = [
                contributions.pay_resident(
                    uow, national_id, year, day, from_account_of=from_account_of
                )
            ]
        else:
            records = contributions.pay_repair(uow, national_id, _repair_years(years, as_json), day)
    data = [contribution_dict(r) for r in records]
    emit(
        data if len(data) > 1 else data[0],
        as_json,
        "\n".join(_payment_line(r, monthly) for r in records),
        show_identity,
    )
