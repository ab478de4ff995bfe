"""``POST /fsi/api/rsfComIfsService/callService``: the platform's envelope in, its answer out.

The same signature headers as ``/api/v1/tx`` authenticate the caller; ``msgid`` is the same
idempotency key (a national transaction and its yibao alias share the caller's msgids). The
transaction then runs through ``api.http.tx.run_tx`` with the handler ``mapping`` names, so both
routes have one code path. Every refusal is ``infcode`` -1 (HTTP 200) with an ``err_msg`` that
begins with yibao's own code (``[1003] input.data.psn_no: missing``); only an internal error is
a 500 (``app.LastResort``).
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from yibao.api.fsi import mapping, signin
from yibao.api.fsi.envelope import FAILURE, SUCCESS, Envelope, EnvelopeError, answer, parse
from yibao.api.http import audit, errors
from yibao.api.http.auth import Principal, authenticate
from yibao.api.http.deps import State, StateDep
from yibao.api.http.errors import ApiError
from yibao.api.http.textcheck import body_problem
from yibao.api.http.tx import TxRequest, answer_or_raise, run_tx
from yibao.domain.masking import mask_ids_in
from yibao.policy.vocab import FeeLineStatus
from yibao.services import clock, fees
from yibao.store.repositories import AuditEntry
from yibao.store.uow import UnitOfWork

PATH = "/fsi/api/rsfComIfsService/callService"

router = APIRouter()


class FsiAnswer(BaseModel):
    infcode: int = Field(description="0 success, -1 failure (err_msg says why)")
    inf_refmsgid: str | None
    refmsg_time: str
    respond_time: str
    err_msg: str | None
    warn_msg: str | None
    cainfo: str | None = None
    signtype: str | None = None
    output: Any = None


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body, default=str), media_type="application/json")


def _refused(msgid: str | None, received: dt.datetime, code: int, message: str) -> dict[str, Any]:
    return answer(FAILURE, msgid, received, err_msg=f"[{code}] {message}")


@router.post(PATH, response_model=FsiAnswer, tags=["national platform"])
async def call_service(request: Request, state: StateDep) -> Response:
    """One transaction in the national platform's envelope (docs/fsi.md)."""
    received = dt.datetime.now(dt.UTC)
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    answered = await run_in_threadpool(_serve, state, headers, body, received)
    if isinstance(answered, Download):
        return Response(
            answered.content,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(answered.name)}"},
        )
    return _json(answered)


@dataclass(frozen=True)
class Download:
    """9102's answer: the file itself, as the platform answers it (a failure is the usual
    JSON envelope)."""

    name: str
    content: bytes


def _serve(
    state: State, headers: dict[str, str], body: bytes, received: dt.datetime
) -> dict[str, Any] | Download:
    if len(body) > state.settings.max_body_bytes:
        return _refused(None, received, errors.MALFORMED, "request body too large")
    problem = body_problem(body)
    if problem is not None:
        return _refused(
            None,
            received,
            errors.MALFORMED,
            f"malformed request: {problem}, which no text may hold (a lone surrogate or a "
            "control character such as NUL, \\u0000): remove it and send again",
        )
    try:
        who = authenticate(state.engine, state.settings, "POST", PATH, headers, body)
    except ApiError as err:
        return _refused(None, received, err.infcode, err.message)
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _refused(None, received, errors.MALFORMED, f"body: not JSON ({exc})")
    msgid = (
        doc.get("msgid") if isinstance(doc, dict) and isinstance(doc.get("msgid"), str) else None
    )
    try:
        env = parse(doc)
    except EnvelopeError as exc:
        return _refused(msgid, received, errors.MALFORMED, f"{exc.field}: {exc.reason}")
    try:
        return _transaction(state, who, env, body, received)
    except ApiError as err:
        return _refused(env.msgid, received, err.infcode, err.message)


def _transaction(
    state: State, who: Principal, env: Envelope, body: bytes, received: dt.datetime
) -> dict[str, Any] | Download:
    secret = state.settings.api_secret.get_secret_value()
    today = clock.today()
    if env.infno in ("9001", "9002"):
        return _sign(state, who, env, received, secret, today)
    tx = mapping.TRANSACTIONS.get(env.infno)
    if tx is None:
        raise ApiError(
            errors.UNKNOWN_INFNO,
            f"infno: {env.infno} is not a transaction of this service (known: 9001, 9002, "
            f"{', '.join(sorted(mapping.TRANSACTIONS))})",
        )
    try:
        data = tx.to_input(env.input)
        if tx.needs_lines:
            _require_lines(state, who, str(data.get("mdtrt_id")), env.infno)
    except mapping.InputError as exc:
        _audit_refusal(state, who, env, ApiError(errors.INVALID_FIELD, str(exc)))
        raise ApiError(errors.INVALID_FIELD, str(exc)) from None
    except ApiError as err:
        _audit_refusal(state, who, env, err)
        raise
    envelope = TxRequest(
        infno=tx.yibao,
        msgid=env.msgid,
        fixmedins_code=env.fixmedins_code,
        opter=env.opter,
        inf_time=env.inf_time,
        input=data,
    )
    out = run_tx(state.engine, state.settings, who, envelope, body)
    if out["infcode"] != errors.OK:
        message = str(out["err_msg"])
        if out["infcode"] == errors.INVALID_FIELD:
            message = mapping.national_message(tx, message)
        return _refused(env.msgid, received, out["infcode"], message)
    if env.infno == "9102":
        f = out["output"]
        return Download(f["filename"], base64.b64decode(f["content"]))
    try:
        output = tx.to_output(out["output"], env.msgid)
    except (KeyError, TypeError, AttributeError):  # the first answer of a msgid used before
        raise ApiError(
            errors.CONFLICT,
            f"msgid {env.msgid} was already used for another transaction: send a new msgid",
        ) from None
    return answer(SUCCESS, env.msgid, received, output, warn_msg=warn_msg(out["output"]))


def warn_msg(output: Any) -> str | None:
    """The supervision warnings of a pre-settlement (2206/2303) as the envelope's ``warn_msg``:
    one ``feedetl_sn rule: text`` per firing line (``rule: text (detail)`` for a rule over the
    visit), ``; ``-separated."""
    warnings = output.get("warnings") if isinstance(output, dict) else None
    if not warnings:
        return None
    return "; ".join(
        f"{w['feedetl_sn']} {w['rule']}: {w['text']}"
        if w.get("feedetl_sn") is not None
        else f"{w['rule']}: {w['text']} ({w.get('detail', '')})"
        for w in warnings
    )


def _audit_refusal(state: State, who: Principal, env: Envelope, err: ApiError) -> None:
    """The audit entry of a transaction the adapter refused before its handler ran (a failure
    to write it is only logged, ``api.audit.write``)."""
    outcome = "denied" if err.infcode in (errors.FORBIDDEN, errors.NOT_YOURS) else "refused"
    entry = AuditEntry(who.actor, who.role.value, f"tx:{env.infno}", outcome, msgid=env.msgid)
    audit.write(state.engine, [replace(entry, detail=f"[{err.infcode}] {err.message}"[:500])])


def _require_lines(state: State, who: Principal, mdtrt_id: str, infno: str) -> None:
    """A settlement (2207, 2304) of a visit without live fee details is refused, as the
    platform refuses it: upload them (2204, 2301) first."""
    try:
        _, lines = fees.visit_lines(
            UnitOfWork.for_engine(state.engine), mdtrt_id, institution=who.institution
        )
    except Exception as exc:
        err = answer_or_raise(exc)
        raise ApiError(
            err.infcode, err.message if who.sees_identity(None) else mask_ids_in(err.message)
        ) from None
    if not any(line.status is FeeLineStatus.LIVE for line in lines):
        upload = "2301" if infno == "2304" else "2204"
        raise ApiError(
            errors.REFUSED,
            f"input.data.mdtrt_id: visit {mdtrt_id} has no fee details: upload them ({upload}) "
            "before settling",
        )


def _sign(
    state: State,
    who: Principal,
    env: Envelope,
    received: dt.datetime,
    secret: str,
    today: dt.date,
) -> dict[str, Any]:
    """9001 answers the operator's sign_no for today; 9002 the sign-out time. Both audited."""
    code = who.institution or env.fixmedins_code
    node = "signIn" if env.infno == "9001" else "signOut"
    given = env.input.get(node)
    if not isinstance(given, dict):
        raise ApiError(errors.INVALID_FIELD, f"input.{node}: missing: an object (opter_no, ...)")
    if env.infno == "9002":
        why = signin.check(secret, code, env.opter, today, given.get("sign_no"))
        if why is not None:
            raise ApiError(errors.INVALID_FIELD, f"input.signOut.{why}")
    if who.institution is not None and env.fixmedins_code != who.institution:
        raise ApiError(
            errors.NOT_YOURS,
            f"fixmedins_code {env.fixmedins_code} is not the institution that signed the "
            f"request ({who.institution})",
        )
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    when = now.strftime("%Y-%m-%d %H:%M:%S")
    audit.write(
        state.engine,
        [
            AuditEntry(
                who.actor,
                who.role.value,
                f"tx:{env.infno}",
                msgid=env.msgid,
                detail=f"operator {env.opter} signed {'in' if env.infno == '9001' else 'out'}",
            )
        ],
    )
    if env.infno == "9001":
        number = signin.sign_no(secret, code, env.opter, today)
        return answer(
            SUCCESS, env.msgid, received, {"signinoutb": {"sign_time": when, "sign_no": number}}
        )
    return answer(SUCCESS, env.msgid, received, {"signoutoutb": {"sign_time": when}})
