"""``yibao maternity``: an insured employee's maternity allowance (生育津贴) alone
(``allowance``), or with the birth's medical expenses in one step (``birth``, ``undo``)."""

from __future__ import annotations

from typing import Annotated

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    ShowOpt,
    emit,
    parse_amount,
    parse_date,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.cli.settle import (
    CatBOpt,
    ClaimFile,
    InstOpt,
    LevelOpt,
    NoAccountOpt,
    OverOpt,
    SelfOpt,
    TotalOpt,
    VisitOpt,
    _claim_doc,
)
from yibao.rules.maternity import Birth
from yibao.services import maternity, settlement

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


@maternity_app.command("birth")
@with_policy_dir
def birth(
    birth_date: Annotated[str, typer.Option("--birth-date", help="Date of the birth")],
    file: ClaimFile = None,
    person: Annotated[str | None, typer.Option("--person", help="National ID")] = None,
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
    date: Annotated[
        str | None, typer.Option("--date", help="Date of the claim (default: the birth date)")
    ] = None,
    level: LevelOpt = None,
    total: TotalOpt = None,
    fully_self_paid: SelfOpt = None,
    over_limit: OverOpt = None,
    category_b: CatBOpt = None,
    institution: InstOpt = None,
    mdtrt_id: VisitOpt = None,
    no_account: NoAccountOpt = False,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A birth in one step: its medical expenses settled (2207, med type maternity) and the
    allowance paid, together or not at all."""
    on = parse_date(birth_date, "birth_date", as_json)
    given = parse_amount(wage, "wage", as_json) if wage is not None else None
    options = {
        "person": person,
        "date": date or on.isoformat(),
        "med_type": None if mdtrt_id else maternity.MATERNITY,
        "level": level,
        "total": total,
        "fully_self_paid": fully_self_paid,
        "over_limit": over_limit,
        "category_b": category_b,
        "fixmedins_code": institution,
        "mdtrt_id": mdtrt_id,
        "use_account": False if no_account else None,
    }
    claim_doc = _claim_doc(file, as_json, options)
    with unit_of_work(db, as_json, show_identity) as uow:
        claim = settlement.claim_from_mapping(claim_doc)
        done = maternity.settle_birth(uow, claim, Birth(on, difficult, babies), wage=given)
    data = done.as_dict()
    s, a = data["settlement"], data["allowance"]
    emit(
        data,
        as_json,
        f"{done.allowance.reference}: settlement {s['setl_id']} (funds {s['fund_pay_sumamt']}, "
        f"cash {s['psn_cash_pay']}) and maternity allowance {a['allowance']} "
        f"({a['leave_days']} days)",
        show_identity,
    )


@maternity_app.command("undo")
@with_policy_dir
def undo(
    person: Annotated[str, typer.Option("--person", help="National ID or person number")],
    birth_date: Annotated[str, typer.Option("--birth-date", help="Date of the birth")],
    on: Annotated[str | None, typer.Option(help="Date of the undoing (default today)")] = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Undo a birth's application: its settlement reversed and its allowance taken back,
    together."""
    born = parse_date(birth_date, "birth_date", as_json)
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json, show_identity) as uow:
        done = maternity.undo_birth(uow, person, born, on=day)
    data = done.as_dict()
    emit(data, as_json, f"{done.reference} undone on {data['on']}", show_identity)
