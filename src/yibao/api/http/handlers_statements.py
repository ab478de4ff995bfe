"""What was settled and what remains: 5206 (a person's year-to-date benefits and caps), 3201
(an institution's settlements of a day, reconciled against its own figures), and the
entitlement part of 1101 (waiting period and remaining caps), over ``services.benefits`` and
``services.statements``. Amounts in yuan; a cap that does not exist is ``null``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao.api.http import inputs
from yibao.api.http.context import TxContext
from yibao.api.http.handlers_person import require_own
from yibao.api.http.tx import handler
from yibao.domain.ids import NotStored
from yibao.domain.registry import Person, check_area
from yibao.policy import fen_to_yuan
from yibao.services import benefits
from yibao.services.benefits import CapUse
from yibao.services.common import find_person
from yibao.services.statements import (
    RECONCILED,
    TOTALS,
    Difference,
    Totals,
    cumulative,
    period_statement,
    settled_in_year,
)
from yibao.store.uow import UnitOfWork


def _totals(t: Totals) -> dict[str, Any]:
    return {"setl_cnt": t.count, **{a: fen_to_yuan(t.amounts[a]) for a in TOTALS}}


def _figure(name: str, value: int) -> str:
    return str(value) if name == "setl_cnt" else fen_to_yuan(value)


def _cap(c: CapUse) -> dict[str, Any]:
    out: dict[str, Any] = {"fund": c.fund}
    if c.cap_group is not None:
        out.update(cap_group=c.cap_group, med_types=list(c.med_types))
    out["annual_cap"] = fen_to_yuan(c.annual_cap) if c.capped else None
    if c.incentive_raise is not None:
        out["incentive_raise"] = fen_to_yuan(c.incentive_raise)
    out["used"] = fen_to_yuan(c.used)
    out["remaining"] = None if c.remaining is None else fen_to_yuan(c.remaining)
    return out


def caps(uow: UnitOfWork, p: Person, on: dt.date) -> dict[str, Any]:
    """Annual caps of the person's scheme, what the year's settlements used, what remains."""
    return {"caps": [_cap(c) for c in benefits.annual_caps(uow, p, on)]}


def entitlement(uow: UnitOfWork, p: Person, on: dt.date) -> dict[str, Any]:
    """1101's waiting period and remaining caps."""
    ent = benefits.entitlement(uow, p, on)
    if ent.in_waiting_period is None:
        return {"entitled_from": None, "waiting_rule": ent.waiting_rule, "caps": []}
    return {
        "entitled_from": ent.entitled_from.isoformat() if ent.entitled_from else None,
        "in_waiting_period": ent.in_waiting_period,
        "waiting_rule": ent.waiting_rule,
        "caps": [_cap(c) for c in ent.caps],
    }


def _state_view(state: dict[str, int]) -> dict[str, Any]:
    return {k: (v if k == "admissions" else fen_to_yuan(v)) for k, v in state.items()}


@handler("5206", "year-to-date cumulative benefits of a person")
def year_to_date(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    who = inputs.person_ref(data)
    year = inputs.integer(data, "year", default=ctx.today.year)
    if not 1990 <= year <= 2200:
        raise inputs.invalid("year", "out of range")
    with ctx.read_uow() as uow:
        require_own(uow, ctx.principal, who, "an insured person sees only their own benefits")
        p = find_person(uow, who)
        if p.id is None:
            raise NotStored("person")
        ctx.audit(person_id=p.id, target=f"person:{p.id}", detail=f"year-to-date {year}")
        out: dict[str, Any] = {
            "psn_no": str(p.id),
            "year": year,
            "cumulative": _state_view(cumulative(uow, p.id, year)),
            "settled": _totals(settled_in_year(uow, p.id, year)),
        }
        out.update(caps(uow, p, dt.date(year, 12, 31) if year < ctx.today.year else ctx.today))
    return out


#: 3201's ``insutype``: the national insurance type codes, or the scheme's name.
INSUTYPES = {"310": "employee", "390": "resident", "employee": "employee", "resident": "resident"}


@dataclass(frozen=True)
class Period:
    """What 3201 and 3202 reconcile: an institution's period, optionally one scheme and one
    pooling area, and the totals the institution claims (fen; ``setl_cnt`` a count)."""

    institution: str
    first: dt.date
    last: dt.date
    scheme: str | None
    area: str | None
    claimed: dict[str, int]


#: The platform's names of the claimed totals, as yibao's.
_CLAIMED_ALIASES = {"fixmedins_setl_cnt": "setl_cnt", "cash_payamt": "psn_cash_pay"}


def reconcile_input(ctx: TxContext, data: dict[str, Any], what: str) -> Period:
    """The period, filters and claimed totals of a 3201 or 3202, audited as ``what``."""
    day = inputs.date(data, "stmt_date", default=inputs.date(data, "date", default=ctx.today))
    first = inputs.date(data, "stmt_begndate", default=day)
    last = inputs.date(data, "stmt_enddate", default=first if "stmt_begndate" in data else day)
    code = ctx.principal.institution or inputs.require_text(data, "fixmedins_code", 40)
    scheme = None
    if data.get("insutype") not in (None, ""):
        scheme = INSUTYPES.get(str(data["insutype"]))
        if scheme is None:
            raise inputs.invalid("insutype", "must be 310 (employee) or 390 (resident)")
    area = None
    if data.get("setl_optins") not in (None, ""):
        area = inputs.require_text(data, "setl_optins", 6)
        check_area(area, "setl_optins")
    period = first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"
    ctx.audit(target=f"institution:{code}", detail=f"{what} {period}")
    for theirs, ours in _CLAIMED_ALIASES.items():
        if data.get(theirs) is not None and data.get(ours) is None:
            data = {**data, ours: data[theirs]}
    claimed = {
        name: (
            inputs.integer(data, name)
            if name == "setl_cnt"
            else int(inputs.amount(data, name).scaleb(2))
        )
        for name in RECONCILED
        if data.get(name) is not None
    }
    if claimed.get("setl_cnt", 0) < 0:
        raise inputs.invalid("setl_cnt", "a count of settlements is not below 0")
    return Period(code, first, last, scheme, area, claimed)


def differences_out(differences: tuple[Difference, ...]) -> list[dict[str, str]]:
    return [
        {
            "field": d.field,
            "institution": _figure(d.field, d.institution),
            "centre": _figure(d.field, d.centre),
        }
        for d in differences
    ]


@handler("3201", "reconciliation of an institution's settlements for a day or a period")
def reconcile(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    p = reconcile_input(ctx, data, "reconciliation")
    first, last, code, scheme, area = p.first, p.last, p.institution, p.scheme, p.area
    found = period_statement(ctx.read_uow(), code, first, last, p.claimed, scheme=scheme, area=area)
    return {
        "fixmedins_code": code,
        "stmt_date": first.isoformat(),
        "stmt_begndate": first.isoformat(),
        "stmt_enddate": last.isoformat(),
        "clr_type": inputs.text(data, "clr_type", 10, required=False),
        "insutype": scheme,
        "setl_optins": area,
        "settled": _totals(found.settled),
        "reversed": _totals(found.reversed),
        "net": _totals(found.net),
        "fixmedins_setl_cnt": found.net.count,
        "medfee_sumamt": fen_to_yuan(found.net.amounts["medfee_sumamt"]),
        "fund_pay_sumamt": fen_to_yuan(found.net.amounts["fund_pay_sumamt"]),
        "acct_pay": fen_to_yuan(found.net.amounts["acct_pay"]),
        "stmt_rslt": "0" if not found.differences else "1",
        "differences": differences_out(found.differences),
    }
