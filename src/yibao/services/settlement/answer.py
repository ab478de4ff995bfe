"""A settlement's answer as JSON (yuan strings, national field names): written once from the
typed ``SettlementAnswer`` (stored with the settlement and sent as is) and read back typed.
The stored JSON and the API's outputs are exactly these mappings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from yibao.domain.fees import LineSums
from yibao.domain.settlement import Layer, SettlementAnswer, SettlementStatus
from yibao.kernel.schema import SETTLEMENT_FIELDS
from yibao.policy import fen_to_yuan, yuan_to_fen

#: The answer's amounts: the settlement fields, then the cross-region pre-payment.
ANSWER_AMOUNTS = (*SETTLEMENT_FIELDS, "cross_prepay")
#: What a supplementary commercial product (惠民保) paid: in an answer only when one covered it.
COMMERCIAL = "commercial_pay"


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def answer_json(answer: SettlementAnswer) -> dict[str, Any]:
    """The answer as stored and sent (key order included); ``fee_lines`` only for a visit
    settled from its fee lines."""
    out: dict[str, Any] = {
        "setl_id": answer.setl_id,
        "mdtrt_id": answer.mdtrt_id,
        "psn_no": answer.psn_no,
        "fixmedins_code": answer.fixmedins_code,
        "setl_time": answer.date.isoformat(),
        "med_type": answer.med_type,
        "level": answer.level,
        "cross_region": answer.cross_region,
        "scheme": answer.scheme,
        "pooling_area": answer.pooling_area,
        "admission_no": answer.admission_no,
        **_amounts(answer.amounts),
        "setldetail": [
            {
                "fund_pay_type": layer.fund_pay_type,
                "fund_name": layer.fund_name,
                "base": fen_to_yuan(layer.base),
                "fund_payamt": fen_to_yuan(layer.payment),
                "text": layer.text,
            }
            for layer in answer.layers
        ],
        "reasons": list(answer.reasons),
        "entitled_from": _day(answer.entitled_from),
        "entitlement_rule": answer.entitlement_rule,
        "incentive_raise": fen_to_yuan(answer.incentive_raise),
        "acct_balance_after": fen_to_yuan(answer.acct_balance_after),
    }
    if answer.fee_lines is not None:
        out["fee_lines"] = fee_lines_json(answer.fee_lines)
    return out


def _amounts(amounts: Mapping[str, int]) -> dict[str, str]:
    """The answer's amounts (yuan); ``commercial_pay`` (惠民保) before ``acct_pay`` when the
    person had a product covering the claim."""
    out: dict[str, str] = {}
    for f in ANSWER_AMOUNTS:
        if f == "acct_pay" and COMMERCIAL in amounts:
            out[COMMERCIAL] = fen_to_yuan(amounts[COMMERCIAL])
        out[f] = fen_to_yuan(amounts[f])
    return out


def fee_lines_json(sums: LineSums) -> dict[str, Any]:
    """A visit's live fee lines summed, as a settlement answer lists them (``fee_lines``): how
    many, their amount, fully self-paid, over-limit, in-scope and category-B parts (yuan). Each
    line's classification is in the 2204 answer and the 5204 query."""
    return {
        "count": sums.count,
        "det_item_fee_sumamt": fen_to_yuan(sums.amount),
        "fulamt_ownpay_amt": fen_to_yuan(sums.fully_self_paid),
        "overlmt_amt": fen_to_yuan(sums.over_limit),
        "inscp_scp_amt": fen_to_yuan(sums.in_scope),
        "category_b": fen_to_yuan(sums.category_b),
    }


def _fee_lines_of(doc: Mapping[str, Any] | None) -> LineSums | None:
    if doc is None:
        return None
    return LineSums(
        int(doc["count"]),
        yuan_to_fen(doc["det_item_fee_sumamt"]),
        yuan_to_fen(doc["fulamt_ownpay_amt"]),
        yuan_to_fen(doc["overlmt_amt"]),
        yuan_to_fen(doc["inscp_scp_amt"]),
        yuan_to_fen(doc["category_b"]),
    )


def answer_from_json(doc: Mapping[str, Any]) -> SettlementAnswer:
    """A stored answer read back typed (the inverse of ``answer_json``)."""
    entitled_from = doc.get("entitled_from")
    return SettlementAnswer(
        setl_id=doc["setl_id"],
        mdtrt_id=doc["mdtrt_id"],
        psn_no=str(doc["psn_no"]),
        fixmedins_code=doc.get("fixmedins_code"),
        date=dt.date.fromisoformat(doc["setl_time"]),
        med_type=doc["med_type"],
        level=int(doc["level"]),
        cross_region=doc["cross_region"],
        scheme=doc["scheme"],
        pooling_area=doc["pooling_area"],
        admission_no=int(doc.get("admission_no") or 0),
        amounts={f: yuan_to_fen(doc[f]) for f in ANSWER_AMOUNTS}
        | ({COMMERCIAL: yuan_to_fen(doc[COMMERCIAL])} if COMMERCIAL in doc else {}),
        layers=tuple(
            Layer(
                d["fund_pay_type"],
                d["fund_name"],
                yuan_to_fen(d["base"]),
                yuan_to_fen(d["fund_payamt"]),
                d.get("text", ""),
            )
            for d in doc.get("setldetail", [])
        ),
        reasons=tuple(doc.get("reasons", [])),
        entitled_from=None if entitled_from is None else dt.date.fromisoformat(entitled_from),
        entitlement_rule=doc["entitlement_rule"],
        incentive_raise=yuan_to_fen(doc["incentive_raise"]),
        acct_balance_after=yuan_to_fen(doc["acct_balance_after"]),
        fee_lines=_fee_lines_of(doc.get("fee_lines")),
    )


def reversal_json(
    answer: SettlementAnswer, on: dt.date, amounts: Mapping[str, int]
) -> dict[str, Any]:
    """A reversal's answer (2208): the settlement's ids and its amounts (fen) negated."""
    return {
        "setl_id": answer.setl_id,
        "mdtrt_id": answer.mdtrt_id,
        "psn_no": answer.psn_no,
        "status": SettlementStatus.REVERSED.value,
        "reversed_on": on.isoformat(),
        **{f: fen_to_yuan(-amounts[f]) for f in SETTLEMENT_FIELDS},
        **(
            {COMMERCIAL: fen_to_yuan(-answer.amounts[COMMERCIAL])}
            if COMMERCIAL in answer.amounts
            else {}
        ),
    }
