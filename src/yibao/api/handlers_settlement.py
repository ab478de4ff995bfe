"""Visits and settlements over ``yibao.services.settlement``: 2201/2202 (register/cancel a
visit), 2206 (pre-settle), 2207 (settle), 2208 (reverse), 5206 (year-to-date benefits), 3201
(an institution's settlements of a day); plus the entitlement part of 1101.

An institution acts only on its own visits and settlements: a visit or settlement of another
institution is refused with 2005 before the service runs. Settlement answers name the person by
person number (``psn_no``), never by national ID.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import func, select

from yibao.api import errors, inputs
from yibao.api.auth import Principal
from yibao.api.context import TxContext
from yibao.api.errors import ApiError
from yibao.api.handlers_person import require_own
from yibao.api.roles import Role
from yibao.api.tx import handler
from yibao.domain.errors import NotFound, RecordError
from yibao.domain.registry import Person
from yibao.domain.settlement import Claim
from yibao.kernel.settle import FREE_ADMISSIONS
from yibao.kernel.tables import MED_TYPES, SCHEME_INPUT, UNCAPPED, epoch_days
from yibao.policy import fen_to_yuan
from yibao.services import settlement as svc
from yibao.services.common import find_person, policy_for
from yibao.services.person_file import (
    PersonFile,
    aid_class,
    enrolment_on,
    incentive_raise,
    load_file,
    rule_scheme,
)
from yibao.services.person_file import entitlement as entitlement_of
from yibao.store.models import SETTLEMENT_AMOUNTS, SettlementRow, VisitRow
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

#: Amounts summed by 5206 and 3201.
TOTALS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)


def _yuan(fen: int | None) -> str | None:
    if fen is None or fen >= UNCAPPED:
        return None
    return fen_to_yuan(int(fen))


def request_id(principal: Principal, msgid: str) -> str:
    """The settlement service's idempotency key: the caller's msgid, scoped to the caller."""
    code = principal.institution or principal.actor
    rid = f"{code}:{msgid}"
    if len(rid) <= 64:
        return rid
    return "h:" + hashlib.sha256(f"{principal.actor}\n{msgid}".encode()).hexdigest()[:60]


def _own_institution(ctx: TxContext, code: str, what: str) -> None:
    p = ctx.principal
    if p.role is Role.INSTITUTION and code != p.institution:
        ctx.audit(detail=f"{what} belongs to another institution", outcome="denied")
        raise ApiError(errors.NOT_YOURS, f"{what} belongs to another institution")


def _institution_level(ctx: TxContext) -> int | None:
    if ctx.principal.institution is None:
        return None
    with ctx.read_uow() as uow:
        row = ApiRepository(uow.session).institution(ctx.principal.institution)
        return row.level if row is not None and row.level in (1, 2, 3) else None


def _visit_code(ctx: TxContext, mdtrt_id: str) -> tuple[str, int]:
    with ctx.read_uow() as uow:
        visit = uow.settlements.visit(mdtrt_id)
        if visit is None:
            raise NotFound("visit", mdtrt_id)
        return visit.fixmedins_code, visit.person_id


def settlement_owner(uow: UnitOfWork, setl_id: str) -> tuple[str, int]:
    """(institution code, person id) of a settlement."""
    row = uow.session.execute(
        select(VisitRow.fixmedins_code, SettlementRow.person_id)
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(SettlementRow.setl_id == setl_id)
    ).first()
    if row is None:
        raise NotFound("settlement", setl_id)
    return str(row[0]), int(row[1])


def owner_or_not_yours(uow: UnitOfWork, who: Principal, setl_id: str) -> tuple[str, int]:
    """``settlement_owner``; for an insured person an unknown settlement is refused as another
    person's is (2005), so that the answer does not tell whether it exists."""
    try:
        return settlement_owner(uow, setl_id)
    except NotFound:
        if who.role is Role.INSURED_PERSON:
            raise ApiError(errors.NOT_YOURS, f"settlement {setl_id} is not yours") from None
        raise


def present(response: dict[str, Any], person_id: int) -> dict[str, Any]:
    out = dict(response)
    out["psn_no"] = str(person_id)
    return out


def registered_level(institution: str, registered: int | None, given: Any) -> int:
    """The level (医院等级) an institution is paid at: the one it is registered at. A request
    may repeat it; a request's level that differs is refused, as is any claim of an
    institution registered without a level."""
    if registered is None:
        raise inputs.invalid(
            "level",
            f"institution {institution} is registered without a level (1, 2 or 3): the bureau "
            "must register its level before it settles",
        )
    if given not in (None, "") and (
        isinstance(given, bool) or str(given).strip() != str(registered)
    ):
        raise inputs.invalid(
            "level",
            f"{given!r} is not the level institution {institution} is registered at "
            f"({registered}); leave it out",
        )
    return registered


def claim_of(
    data: dict[str, Any], institution: str | None, level: Callable[[], int | None]
) -> Claim:
    """The claim of a 2206/2207 input. An institution's claims are its own (its code replaces
    any given) at its registered level (``level()``; a different level is refused); staff
    give the level (or a registered visit's is taken)."""
    who = inputs.person_ref(data)
    doc = {k: v for k, v in data.items() if k not in ("psn_no", "certno")}
    doc["person"] = "-"
    mdtrt_id = inputs.text(data, "mdtrt_id", 40, required=False)
    if institution is not None:
        doc["fixmedins_code"] = institution
        if mdtrt_id is None or doc.get("level") not in (None, ""):
            doc["level"] = registered_level(institution, level(), doc.get("level"))
    if mdtrt_id is None and doc.get("level") is None:
        doc["level"] = level()
    elif mdtrt_id is not None:
        doc.pop("fixmedins_code", None)  # the visit's
    claim = svc.claim_from_mapping(doc)
    return dataclasses.replace(claim, person=who)


# -------------------------------------------------------------------------------- visits


@handler("2201", "register a visit (admission)")
def register(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    who = inputs.person_ref(data)
    code = ctx.principal.institution or inputs.require_text(data, "fixmedins_code", 40)
    med_type = inputs.require_text(data, "med_type", 12)
    if ctx.principal.institution is not None:
        level = registered_level(code, _institution_level(ctx), data.get("level"))
    else:
        level = inputs.integer(data, "level")
    begin = inputs.date(data, "begntime", default=inputs.date(data, "date", default=ctx.today))
    cross = inputs.text(data, "cross_region", 12, required=False) or "none"
    mdtrt_id = inputs.text(data, "mdtrt_id", 40, required=False)
    with ctx.read_uow() as uow:
        person = find_person(uow, who)
    ctx.audit(person_id=person.id, detail="visit registered")
    visit = svc.register_visit(
        ctx.uow(), who, code, med_type, level, begin, cross_region=cross, mdtrt_id=mdtrt_id
    )
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": str(visit.person_id),
        "fixmedins_code": visit.fixmedins_code,
        "med_type": visit.med_type,
        "level": visit.level,
        "cross_region": visit.cross_region,
        "begntime": visit.begin_date.isoformat(),
        "status": visit.status.value,
    }


@handler("2202", "cancel a visit")
def cancel(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    on = inputs.date(data, "date", default=ctx.today)
    code, person_id = _visit_code(ctx, mdtrt_id)
    _own_institution(ctx, code, f"visit {mdtrt_id}")
    ctx.audit(person_id=person_id, target=f"visit:{mdtrt_id}", detail="visit cancelled")
    visit = svc.cancel_visit(ctx.uow(), mdtrt_id, on)
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": str(visit.person_id),
        "status": visit.status.value,
        "cancelled_on": visit.cancelled_on.isoformat() if visit.cancelled_on else None,
    }


# ---------------------------------------------------------------------------- settlements


@handler("2206", "pre-settlement: the full breakdown, nothing stored")
def presettle(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    claim = claim_of(data, ctx.principal.institution, lambda: _institution_level(ctx))
    if claim.mdtrt_id is not None:
        code, _ = _visit_code(ctx, claim.mdtrt_id)
        _own_institution(ctx, code, f"visit {claim.mdtrt_id}")
    result = svc.presettle(ctx.read_uow(), claim)
    ctx.audit(person_id=result.person_id, detail="pre-settlement")
    return present(result.response, result.person_id)


@handler("2207", "settlement: stored, funds posted, year-to-date totals moved")
def settle(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    """One settlement; concurrent ones from institutions are settled together (``api.batch``)."""
    institution = ctx.principal.institution
    claim = claim_of(data, institution, lambda: _institution_level(ctx))
    with ctx.read_uow() as uow:
        person = find_person(uow, claim.person)
    ctx.audit(person_id=person.id, detail="settlement")
    result = svc.settle(
        ctx.uow(), claim, request_id(ctx.principal, ctx.msgid), institution=institution
    )
    return present(result.response, result.person_id)


@handler("2208", "reverse a settlement")
def reverse(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    setl_id = inputs.require_text(data, "setl_id", 40)
    on = inputs.date(data, "date", default=ctx.today)
    with ctx.read_uow() as uow:
        code, person_id = settlement_owner(uow, setl_id)
    _own_institution(ctx, code, f"settlement {setl_id}")
    ctx.audit(person_id=person_id, target=f"settlement:{setl_id}", detail="settlement reversed")
    result = svc.reverse(ctx.uow(), setl_id, on=on, request_id=request_id(ctx.principal, ctx.msgid))
    return present(result.response, person_id)


# ------------------------------------------------------------------------ year to date


def _sums(uow: UnitOfWork, *where: Any) -> dict[str, Any]:
    cols = [func.count()] + [func.coalesce(func.sum(getattr(SettlementRow, a)), 0) for a in TOTALS]
    row = uow.session.execute(
        select(*cols)
        .select_from(SettlementRow)
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(*where)
    ).one()
    return {
        "setl_cnt": int(row[0]),
        **{a: fen_to_yuan(int(v)) for a, v in zip(TOTALS, row[1:], strict=True)},
    }


def _state_view(state: dict[str, int]) -> dict[str, Any]:
    return {
        k: (v if k == "admissions" else fen_to_yuan(v))
        for k, v in sorted(state.items())
        if not k.startswith(("acct.", "mulaid.", FREE_ADMISSIONS))
    }


@handler("5206", "year-to-date cumulative benefits of a person")
def year_to_date(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    who = inputs.person_ref(data)
    year = inputs.integer(data, "year", default=ctx.today.year)
    if not 1990 <= year <= 2200:
        raise inputs.invalid("year", "out of range")
    with ctx.read_uow() as uow:
        require_own(uow, ctx.principal, who, "an insured person sees only their own benefits")
        p = find_person(uow, who)
        assert p.id is not None
        ctx.audit(person_id=p.id, target=f"person:{p.id}", detail=f"year-to-date {year}")
        state = uow.settlements.state(p.id, year)
        settled = _sums(
            uow,
            SettlementRow.person_id == p.id,
            SettlementRow.year == year,
            SettlementRow.status == "settled",
        )
        out: dict[str, Any] = {
            "psn_no": str(p.id),
            "year": year,
            "cumulative": _state_view(state),
            "settled": settled,
        }
        out.update(caps(uow, p, dt.date(year, 12, 31) if year < ctx.today.year else ctx.today))
    return out


@handler("3201", "reconciliation of an institution's settlements for a day")
def reconcile(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    day = inputs.date(data, "stmt_date", default=inputs.date(data, "date", default=ctx.today))
    code = ctx.principal.institution or inputs.require_text(data, "fixmedins_code", 40)
    ctx.audit(target=f"institution:{code}", detail=f"reconciliation {day.isoformat()}")
    with ctx.read_uow() as uow:
        settled = _sums(uow, VisitRow.fixmedins_code == code, SettlementRow.settled_on == day)
        reversed_ = _sums(uow, VisitRow.fixmedins_code == code, SettlementRow.reversed_on == day)
    net = {"setl_cnt": settled["setl_cnt"] - reversed_["setl_cnt"]}
    for a in TOTALS:
        net[a] = str(Decimal(settled[a]) - Decimal(reversed_[a]))
    differences = []
    claimed = {
        "setl_cnt": data.get("setl_cnt"),
        "medfee_sumamt": data.get("medfee_sumamt"),
        "fund_pay_sumamt": data.get("fund_pay_sumamt"),
        "acct_pay": data.get("acct_pay"),
        "psn_cash_pay": data.get("psn_cash_pay"),
    }
    for field, value in claimed.items():
        if value is None:
            continue
        if field == "setl_cnt":
            theirs: Any = inputs.integer(data, field)
            ours: Any = net[field]
        else:
            theirs = inputs.amount(data, field)
            ours = Decimal(str(net[field]))
        if theirs != ours:
            differences.append({"field": field, "institution": str(theirs), "centre": str(ours)})
    return {
        "fixmedins_code": code,
        "stmt_date": day.isoformat(),
        "settled": settled,
        "reversed": reversed_,
        "net": net,
        "stmt_rslt": "0" if not differences else "1",
        "differences": differences,
    }


# ----------------------------------------------------------------- entitlement and caps


def caps(uow: UnitOfWork, p: Person, on: dt.date, file: PersonFile | None = None) -> dict[str, Any]:
    """Annual caps of the person's scheme, what the year's settlements used, what remains
    (``file``: the person's file, when already read)."""
    file = file or load_file(uow, p)
    e = enrolment_on(file.enrolments, on)
    if e is None or p.id is None:
        return {"caps": []}
    policy = policy_for(e.pooling_area)
    tables = svc.tables_for(policy, on.year)
    v = int(tables.version_of(np.array([epoch_days(on)]))[0])
    scheme = rule_scheme(e)
    s = SCHEME_INPUT[scheme]
    state = uow.settlements.state(p.id, on.year)
    groups: dict[str, list[str]] = {}
    limit: dict[str, int] = {}
    for m, med in enumerate(MED_TYPES):
        g = tables.cap_groups[int(tables.cap_group[v, s, m])]
        groups.setdefault(g, []).append(med)
        limit[g] = int(tables.annual_cap[v, s, m])
    out = []
    for g, meds in groups.items():
        used = state.get(f"cap:{g}.paid", 0)
        cap = limit[g]
        out.append(
            {
                "fund": "basic",
                "cap_group": g,
                "med_types": meds,
                "annual_cap": _yuan(cap),
                "used": fen_to_yuan(used),
                "remaining": None if cap >= UNCAPPED else fen_to_yuan(max(cap - used, 0)),
            }
        )
    if scheme == "resident":
        # as the kernel reads it: the cap of the person's assistance class, plus the raise
        # earned by continuous insurance and years without a claim (激励)
        vul = int(tables.ci_vulnerable[v, aid_class(file, on)])
        base = int(tables.ci_cap[v, vul])
        raised = incentive_raise(file, on.year, policy)
        cap = base if base >= UNCAPPED else base + raised
        used = state.get("ci.paid", 0)
        out.append(
            {
                "fund": "critical_illness",
                "annual_cap": _yuan(cap),
                "incentive_raise": fen_to_yuan(raised),
                "used": fen_to_yuan(used),
                "remaining": None if cap >= UNCAPPED else fen_to_yuan(max(cap - used, 0)),
            }
        )
    elif scheme in ("employee", "flexible", "retiree"):
        cap = int(tables.la_cap[v])
        used = state.get("la.paid", 0)
        out.append(
            {
                "fund": "large_amount",
                "annual_cap": _yuan(cap),
                "used": fen_to_yuan(used),
                "remaining": None if cap >= UNCAPPED else fen_to_yuan(max(cap - used, 0)),
            }
        )
    return {"caps": out}


def entitlement(uow: UnitOfWork, p: Person, on: dt.date) -> dict[str, Any]:
    """1101's waiting period and remaining caps."""
    file = load_file(uow, p)
    e = enrolment_on(file.enrolments, on)
    if e is None:
        return {
            "entitled_from": None,
            "waiting_rule": f"not enrolled on {on.isoformat()}",
            "caps": [],
        }
    try:
        ent = entitlement_of(file, e, on, policy_for(e.pooling_area))
    except RecordError as exc:
        return {"entitled_from": None, "waiting_rule": str(exc), "caps": []}
    return {
        "entitled_from": ent.entitled_from.isoformat() if ent.entitled_from else None,
        "in_waiting_period": ent.entitled_from is None or on < ent.entitled_from,
        "waiting_rule": ent.rule,
        **caps(uow, p, on, file),
    }


__all__ = ["SETTLEMENT_AMOUNTS", "caps", "entitlement"]
