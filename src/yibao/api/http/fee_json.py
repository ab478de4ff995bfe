"""Fee detail lines as the transactions answer them (2204's ``result``, 5204's lines, 2206's
preview) and a 2204 input read as an upload: shared by the fee and settlement handlers and the
batcher."""

from __future__ import annotations

from typing import Any

from yibao.api.http import inputs
from yibao.domain.fees import FeeLine, units_text
from yibao.kernel.classify import PRICE_SCALE, QTY_SCALE
from yibao.policy import fen_to_yuan
from yibao.policy.vocab import ITEM_CLASS_CODES, LINE_REASON_TEXTS, LineReason
from yibao.services import fees
from yibao.services.fees import LineResult

#: Per reason: its code and its text (``memo``); per class: its code (an enum's ``value`` is
#: a slow property, read once here).
_REASONS = {r: (r.value, LINE_REASON_TEXTS[r]) for r in LineReason}
_LEVELS = dict(ITEM_CLASS_CODES)


def classes_json(line: FeeLine) -> dict[str, Any]:
    c = line.classes
    assert c is not None
    reason, memo = _REASONS[c.reason]
    return {
        "fulamt_ownpay_amt": fen_to_yuan(c.fully_self_paid),
        "overlmt_amt": fen_to_yuan(c.over_limit),
        "inscp_scp_amt": fen_to_yuan(c.in_scope),
        "category_b": fen_to_yuan(c.category_b),
        "chrgitm_lv": _LEVELS[c.item_class],
        "reason": reason,
        "memo": memo,
    }


def line_json(line: FeeLine) -> dict[str, Any]:
    return {
        "feedetl_sn": line.feedetl_sn,
        "med_list_codg": line.code,
        "fee_ocur_time": line.fee_date.isoformat(),
        "cnt": units_text(line.quantity, QTY_SCALE, 4),
        "pric": units_text(line.unit_price, PRICE_SCALE, 6),
        "det_item_fee_sumamt": fen_to_yuan(line.amount),
        "hosp_appr_flag": line.approval,
    }


def result_json(r: LineResult) -> dict[str, Any]:
    """One classified line as 2204 answers it: the line, its price limit, its category-B share
    and pre-payment, then its classes."""
    limit = r.price_limit
    return {
        **line_json(r.line),
        "pric_uplmt_amt": None if limit is None else units_text(limit, PRICE_SCALE, 6),
        "selfpay_prop": str(r.self_pay_ratio),
        "preselfpay_amt": fen_to_yuan(r.prepay),
        **classes_json(r.line),
    }


def upload_of(data: dict[str, Any], institution: str | None) -> fees.Upload:
    """The upload a 2204 input asks for (lines parsed by the service)."""
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    diagnoses = fees.diagnoses_from(data.get("diseinfo"))
    procedures = fees.procedures_from(data.get("oprninfo"))
    return fees.Upload(mdtrt_id, data.get("feedetail"), institution, diagnoses, procedures)
