"""``yibao commercial``: supplementary commercial insurance (惠民保): the products sold in an
area, a person's purchase of one for a coverage year, its cancellation, a person's purchases, and
the monthly statement of what each insurer owes, and its collection from the insurer."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    OperatorOpt,
    ShowOpt,
    emit,
    fail,
    parse_date,
    unit_of_work,
)
from yibao.cli.options import with_policy_dir
from yibao.domain.errors import RecordError
from yibao.policy import ParameterError, fen_to_yuan
from yibao.services import commercial
from yibao.services.commercial import PurchaseView

app = typer.Typer(
    no_args_is_help=True,
    help="Supplementary commercial insurance (惠民保): products, purchases, statements",
)

PersonOpt = Annotated[str, typer.Option("--person", help="National ID or person number")]
YearOpt = Annotated[int | None, typer.Option("--year", help="The coverage year")]


def _line(p: PurchaseView) -> str:
    ended = f", cancelled {p.cancelled_on}" if p.cancelled_on else ""
    return (
        f"#{p.id} {p.person} {p.product} {p.name} ({p.insurer}) for {p.year} from "
        f"{p.covers_from}, bought {p.bought_on} ({p.status}{ended}, area {p.area})"
    )


@app.command("products")
@with_policy_dir
def products(
    area: Annotated[str, typer.Option("--area", help="The pooling area's code")],
    year: YearOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The products sold in the area for the coverage year (default this year)."""
    try:
        found = commercial.product_list(area, year)
    except (RecordError, ParameterError) as exc:
        fail(str(exc), as_json)
    data: dict[str, Any] = {"area": area, "products": [p.as_dict() for p in found]}
    emit(
        data,
        as_json,
        "\n".join(
            f"{p.code} {p.name} ({p.insurer}): deductible {d['deductible']}, ratio {p.ratio}, "
            f"cap {d['cap']}, covers {'+'.join(p.covers)}; sold {p.sale_from} to {p.sale_to}"
            for p, d in ((p, p.as_dict()) for p in found)
        )
        or "no product",
    )


@app.command("buy")
@with_policy_dir
def buy(
    person: PersonOpt,
    product: Annotated[str, typer.Option("--product", help="The product's code")] = "",
    year: YearOpt = None,
    operator: OperatorOpt = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Buy the product for the person for the coverage year, today (within its sale period)."""
    with unit_of_work(db, as_json, show_identity) as uow:
        made = commercial.buy(uow, person, product, year, actor=operator or getpass.getuser())
    emit(made.as_dict(), as_json, f"bought {_line(made)}", show_identity)


@app.command("cancel")
@with_policy_dir
def cancel(
    purchase_id: Annotated[int, typer.Argument(help="The purchase's id")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is cancelled")] = "",
    operator: OperatorOpt = None,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cancel a purchase: before it covers, or within its cooling-off days, unless it paid."""
    with unit_of_work(db, as_json, show_identity) as uow:
        made = commercial.cancel(
            uow, purchase_id, actor=operator or getpass.getuser(), reason=reason
        )
    emit(made.as_dict(), as_json, f"cancelled {_line(made)}", show_identity)


@app.command("list")
@with_policy_dir
def list_(
    person: PersonOpt,
    show_identity: ShowOpt = False,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The person's purchases, by year."""
    with unit_of_work(db, as_json, show_identity) as uow:
        found = commercial.listing(uow, person)
    emit(
        {"purchases": [p.as_dict() for p in found]},
        as_json,
        "\n".join(_line(p) for p in found) or "no purchase",
        show_identity,
        read=True,
    )


@app.command("statement")
def statement(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The month's statement per insurer: what its products paid, net of reversals; its total
    equals the net posted to the commercial receivable accounts in the month."""
    with unit_of_work(db, as_json) as uow:
        data = commercial.statement(uow, month)
    emit(data, as_json, _statement_text(data))


def _statement_text(data: dict[str, Any]) -> str:
    lines = [
        f"{e['insurer']}: owes {e['owed']}, collected {e['collected']}, "
        f"outstanding {e['outstanding']}"
        + "".join(
            f"\n  {ln['area']} {ln['product']}: {ln['settlements']} settled {ln['paid']}, "
            f"{ln['reversals']} reversed {ln['reversed']}, owed {ln['owed']}"
            for ln in e["lines"]
        )
        for e in data["insurers"]
    ]
    check = "equals" if data["balanced"] else "DIFFERS FROM"
    lines.append(f"{data['month']}: total {data['total']} {check} the posted {data['posted']}")
    return "\n".join(lines)


@app.command("collect")
def collect(
    month: Annotated[str, typer.Option("--month", help="YYYY-MM")],
    insurer: Annotated[
        str | None, typer.Option("--insurer", help="One insurer (default: every insurer)")
    ] = None,
    on: Annotated[str | None, typer.Option(help="The day the insurer paid (default today)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record the insurers' payment of the month's net (收回惠民保垫付): per insurer and area
    one ledger transaction, cash in, the commercial receivable down; once per month. Then the
    month's statement."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        done = commercial.collect(uow, month, insurer, on=day)
        data = commercial.statement(uow, month)
    lines = [
        f"{c.insurer} {c.area}: {'collected' if c.posted else 'already collected'} "
        f"{fen_to_yuan(c.amount)} on {c.paid_on} (transaction {c.transaction})"
        for c in done
    ] or [f"{month}: nothing to collect"]
    emit(
        {"collected": [c.as_dict() for c in done], "statement": data},
        as_json,
        "\n".join([*lines, _statement_text(data)]),
    )
