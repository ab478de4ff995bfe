"""``yibao dip settle``, ``yibao dip pay`` and ``yibao dip capitation`` (registered on ``yibao
dip`` by ``cli/dip.py``): the DIP year-end of a pooling area (年终清算): every institution's
points, the point value and its settlement against what the fund advanced, posted once, then
paid out of cash once."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from yibao.cli.common import DbOpt, JsonOpt, emit, fail, out, parse_date, unit_of_work
from yibao.domain.errors import InvalidField
from yibao.policy import yuan_to_fen
from yibao.services import dip_year as svc
from yibao.services.dip_chart import write_chart
from yibao.services.dip_group_file import read_group_table


def _decimal(text: str | None, name: str, as_json: bool) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        fail(f"{name}: must be a number, got {text!r}", as_json)


def settle(
    year: Annotated[int, typer.Option("--year", help="The year to settle")],
    area: Annotated[str, typer.Option("--area", help="The pooling area code")],
    groups: Annotated[
        Path | None,
        typer.Option(
            "--groups",
            help="A group table file (YAML/JSON: groups, institutions); default: the DIP table "
            "in force (yibao dip build/load)",
        ),
    ] = None,
    budget: Annotated[
        str | None,
        typer.Option(
            help="Fund money available for DIP, yuan (default: the year's advances "
            "× provider_payment.dip.budget_factor)"
        ),
    ] = None,
    ratio: Annotated[
        str | None,
        typer.Option(help="Reimbursement ratio (default: the year's advances ÷ costs)"),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Write a PNG of points and payments here")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Settle the year with every institution of the area (once: a rerun posts nothing and
    prints the stored year-end)."""
    fen = None
    if budget is not None:
        amount = _decimal(budget, "budget", as_json)
        if amount is None or not amount.is_finite() or amount < 0 or amount > 10**13:
            fail(f"budget: must be a non-negative amount of yuan, got {budget!r}", as_json)
        fen = yuan_to_fen(amount)
    rate = _decimal(ratio, "ratio", as_json)
    try:
        table = read_group_table(groups) if groups is not None else None
    except InvalidField as exc:
        fail(str(exc), as_json)
    with unit_of_work(db, as_json) as uow:
        found = svc.settle(uow, area, year, table, budget=fen, ratio=rate)
    if chart is not None:
        try:
            write_chart(found, chart)
        except OSError as exc:
            fail(f"chart: cannot write {chart}: {exc.strerror}", as_json, 3)
    data = found.as_dict()

    def human() -> None:
        state = "posted now" if found.posted else f"run before (runs: {found.runs}), nothing posted"
        out.print(
            f"DIP {year} area {area}: {data['cases']} cases, {data['total_points']} points, "
            f"point value {data['point_value']} (budget {data['fund_available']}, "
            f"ratio {data['reimbursement_ratio']}); {state}"
        )
        for i in data["institutions"]:
            out.print(
                f"{i['institution']}: {i['cases']} cases, {i['points']} points, standard "
                f"{i['standard']}, fund due {i['fund_due']}, advanced {i['advanced']}, "
                f"settlement {i['settlement']}"
            )
        if chart is not None:
            out.print(f"written {chart}")

    emit(data, as_json, human)


def capitation(
    year: Annotated[int, typer.Option("--year", help="The year to reconcile")],
    area: Annotated[str, typer.Option("--area", help="The pooling area code")],
    post: Annotated[
        bool, typer.Option("--post", help="Post each institution's difference (once)")
    ] = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Capitation (按人头) of primary and chronic outpatient care: each institution's enrolled
    persons, what it is due, what was paid claim by claim, and the difference."""
    from yibao.services import capitation as cap

    with unit_of_work(db, as_json) as uow:
        found = [i.as_dict() for i in cap.reconcile(uow, area, year, post=post)]

    def human() -> None:
        for i in found:
            out.print(
                f"{i['institution']}: {i['enrolled']} enrolled, due {i['due']}, paid by claim "
                f"{i['paid_by_claim']}, settlement {i['settlement']}"
                + (f" (transaction {i['transaction']})" if i["transaction"] else "")
            )
        if not found:
            out.print(f"capitation {year} area {area}: nobody enrolled")

    emit(found, as_json, human)


def pay(
    year: Annotated[int, typer.Option("--year", help="The settled year")],
    area: Annotated[str, typer.Option("--area", help="The pooling area code")],
    institution: Annotated[
        str | None, typer.Option("--institution", help="Only this institution (default: all)")
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="The payment date, after the year (default today)")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Pay out the stored DIP year-end (yibao dip settle): each institution's balance paid out
    of the area's cash, or paid back into it where the fund reclaims (once per institution)."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json) as uow:
        found = [p.as_dict() for p in svc.pay(uow, area, year, institution, on=day)]

    def human() -> None:
        for p in found:
            paid = p["paid"]
            state = (
                "nothing to pay"
                if paid is None
                else f"{'paid now' if p['posted'] else 'paid before'}: {paid['amount']} on "
                f"{paid['paid_on']} (transaction {paid['transaction']})"
            )
            out.print(f"{p['institution']}: settlement {p['settlement']}, {state}")

    emit(found, as_json, human)
