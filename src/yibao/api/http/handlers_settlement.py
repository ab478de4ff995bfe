"""Visits and settlements over ``yibao.services.settlement``: 2201/2202 (register/cancel a
visit), 2206 (pre-settle), 2207 (settle), 2208 (reverse). (5206, 3201 and the entitlement part
of 1101: ``handlers_statements``.)

An institution acts only on its own visits and settlements: a visit or settlement of another
institution is refused with 2005 before the service runs. Settlement answers name the person by
person number (``psn_no``), never by national ID.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from yibao.api.http import errors, inputs
from yibao.api.http.auth import Principal
from yibao.api.http.context import TxContext
from yibao.api.http.errors import ApiError
from yibao.api.http.fee_json import results_json, upload_of
from yibao.api.http.tx import handler
from yibao.domain.errors import NotFound
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim, Visit
from yibao.services import accounts, fees
from yibao.services import settlement as svc
from yibao.services.common import find_person
from yibao.services.statements import settlement_owner
from yibao.services.supervision import online as supervision_online
from yibao.store.uow import UnitOfWork


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
    return accounts.institution_level(ctx.read_uow(), ctx.principal.institution)


def _visit_code(ctx: TxContext, mdtrt_id: str) -> tuple[str, int]:
    with ctx.read_uow() as uow:
        visit = uow.settlements.visit(mdtrt_id)
        if visit is None:
            raise NotFound("visit", mdtrt_id)
        return visit.fixmedins_code, visit.person_id


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
    mdtrt_id = inputs.text(data, "mdtrt_id", 40, required=False)
    if institution is not None:
        doc["fixmedins_code"] = institution
        if mdtrt_id is None or doc.get("level") not in (None, ""):
            doc["level"] = registered_level(institution, level(), doc.get("level"))
    if mdtrt_id is None and doc.get("level") is None:
        doc["level"] = level()
    elif mdtrt_id is not None:
        doc.pop("fixmedins_code", None)  # the visit's
    return svc.claim_from_mapping(doc, person=who)


# -------------------------------------------------------------------------------- visits


def registration_of(
    principal: Principal, data: dict[str, Any], level: Callable[[], int | None], today: dt.date
) -> svc.Registration:
    """The visit a 2201 input registers. An institution registers at its own code and
    registered level (``level()``; a different level is refused); staff give both."""
    who = inputs.person_ref(data)
    code = principal.institution or inputs.require_text(data, "fixmedins_code", 40)
    med_type = inputs.require_text(data, "med_type", 12)
    if principal.institution is not None:
        registered = registered_level(code, level(), data.get("level"))
    else:
        registered = inputs.integer(data, "level")
    begin = inputs.date(data, "begntime", default=inputs.date(data, "date", default=today))
    cross = inputs.text(data, "cross_region", 12, required=False) or "none"
    mdtrt_id = inputs.text(data, "mdtrt_id", 40, required=False)
    diagnoses = fees.diagnoses_from(data.get("diseinfo"))
    return svc.Registration(who, code, med_type, registered, begin, cross, mdtrt_id, diagnoses)


def registered_json(visit: Visit, reg: svc.Registration) -> dict[str, Any]:
    """The answer to a 2201."""
    return {
        "mdtrt_id": visit.mdtrt_id,
        "psn_no": str(visit.person_id),
        "fixmedins_code": visit.fixmedins_code,
        "med_type": visit.med_type,
        "level": visit.level,
        "cross_region": visit.cross_region,
        "begntime": visit.begin_date.isoformat(),
        "status": visit.status.value,
        "diseinfo": [
            {"diag_code": d.code, "diag_type": d.diag_type, "maindiag_flag": "1" if i == 0 else "0"}
            for i, d in enumerate(reg.diagnoses)
        ],
    }


@handler("2201", "register a visit (admission)")
def register_2201(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    """One registration; concurrent ones from institutions are registered together
    (``api.serving.batch``)."""
    reg = registration_of(ctx.principal, data, lambda: _institution_level(ctx), ctx.today)
    with ctx.read_uow() as uow:
        person = find_person(uow, reg.who)
    ctx.audit(person_id=person.id, detail="visit registered")
    visit = svc.register_visit(
        ctx.uow(),
        reg.who,
        reg.fixmedins_code,
        reg.med_type,
        reg.level,
        reg.begin_date,
        cross_region=reg.cross_region,
        mdtrt_id=reg.mdtrt_id,
        diagnoses=reg.diagnoses,
    )
    return registered_json(visit, reg)


@handler("2202", "cancel a visit")
def cancel_2202(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
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
def presettle_2206(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    """With ``feedetail`` (and ``diseinfo``, ``oprninfo``, as 2204 takes them): the visit
    previewed with these lines as if uploaded, nothing stored; each line answered as 2204
    answers it (``result``)."""
    claim = claim_of(data, ctx.principal.institution, lambda: _institution_level(ctx))
    if claim.mdtrt_id is not None:
        code, _ = _visit_code(ctx, claim.mdtrt_id)
        _own_institution(ctx, code, f"visit {claim.mdtrt_id}")
    bill = None
    if data.get("feedetail") is not None:
        upload = upload_of(data, ctx.principal.institution)
        bill = fees.preview_upload(ctx.read_uow(), upload, catalogues=ctx.catalogues)
    lines = bill.sums if bill is not None else None
    result = svc.presettle(ctx.read_uow(), claim, lines=lines)
    ctx.audit(person_id=result.person_id, detail="pre-settlement")
    out = present(result.response, result.person_id)
    out["warnings"] = supervision_online.visit_warnings(
        ctx.read_uow(),
        claim.mdtrt_id,
        result.person_id,
        result.answer.pooling_area,
        claim.date,
        bill.live if bill is not None else None,
    )
    if bill is not None:
        out["result"] = results_json(bill.lines)
    return out


@handler("2207", "settlement: stored, funds posted, year-to-date totals moved")
def settle_2207(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    """One settlement; concurrent ones from institutions are settled together
    (``api.serving.batch``)."""
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
def reverse_2208(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    setl_id = inputs.require_text(data, "setl_id", 40)
    on = inputs.date(data, "date", default=ctx.today)
    with ctx.read_uow() as uow:
        code, person_id = settlement_owner(uow, setl_id)
    _own_institution(ctx, code, f"settlement {setl_id}")
    ctx.audit(person_id=person_id, target=f"settlement:{setl_id}", detail="settlement reversed")
    result = svc.reverse(ctx.uow(), setl_id, on=on, request_id=request_id(ctx.principal, ctx.msgid))
    return present(result.response, person_id)
