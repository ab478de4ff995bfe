"""Thin routes: authenticate, authorise, call, present."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from yibao.api.http import audit, errors, inputs
from yibao.api.http.auth import Principal
from yibao.api.http.context import TxContext
from yibao.api.http.deps import PrincipalDep, RawBodyDep, StateDep
from yibao.api.http.errors import ApiError
from yibao.api.http.handlers_person import baseinfo, coverage, require_own
from yibao.api.http.handlers_settlement import owner_or_not_yours, present
from yibao.api.http.tx import TxAnswer, TxRequest, answer_or_raise, dumps, run_tx
from yibao.domain.errors import InvalidField, NotFound, RecordError
from yibao.domain.roles import Role
from yibao.services import access, accounts, capitation, clearing, clock, dip_year
from yibao.services import settlement as svc
from yibao.services.accounts import NewInstitution, NewStaff
from yibao.services.common import find_person
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import UnitOfWork

#: What every route may answer besides its success: the answer envelope (``infcode``,
#: ``err_msg``) with 400 (malformed), 401 (not authenticated), 403 (role or owner), 409 (same
#: msgid in progress) or 500 (internal error; nothing stored). Request validation errors are
#: 400 envelopes, not FastAPI's 422 ``detail`` list.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": TxAnswer, "description": "refused: the answer envelope says why"},
    500: {"model": TxAnswer, "description": "internal error: nothing stored, send again"},
}

router = APIRouter(responses=ERROR_RESPONSES)


def _audit(state_engine: Any, entry: AuditEntry) -> None:
    with Session(state_engine) as session:
        ApiRepository(session).audit(entry)
        session.commit()


def _deny(state: Any, who: Principal, action: str, target: str | None = None) -> None:
    if not who.may(action):
        audit.write(
            state.engine,
            [AuditEntry(who.actor, who.role.value, action, "denied", target=target)],
        )
        who.require(action)


def not_yours(
    engine: Any,
    who: Principal,
    action: str,
    person_id: int | None,
    target: str | None,
    message: str,
) -> ApiError:
    """The refusal of a record that is not the caller's, its audit entry written (a failure
    to write it only logged)."""
    err = ApiError(errors.NOT_YOURS, message)
    entry = AuditEntry(who.actor, who.role.value, action, "denied", person_id, target)
    audit.write(engine, [replace(entry, detail=message[:500])])
    return err


@router.get("/healthz", tags=["service"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/api/v1/tx", response_model=TxAnswer, tags=["transactions"])
def tx(envelope: TxRequest, state: StateDep, who: PrincipalDep, body: RawBodyDep) -> Any:
    """One transaction in the national platform's envelope (infno 1101, 2201, 2202, 2206,
    2207, 2208, 5206, 3201). The same msgid sent again returns the first answer. (Signed 2201s,
    2204s, 2205s, 2402s and 2207s of institutions are answered in batches by
    ``api.serving.fastpath`` before they reach this route.)"""
    return Response(
        dumps(run_tx(state.engine, state.settings, who, envelope, body)),
        media_type="application/json",
    )


# ------------------------------------------------------------------------------ staff login


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    role: str


@router.post("/api/v1/auth/token", response_model=Token, tags=["staff"])
def login(credentials: Login, state: StateDep, _body: RawBodyDep) -> Token:
    """A bearer token for a staff account (or an insured person's account)."""
    ttl = state.settings.token_ttl_seconds
    uow = UnitOfWork.for_engine(state.engine)
    try:
        issued = accounts.log_in(uow, credentials.username, credentials.password, ttl)
    except accounts.LoginRefused as exc:
        err = ApiError(errors.UNAUTHENTICATED, str(exc))
        entry = audit.unauthenticated(f"staff:{exc.username}", "auth:login", err, None, exc.why)
        audit.write(
            state.engine,
            [audit.budgeted(state.settings.refusal_budget(), replace(entry, outcome="denied"))],
        )
        raise err from None
    return Token(access_token=issued.token, expires_in=ttl, role=issued.role)


# ---------------------------------------------------------------------------- person file


@router.get("/api/v1/persons/{psn}", tags=["staff"])
def person_file(psn: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A person's file (by person number or national ID); masked unless the role may see it.
    Every read is written to the audit log."""
    _deny(state, who, "person:read", target=psn)
    ref = inputs.person_ref({"certno": psn} if len(psn) == 18 else {"psn_no": psn})
    ctx = TxContext(state.engine, state.settings, who, "-", "person", "")
    try:
        with ctx.read_uow() as uow:
            try:  # the same refusal for anyone else, registered or not
                require_own(uow, who, ref)
            except ApiError as exc:
                raise not_yours(state.engine, who, "person:read", None, psn, exc.message) from None
            p = find_person(uow, ref)
            today = clock.today()
            out = {"baseinfo": baseinfo(ctx, p, today), **coverage(uow, p, today)}
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(
            who.actor, who.role.value, "person:read", person_id=p.id, target=f"person:{p.id}"
        ),
    )
    return out


# -------------------------------------------------------------------------------- audit log


@router.get("/api/v1/audit", tags=["staff"])
def audit_log(
    state: StateDep,
    who: PrincipalDep,
    person_id: int | None = Query(default=None, ge=1, le=2**62),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """The audit log, newest first (administrators)."""
    _deny(state, who, "audit:read")
    with Session(state.engine) as session:
        rows = ApiRepository(session).audit_log(person_id=person_id, limit=limit)
        return [
            {
                "id": r.id,
                "at": r.at.isoformat(),
                "actor": r.actor,
                "role": r.role,
                "action": r.action,
                "person_id": r.person_id,
                "target": r.target,
                "msgid": r.msgid,
                "outcome": r.outcome,
                "detail": r.detail,
            }
            for r in rows
        ]


# ----------------------------------------------------------------------------- administration


class InstitutionKey(BaseModel):
    code: str
    key_id: str
    key: str = Field(description="shown once: the institution signs its requests with it")


@router.post("/api/v1/admin/institutions", response_model=InstitutionKey, tags=["admin"])
def add_institution(spec: NewInstitution, state: StateDep, who: PrincipalDep) -> InstitutionKey:
    """Register an institution and issue its first key (administrators)."""
    _deny(state, who, "admin:institutions", target=spec.code)
    secret = state.settings.api_secret.get_secret_value()
    uow = UnitOfWork.for_engine(state.engine)
    try:
        issued = accounts.issue_institution(uow, secret, spec, who.actor, who.role.value)
    except InvalidField as exc:  # a check of the body the model cannot make alone (a kind's level)
        raise ApiError(errors.MALFORMED, str(exc)) from None
    except RecordError as exc:
        raise answer_or_raise(exc) from None
    return InstitutionKey(code=issued.code, key_id=issued.key_id, key=issued.key)


@router.post("/api/v1/admin/staff", tags=["admin"])
def add_staff(spec: NewStaff, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """Create a staff (or insured person's) account (administrators)."""
    _deny(state, who, "admin:staff", target=spec.username)
    uow = UnitOfWork.for_engine(state.engine)
    try:
        account = accounts.create_staff(uow, spec, who.actor, who.role.value)
    except RecordError as exc:
        raise answer_or_raise(exc) from None
    return {"username": account.username, "role": account.role, "id": account.id}


_CODE = r"^[A-Za-z0-9_.:\-]{1,32}$"


@router.post("/api/v1/admin/institutions/{code}/keys/{key_id}/revoke", tags=["admin"])
def revoke_key(
    state: StateDep,
    who: PrincipalDep,
    code: str = PathParam(pattern=_CODE),
    key_id: str = PathParam(pattern=_CODE),
) -> dict[str, Any]:
    """Revoke an institution's signing key (administrators): its signed requests are refused
    from now on. Again on a revoked key: nothing changes, ``newly`` is false."""
    _deny(state, who, "admin:institutions", target=f"{code}/{key_id}")
    try:
        done = access.revoke_key(
            UnitOfWork.for_engine(state.engine), code, key_id, who.actor, who.role.value
        )
    except NotFound as exc:
        raise ApiError(errors.NOT_FOUND, f"{exc}: nothing revoked") from None
    at = done.revoked_at.isoformat(timespec="seconds")
    return {"code": code, "key_id": key_id, "revoked_at": at, "newly": done.newly}


@router.post("/api/v1/admin/staff/{username}/tokens/revoke", tags=["admin"])
def revoke_tokens(
    state: StateDep,
    who: PrincipalDep,
    username: str = PathParam(pattern=r"^[A-Za-z0-9_.@\-]{1,64}$"),
) -> dict[str, Any]:
    """Revoke every live bearer token of an account (administrators): its requests are refused
    until it logs in again."""
    _deny(state, who, "admin:staff", target=username)
    try:
        count = access.revoke_tokens(
            UnitOfWork.for_engine(state.engine), username, who.actor, who.role.value
        )
    except NotFound as exc:
        raise ApiError(errors.NOT_FOUND, f"{exc}: nothing revoked") from None
    return {"username": username, "revoked": count}


# ------------------------------------------------------------------------------ settlements


@router.get("/api/v1/settlements/{setl_id}", tags=["settlements"])
def settlement(setl_id: str, state: StateDep, who: PrincipalDep) -> dict[str, Any]:
    """A stored settlement read back (an institution: its own only; an insured person: their
    own only)."""
    _deny(state, who, "settlement:read", target=setl_id)
    if len(setl_id) > 40:
        raise ApiError(errors.INVALID_FIELD, "setl_id: longer than 40 characters")
    uow = UnitOfWork.for_engine(state.engine)
    try:
        with uow:
            code, person_id = owner_or_not_yours(uow, who, setl_id)
        mine = (who.role is not Role.INSTITUTION or code == who.institution) and (
            who.role is not Role.INSURED_PERSON or person_id == who.person_id
        )
        if not mine:
            raise not_yours(
                state.engine,
                who,
                "settlement:read",
                person_id,
                f"settlement:{setl_id}",
                f"settlement {setl_id} is not yours",
            )
        out = present(svc.settlement_of(uow, setl_id), person_id)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(
            who.actor,
            who.role.value,
            "settlement:read",
            person_id=person_id,
            target=f"settlement:{setl_id}",
        ),
    )
    return out


# ------------------------------------------------------------- DIP year-end (DIP 年终清算)


@router.get("/api/v1/dip/{year}", tags=["settlements"])
def dip_year_end(
    state: StateDep,
    who: PrincipalDep,
    year: int = PathParam(ge=1990, le=2200, description="The settled year"),
    area: str = Query(pattern=r"^[0-9]{6}$", description="The pooling area"),
) -> dict[str, Any]:
    """The DIP year-end of a pooling area (``yibao dip settle``): the point value, and every
    institution's points, standard, fund due, advances and settlement. Fund managers and
    administrators only; a year not settled yet is not found."""
    _deny(state, who, "dip:read", target=f"dip:{area}:{year}")
    try:
        found = dip_year.statement(UnitOfWork.for_engine(state.engine), area, year)
        if found is None:
            raise NotFound("DIP year-end", f"{area} {year}")
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "dip:read", target=f"dip:{area}:{year}"),
    )
    return found.as_dict()


@router.get("/api/v1/capitation/{year}", tags=["settlements"])
def capitation_year(
    state: StateDep,
    who: PrincipalDep,
    year: int = PathParam(ge=1990, le=2200, description="The reconciled year"),
    area: str = Query(pattern=r"^[0-9]{6}$", description="The pooling area"),
) -> dict[str, Any]:
    """The capitation year of a pooling area (``yibao dip capitation``): every institution's
    enrolled persons, what is due per capita, what the fund paid claim by claim and the
    difference, with its ledger transaction once posted. Read only (posting is the command's);
    fund managers and administrators only."""
    _deny(state, who, "dip:read", target=f"capitation:{area}:{year}")
    try:
        found = capitation.reconcile(UnitOfWork.for_engine(state.engine), area, year)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(who.actor, who.role.value, "dip:read", target=f"capitation:{area}:{year}"),
    )
    return {
        "area": area,
        "year": year,
        "institutions": [i.as_dict() for i in found],
    }


# ------------------------------------------------------------------- monthly clearing (清算)


@router.get("/api/v1/clearing/{month}", tags=["settlements"])
def clearing_statement(
    state: StateDep,
    who: PrincipalDep,
    month: str = PathParam(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM"),
    institution: str | None = Query(default=None, pattern=_CODE),
) -> dict[str, Any]:
    """The month's settlement with an institution (清算单): its settlements of the month less
    the reversals in the month, what the funds owe it by pooling area, the payment if posted,
    and every line. An institution reads its own statement only (another ``institution`` is
    refused); fund managers and administrators read any institution's, or without
    ``institution`` every institution's summary (no lines)."""
    _deny(state, who, "clearing:read", target=institution)
    if who.role is Role.INSTITUTION:
        if institution is not None and institution != who.institution:
            raise not_yours(
                state.engine,
                who,
                "clearing:read",
                None,
                f"institution:{institution}",
                f"the statement of institution {institution} is not yours",
            )
        institution = who.institution
    try:
        found = clearing.statements(UnitOfWork.for_engine(state.engine), month, institution)
    except Exception as exc:
        raise answer_or_raise(exc) from None
    _audit(
        state.engine,
        AuditEntry(
            who.actor,
            who.role.value,
            "clearing:read",
            target=f"institution:{institution or '*'}",
            detail=f"clearing {month}",
        ),
    )
    if institution is not None:
        return found[0].as_dict()
    return {"month": month, "statements": [s.summary() for s in found]}
