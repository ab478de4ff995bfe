"""``yibao maternity allowance``: pay an insured employee's maternity allowance (生育津贴)."""

from __future__ import annotations

from typing import Annotated

import typer

from yibao.cli.common import DbOpt, JsonOpt, ShowOpt, emit, parse_amount, parse_date, unit_of_work
from yibao.cli.options import with_policy_dir
from yibao.rules.maternity import Birth
from yibao.services import maternity

maternity_app = typer.Typer(no_args_is_help=True, help="Maternity benefits (生育)")


@maternity_app.command("allowance")
@with_policy_dir
def allowance(
    person: Annotated[str, typer.Option("--person", help="National ID or person number")],
    birth_date: Annotated[str, typer.Option("--birth-date", help="Date of the birth")],
    difficult: Annotated[
        bool, typer.Option("--difficult", help="A difficult birth (难产)")
    ] = False,
    babies: Annotated[int, typer.Option("--babies", help="Babies born")] = 1,
    wage: Annotated[
        str | None,
        typer.Option(
            help="Employer's average monthly wage of last year, yuan (default: from the store)"
        ),
    ] = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute the allowance and post it (D employee_pooling, C cash), once per birth."""
    on = parse_date(birth_date, "birth_date", as_json)
    given = parse_amount(wage, "wage", as_json) if wage is not None else None
    with unit_of_work(db, as_json, show_identity) as uow:
        paid = maternity.pay_allowance(uow, person, Birth(on, difficult, babies), wage=given)
    data = paid.as_dict()
    emit(
        data,
        as_json,
        f"maternity allowance {data['allowance']} ({paid.leave_days} days × "
        f"{data['employer_avg_monthly_wage']} ÷ 30, wage from {paid.wage_source}), "
        f"transaction #{paid.transaction_id}",
        show_identity,
    )
