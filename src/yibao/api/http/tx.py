"""``POST /api/v1/tx``: one envelope in, one answer out, at most once per msgid.

The answer to a msgid is stored with the caller (institution or staff account) that sent it;
the same caller sending the same msgid again gets the stored answer and nothing runs. A write
stores its msgid marker and its audit entries in the same database transaction as the write
(``ApiUnitOfWork``), so a retry racing the first attempt cannot run twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from yibao.api.http import audit, errors
from yibao.api.http.auth import Principal
from yibao.api.http.context import TxContext
from yibao.api.http.errors import ApiError, answer
from yibao.api.http.settings import Settings
from yibao.domain.errors import (
    AlreadyExists,
    DuplicateEnrolment,
    EnrolmentStateError,
    ForeignRecord,
    InvalidField,
    NotFound,
    RecordError,
    RequestConflict,
)
from yibao.domain.masking import holds_national_id, mask_ids_deep, mask_ids_in
from yibao.domain.roles import Role
from yibao.domain.text import NOT_IN_IDENTIFIERS, bad_in_identifier
from yibao.policy import ParameterError, UnknownRegion
from yibao.policy.dates import DateError
from yibao.policy.money import AmountError
from yibao.store.repositories import ApiRepository, AuditEntry

log = logging.getLogger("yibao.api")

Handler = Callable[[TxContext, dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}
PURPOSE: dict[str, str] = {}


def handler(infno: str, purpose: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[infno] = fn
        PURPOSE[infno] = purpose
        return fn

    return register


class TxRequest(BaseModel):
    """The national platform's request envelope."""

    model_config = ConfigDict(extra="ignore")

    infno: str = Field(pattern=r"^[0-9]{4}$", description="transaction number, e.g. 2207")
    msgid: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.:\-]+$",
        description="unique message id: the idempotency key",
    )
    fixmedins_code: str = Field(min_length=1, max_length=32, description="institution code")
    opter: str = Field(min_length=1, max_length=64, description="operator (clerk) at the caller")
    inf_time: str = Field(max_length=32, description="time the caller sent it")
    input: dict[str, Any] = Field(default_factory=dict)

    @field_validator("fixmedins_code", "opter")
    @classmethod
    def _identifier(cls, value: str) -> str:
        bad = bad_in_identifier(value)
        if bad is not None:
            raise ValueError(f"contains {bad}: {NOT_IN_IDENTIFIERS}")
        return value


class TxAnswer(BaseModel):
    infcode: int = Field(description="0 success; otherwise an error code (see docs/api.md)")
    inf_refmsgid: str | None = Field(description="the msgid answered")
    err_msg: str | None = Field(description="what went wrong and what to do")
    output: Any = None


def translate(exc: Exception) -> ApiError | None:
    """Domain errors as answers; None for anything unexpected."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidField | AmountError | DateError):  # a field's value refused
        return ApiError(errors.INVALID_FIELD, f"{exc.field}: {exc.reason}")
    if isinstance(exc, NotFound):
        return ApiError(errors.NOT_FOUND, f"{exc}: check the number")
    if isinstance(exc, ForeignRecord):
        return ApiError(errors.NOT_YOURS, str(exc))
    if isinstance(exc, AlreadyExists | DuplicateEnrolment | EnrolmentStateError | RequestConflict):
        return ApiError(errors.CONFLICT, str(exc))
    if isinstance(exc, RecordError):
        return ApiError(errors.REFUSED, str(exc))
    if isinstance(exc, UnknownRegion):
        return ApiError(errors.INVALID_FIELD, exc.public())
    if isinstance(exc, ParameterError):  # the file's name, not the server's folder
        return ApiError(errors.REFUSED, f"policy parameters: {exc.public()}")
    if isinstance(exc, DataError):  # a value the database cannot store (nothing was stored)
        return ApiError(errors.MALFORMED, _data_error(exc))
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        # SQLite: another writer holds the database; nothing of this request was stored.
        return ApiError(errors.IN_PROGRESS, "the database is busy: send the same msgid again")
    extra = EXTRA_TRANSLATORS
    for fn in extra:
        found = fn(exc)
        if found is not None:
            return found
    return None


def _data_error(exc: DataError) -> str:
    """What the database said of a value it cannot store, in its words (its primary message):
    a NUL in a text (PostgreSQL cannot store it), a number out of its column's range, ..."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    said = str(getattr(diag, "message_primary", None) or "")
    if not said or "0x00" in said:
        return (
            "a text field holds a character the database cannot store (such as NUL, \\u0000): "
            "remove it and send again"
        )
    return f"the database cannot store a value of this request ({said}): nothing was stored"


def answer_or_raise(exc: Exception) -> ApiError:
    """``translate``: the answer to a domain error; anything unexpected is raised again."""
    err = translate(exc)
    if err is None:
        raise exc
    return err


#: Translators registered by handler modules for their services' errors.
EXTRA_TRANSLATORS: list[Callable[[Exception], ApiError | None]] = []


def success(principal: Principal, msgid: str, output: Any) -> dict[str, Any]:
    """The answer to a request that succeeded, national IDs masked for callers who may not see
    them (a safety net over what handlers mask)."""
    if not principal.sees_identity(None) and holds_national_id(dumps({"o": output})):
        output = mask_ids_deep(output)  # (the text holds whatever any of its strings holds)
    return answer(errors.OK, msgid, None, output)


def refusal(principal: Principal, exc: Exception) -> ApiError | None:
    """The answer to a request refused by ``exc`` (its message masked for callers who may not
    see national IDs); None for an unexpected error."""
    err = translate(exc)
    if err is None or principal.sees_identity(None):
        return err
    return ApiError(err.infcode, mask_ids_in(err.message))


def refused(entry: AuditEntry, err: ApiError) -> AuditEntry:
    """The audit entry of a refused request."""
    outcome = "denied" if err.infcode in (errors.FORBIDDEN, errors.NOT_YOURS) else "refused"
    return replace(entry, outcome=outcome, detail=err.message[:500])


def dumps(body: dict[str, Any]) -> str:
    return dumps_bytes(body).decode()


def dumps_bytes(body: dict[str, Any]) -> bytes:
    """The body as UTF-8 JSON (``dumps``'s text, encoded)."""
    return orjson.dumps(body, default=str)


def _write_audit(engine: Engine, entry: AuditEntry) -> None:
    """The audit of a refusal or a replay: never fails the request (``api.audit.write``)."""
    audit.write(engine, [entry])


def run_tx(
    engine: Engine,
    settings: Settings,
    principal: Principal,
    envelope: TxRequest,
    raw_body: bytes,
) -> dict[str, Any]:
    """Answer one envelope. Raises ApiError for answers that are not stored (authentication,
    wrong institution in the envelope, a msgid still in progress)."""
    msgid = envelope.msgid
    action = f"tx:{envelope.infno}"
    if principal.role is Role.INSTITUTION and envelope.fixmedins_code != principal.institution:
        _write_audit(
            engine,
            AuditEntry(
                principal.actor,
                principal.role.value,
                action,
                "denied",
                msgid=msgid,
                detail=f"fixmedins_code {envelope.fixmedins_code} is not the caller",
            ),
        )
        raise ApiError(
            errors.NOT_YOURS,
            f"fixmedins_code {envelope.fixmedins_code} is not the institution that signed the "
            f"request ({principal.institution})",
        )
    stored = _again(engine, principal, action, msgid, envelope.infno)
    if stored is not None:
        return stored
    ctx = TxContext(
        engine=engine,
        settings=settings,
        principal=principal,
        msgid=msgid,
        infno=envelope.infno,
        request_sha256=hashlib.sha256(raw_body).hexdigest(),
    )
    fn = HANDLERS.get(envelope.infno)
    try:
        if fn is None:
            raise ApiError(
                errors.UNKNOWN_INFNO,
                f"infno {envelope.infno} is not a transaction of this service (known: "
                f"{', '.join(sorted(HANDLERS))})",
            )
        principal.require(action)
        body = success(principal, msgid, fn(ctx, envelope.input))
    except IntegrityError:
        # A concurrent request with the same msgid committed first.
        again = _again(engine, principal, action, msgid, envelope.infno)
        if again is not None:
            return again
        raise
    except Exception as exc:
        err = refusal(principal, exc)
        if err is None:
            raise
        entries = ctx.audits or [
            AuditEntry(principal.actor, principal.role.value, action, msgid=msgid)
        ]
        ctx.audits = [refused(a, err) for a in entries]
        if err.infcode not in errors.STORABLE:
            for entry in ctx.audits:
                _write_audit(engine, entry)
            raise err from None
        body = answer(err.infcode, msgid, err.message, None)
    return _finish(engine, ctx, body)


def in_progress(msgid: str) -> ApiError:
    """The answer to a msgid whose first request has not finished."""
    return ApiError(
        errors.IN_PROGRESS, f"msgid {msgid} is still being processed: send it again in a moment"
    )


def msgid_reused(msgid: str, first: str, infno: str) -> ApiError:
    """The answer to a msgid sent again for another transaction: a retry returns the first
    answer only to the same transaction (a 2207 under a 2206's msgid would get the preview)."""
    return ApiError(
        errors.CONFLICT,
        f"msgid {msgid} was used for {first}: a {infno} needs a msgid of its own",
    )


def _stored(engine: Engine, caller: str, msgid: str, infno: str) -> dict[str, Any] | None:
    with Session(engine) as session:
        row = ApiRepository(session).stored_answer(caller, msgid)
        if row is None:
            return None
        if row.infno != infno:
            raise msgid_reused(msgid, row.infno, infno)
        if row.response is None:
            raise in_progress(msgid)
        stored: dict[str, Any] = orjson.loads(row.response)
        return stored


def replay_entry(
    principal: Principal,
    action: str,
    msgid: str,
    stored: dict[str, Any] | None,
    refused_as: ApiError | None = None,
) -> AuditEntry:
    """The audit entry of a msgid sent again: its first answer returned (``stored``), or
    refused while the first request is still running (None), or as ``refused_as``."""
    if stored is None:
        detail = "msgid sent again while its first request is still being processed"
        if refused_as is not None and refused_as.infcode != errors.IN_PROGRESS:
            detail = refused_as.message
        return AuditEntry(
            principal.actor, principal.role.value, action, "refused", msgid=msgid, detail=detail
        )
    return AuditEntry(
        principal.actor,
        principal.role.value,
        action,
        msgid=msgid,
        detail=f"msgid sent again: its first answer returned (infcode {stored.get('infcode')})",
    )


def _again(
    engine: Engine, principal: Principal, action: str, msgid: str, infno: str
) -> dict[str, Any] | None:
    """``_stored``, the reply to a msgid sent again audited."""
    try:
        stored = _stored(engine, principal.actor, msgid, infno)
    except ApiError as err:  # still in progress, or another transaction's msgid
        _write_audit(engine, replay_entry(principal, action, msgid, None, err))
        raise
    if stored is not None:
        _write_audit(engine, replay_entry(principal, action, msgid, stored))
    return stored


def _finish(engine: Engine, ctx: TxContext, body: dict[str, Any]) -> dict[str, Any]:
    text = dumps(body)
    try:
        with Session(engine) as session:
            repo = ApiRepository(session)
            repo.store_answer(
                ctx.principal.actor, ctx.msgid, ctx.infno, ctx.request_sha256, body["infcode"], text
            )
            for entry in ctx.audits:
                repo.audit(entry)
            session.commit()
    except IntegrityError:
        again = _again(engine, ctx.principal, ctx.action, ctx.msgid, ctx.infno)
        if again is not None:
            return again
        raise
    return body
