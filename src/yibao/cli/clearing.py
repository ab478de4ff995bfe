"""``yibao funds clearing``: the month's settlement with the designated institutions (清算):
each institution's statement, optionally paid (``--pay``) and written as files (``--file``);
``yibao funds cross-region``: the month's clearing between pairs of pooling areas (异地就医)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from yibao.cli.common import DbOpt, JsonOpt, emit, fail, out, parse_date, unit_of_work
from yibao.policy import fen_to_yuan
from yibao.services import clearing as svc
from yibao.services import cross_region as cross


def clearing(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM")],
    institution: Annotated[
        str | None, typer.Option("--institution", help="One institution's code (default: all)")
    ] = None,
    pay: Annotated[
        bool, typer.Option("--pay", help="Post the payment of the month (once per institution)")
    ] = False,
    on: Annotated[str | None, typer.Option(help="Payment date with --pay (default today)")] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--file", help="Write <code>-<YYYY-MM>.csv and .json per institution here"),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the funds owe each institution for the month (its settlements less the month's
    reversals), and with --pay, pay it: one ledger transaction per institution and month."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        if pay:
            done = svc.pay(uow, month, institution, on=day)
            data = [c.as_dict() for c in done]
        found = svc.statements(uow, month, institution, lines=folder is not None)
        if not pay:
            data = [s.summary() for s in found]
    try:
        written = [str(p) for s in found for p in svc.write_statement(s, folder)] if folder else []
    except OSError as exc:
        fail(f"file: cannot write the statements into {folder}: {exc.strerror}", as_json, 3)

    def human() -> None:
        for d in data:
            out.print(
                f"{d['fixmedins_code']} {d['month']}: {d['fixmedins_setl_cnt']} net, "
                f"fees {d['medfee_sumamt']}, cash {d['psn_cash_pay']}, owed {d['owed']}; "
                f"{_state(d, 'paid')}"
            )
        if not data:
            out.print(f"{month}: no settlement or reversal")
        total = sum(s.totals.owed for s in found)
        out.print(f"{len(found)} institutions, owed {fen_to_yuan(total)}")
        for path in written:
            out.print(f"written {path}")

    emit({"statements": data, "files": written} if folder else data, as_json, human)


def cross_region(
    month: Annotated[str, typer.Option("--month", help="The month, YYYY-MM")],
    insured_area: Annotated[
        str | None, typer.Option("--insured-area", help="The insured's pooling area (default: all)")
    ] = None,
    treating_area: Annotated[
        str | None, typer.Option("--treating-area", help="The treating area (default: all)")
    ] = None,
    pay: Annotated[
        bool, typer.Option("--pay", help="Post the clearing of the month (once per pair)")
    ] = False,
    on: Annotated[str | None, typer.Option(help="Clearing date with --pay (default today)")] = None,
    folder: Annotated[
        Path | None,
        typer.Option("--file", help="Write <insured>-<treating>-<YYYY-MM>.csv and .json here"),
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cross-region clearing (异地就医清算): what each insured area owes each treating area for
    the month's cross-region settlements (less the month's reversals), and with --pay, clear
    it: one ledger transaction per pair of areas and month, on both areas' accounts."""
    day = parse_date(on, "on", as_json) if on is not None else None
    with unit_of_work(db, as_json) as uow:
        if pay:
            done = cross.pay(uow, month, insured_area, treating_area, on=day)
            data = [c.as_dict() for c in done]
        found = cross.statements(uow, month, insured_area, treating_area, lines=folder is not None)
        if not pay:
            data = [s.summary() for s in found]
    try:
        files = [cross.write_statement(s, folder) for s in found] if folder else []
        written = [str(p) for pair in files for p in pair]
    except OSError as exc:
        fail(f"file: cannot write the statements into {folder}: {exc.strerror}", as_json, 3)

    def human() -> None:
        for d in data:
            out.print(
                f"{d['insured_area']} → {d['treating_area']} {d['month']}: "
                f"{d['setl_cnt']} net, fees {d['medfee_sumamt']}, owed {d['owed']}; "
                f"{_state(d)}"
            )
        if not data:
            out.print(f"{month}: no cross-region settlement or reversal")
        total = sum(s.totals.owed for s in found)
        out.print(f"{len(found)} pairs of areas, owed {fen_to_yuan(total)}")
        for path in written:
            out.print(f"written {path}")

    emit({"statements": data, "files": written} if folder else data, as_json, human)


def _state(d: dict[str, Any], verb: str = "cleared") -> str:
    paid = d["paid"]
    if not paid:
        return f"not {verb}"
    now = " (now)" if d.get("posted") else ""
    state = f"{verb} {paid['amount']} on {paid['paid_on']}{now}"
    if d["outstanding"] != "0.00":
        state += f", outstanding {d['outstanding']}"
    return state
