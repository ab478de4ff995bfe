"""``yibao epidemic``: major epidemics (重大疫情, treat first and charge later): declare one for an
area and period, end it, list them, advance money to an institution and clear the advance, and
report the settlements one covered."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from yibao.cli.common import (
    DbOpt,
    JsonOpt,
    emit,
    fail,
    out,
    parse_amount,
    parse_date,
    unit_of_work,
)
from yibao.policy import fen_to_yuan
from yibao.services import epidemics as svc

app = typer.Typer(
    no_args_is_help=True, help="Major epidemics (重大疫情: treat first, charge later)"
)


def _line(d: dict[str, object]) -> str:
    ends = d["ends_on"] or "in force"
    return (
        f"#{d['id']} {d['area']} {d['title']}: {d['starts_on']} – {ends}; diseases "
        f"{','.join(d['diseases']) or '-'}; groups {','.join(d['groups']) or '-'}"  # type: ignore[arg-type]
    )


@app.command("declare")
def declare(
    area: Annotated[str, typer.Option("--area", help="The pooling area (6 digits)")],
    name: Annotated[str, typer.Option("--name", help="The epidemic's name")],
    starts: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD")],
    ends: Annotated[
        str | None, typer.Option("--to", help="Last day (default: until ended)")
    ] = None,
    disease: Annotated[
        list[str] | None, typer.Option("--disease", help="A listed disease: ICD-10 code or start")
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="A listed special group (e.g. tekun)")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare an epidemic: its covered claims are settled exempt from the catalogue, dosage
    limits and the annual cap, and marked (audited)."""
    first = parse_date(starts, "from", as_json)
    last = parse_date(ends, "to", as_json) if ends is not None else None
    with unit_of_work(db, as_json) as uow:
        e = svc.declare(uow, area, name, first, disease or (), group or (), last)
    data = svc.epidemic_dict(e)
    emit(data, as_json, lambda: out.print(f"declared {_line(data)}"))


@app.command("end")
def end(
    epidemic: Annotated[int, typer.Argument(help="The epidemic's id")],
    on: Annotated[str, typer.Option("--on", help="Its last day")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """End an epidemic on its last day (audited)."""
    day = parse_date(on, "on", as_json)
    with unit_of_work(db, as_json) as uow:
        e = svc.end(uow, epidemic, day)
    data = svc.epidemic_dict(e)
    emit(data, as_json, lambda: out.print(f"ended {_line(data)}"))


@app.command("list")
def list_(
    area: Annotated[str | None, typer.Option("--area", help="One pooling area")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The declared epidemics."""
    with unit_of_work(db, as_json) as uow:
        found = [svc.epidemic_dict(e) for e in svc.epidemics(uow, area)]

    def human() -> None:
        for d in found:
            out.print(_line(d))
        if not found:
            out.print("no epidemic declared")

    emit(found, as_json, human)


@app.command("advance")
def advance(
    epidemic: Annotated[int, typer.Argument(help="The epidemic's id")],
    institution: Annotated[str, typer.Option("--institution", help="The institution's code")],
    amount: Annotated[str, typer.Option("--amount", help="Yuan")],
    on: Annotated[str | None, typer.Option("--on", help="Date (default today)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Advance money to an institution before settlement (预拨): D epidemic_advance, C cash."""
    fen = parse_amount(amount, "amount", as_json)
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        txn = svc.advance(uow, epidemic, institution, fen, day)
    data = {"epidemic": epidemic, "institution": institution, "amount": fen_to_yuan(fen)}
    emit({**data, "transaction": txn}, as_json, f"advanced {data['amount']}, transaction #{txn}")


@app.command("clear")
def clear(
    epidemic: Annotated[int, typer.Argument(help="The epidemic's id")],
    institution: Annotated[str, typer.Option("--institution", help="The institution's code")],
    on: Annotated[str | None, typer.Option("--on", help="Date (default today)")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Clear what the epidemic advanced to an institution (once): D cash, C epidemic_advance."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        txn, fen = svc.clear_advance(uow, epidemic, institution, day)
    data = {"epidemic": epidemic, "institution": institution, "amount": fen_to_yuan(fen)}
    emit({**data, "transaction": txn}, as_json, f"cleared {data['amount']}, transaction #{txn}")


@app.command("report")
def report(
    epidemic: Annotated[int, typer.Argument(help="The epidemic's id")],
    file: Annotated[
        Path | None, typer.Option("--file", help="Also write its settlements as CSV here")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The settlements the epidemic covered: count, amounts, what the exemption moved into
    scope, and each settlement."""
    with unit_of_work(db, as_json) as uow:
        data = svc.report(uow, epidemic)
    lines = data["lines"]
    if file is not None:
        try:
            with file.open("w", newline="", encoding="utf-8") as fh:
                names = list(lines[0]) if lines else ["setl_id"]
                writer = csv.DictWriter(fh, fieldnames=names, lineterminator="\n")
                writer.writeheader()
                writer.writerows(lines)
        except OSError as exc:
            fail(f"file: cannot write {file}: {exc.strerror}", as_json, 3)

    def human() -> None:
        out.print(
            f"epidemic #{data['id']} {data['area']} {data['title']}: {data['settlements']} "
            f"settlements, fees {data['medfee_sumamt']}, funds {data['fund_pay_sumamt']}, "
            f"exempted into scope {data['exempted']}"
        )
        for x in lines:
            out.print(
                f"  {x['setl_id']} {x['settled_on']} {x['fixmedins_code']} {x['status']}: "
                f"fees {x['medfee_sumamt']}, funds {x['fund_pay_sumamt']}"
            )

    emit(data, as_json, human)
