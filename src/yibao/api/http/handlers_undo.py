"""2601 (冲正交易): a HIS that got no answer to a transaction (a timeout) undoes it by its
msgid, whether or not it arrived.

- It arrived and succeeded: a settlement (2207, 2304) is reversed as 2208 reverses it, a
  registration (2201, 2401) cancelled as 2202 cancels it.
- It arrived and was refused: there is nothing to undo.
- It never arrived: its msgid is taken now, with a refusal as its stored answer, so the original
  arriving late is refused rather than carried out after the HIS gave it up.
- It is still running: 4001, send 2601 again in a moment.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError

from yibao.api.http import errors, inputs
from yibao.api.http.context import TxContext
from yibao.api.http.errors import answer
from yibao.api.http.handlers_settlement import cancel_2202, reverse_2208
from yibao.api.http.tx import dumps, handler, in_progress
from yibao.store.repositories import ApiRepository

#: The transactions 2601 undoes (the national numbers and yibao's), and how.
UNDOES = {
    "2207": ("2207", "setl_id", reverse_2208),
    "2304": ("2207", "setl_id", reverse_2208),
    "2201": ("2201", "mdtrt_id", cancel_2202),
    "2401": ("2201", "mdtrt_id", cancel_2202),
}


@handler("2601", "undo a transaction by its msgid (冲正): reverse its settlement or visit")
def undo_2601(ctx: TxContext, data: dict[str, Any]) -> dict[str, Any]:
    omsgid = inputs.require_text(data, "omsgid", 64)
    oinfno = inputs.require_text(data, "oinfno", 8)
    if oinfno not in UNDOES:
        raise inputs.invalid(
            "oinfno", f"{oinfno}: 2601 undoes {', '.join(sorted(UNDOES))}; send the reversal itself"
        )
    if omsgid == ctx.msgid:
        raise inputs.invalid("omsgid", "is this request's own msgid")
    infno, key, undo = UNDOES[oinfno]
    caller = ctx.principal.actor
    out: dict[str, Any] = {"omsgid": omsgid, "oinfno": oinfno}
    with ctx.read_uow() as uow:
        row = ApiRepository(uow.session).stored_answer(caller, omsgid)
        stored = None if row is None else (row.infno, row.infcode, row.response)
    if stored is None:
        _take(ctx, omsgid, infno)
        return {**out, "undone": "not_arrived"}
    if stored[2] is None:
        raise in_progress(omsgid)
    if stored[0] != infno:
        raise inputs.invalid("oinfno", f"msgid {omsgid} was a {stored[0]}, not a {oinfno}")
    if stored[1] != errors.OK:
        ctx.audit(target=f"msgid:{omsgid}", detail="2601: the original was refused")
        return {**out, "undone": "refused_before"}
    original = orjson.loads(stored[2])["output"]
    return {**out, "undone": "reversed", "result": undo(ctx, {key: original[key]})}


def _take(ctx: TxContext, omsgid: str, infno: str) -> None:
    """The original never arrived: its msgid is stored now with a refusal as its answer."""
    message = (
        f"msgid {omsgid} was undone by 2601 (msgid {ctx.msgid}) before it arrived: "
        "send the transaction again with a new msgid"
    )
    ctx.audit(target=f"msgid:{omsgid}", detail="2601: the original had not arrived")
    uow = ctx.uow()
    try:
        with uow:
            ApiRepository(uow.session).store_answer(
                ctx.principal.actor,
                omsgid,
                infno,
                hashlib.sha256(b"2601").hexdigest(),
                errors.REFUSED,
                dumps(answer(errors.REFUSED, omsgid, message, None)),
            )
            uow.commit()
    except IntegrityError:  # the original arrived meanwhile
        raise in_progress(omsgid) from None
