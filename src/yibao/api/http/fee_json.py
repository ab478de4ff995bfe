"""Fee detail lines as the transactions answer them (2204's ``result``, 5204's lines, 2206's
preview) and a 2204 input read as an upload: shared by the fee and settlement handlers and the
batcher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

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
K = TypeVar("K")


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
    and pre-payment, then its classes (``results_json`` of one line)."""
    return results_json([r])[0]


class _Texts(dict[K, str]):
    """Texts of values, each made (``text``) the first time it is asked for, kept for the
    requests after (``most`` at most: then emptied): lines share most of their numbers (zeros,
    the catalogue's prices, an amount that is also in scope). Entries are never changed, so
    threads may share it."""

    def __init__(self, text: Callable[[K], str], most: int = 20_000) -> None:
        super().__init__()
        self.text = text
        self.most = most

    def __missing__(self, key: K) -> str:
        if len(self) >= self.most:
            self.clear()
        value = self[key] = self.text(key)
        return value


def _quantity_text(quantity: int) -> str:
    return units_text(quantity, QTY_SCALE, 4)


def _price_text(price: int) -> str:
    return units_text(price, PRICE_SCALE, 6)


#: The texts of amounts (fen), quantities, prices and days answered.
_YUAN: _Texts[int] = _Texts(fen_to_yuan)
_CNT: _Texts[int] = _Texts(_quantity_text)
_PRIC: _Texts[int] = _Texts(_price_text)
_DAYS: _Texts[dt.date] = _Texts(dt.date.isoformat, 2_000)


def results_json(results: Sequence[LineResult]) -> list[dict[str, Any]]:
    """Classified lines as 2204 (and 2206) answer them: per line the fields of ``line_json``,
    its price limit, category-B share and pre-payment, then those of ``classes_json``, in that
    order; each distinct number's text made once (``units_text``, ``fen_to_yuan``) and kept
    (``_Texts``)."""
    yuan, cnt, pric, days = _YUAN, _CNT, _PRIC, _DAYS
    out = []
    for r in results:
        line = r.line
        c = line.classes
        assert c is not None
        limit = r.price_limit
        reason, memo = _REASONS[c.reason]
        out.append(
            {
                "feedetl_sn": line.feedetl_sn,
                "med_list_codg": line.code,
                "fee_ocur_time": days[line.fee_date],
                "cnt": cnt[line.quantity],
                "pric": pric[line.unit_price],
                "det_item_fee_sumamt": yuan[line.amount],
                "hosp_appr_flag": line.approval,
                "pric_uplmt_amt": None if limit is None else pric[limit],
                "selfpay_prop": str(r.self_pay_ratio),
                "preselfpay_amt": yuan[r.prepay],
                "fulamt_ownpay_amt": yuan[c.fully_self_paid],
                "overlmt_amt": yuan[c.over_limit],
                "inscp_scp_amt": yuan[c.in_scope],
                "category_b": yuan[c.category_b],
                "chrgitm_lv": _LEVELS[c.item_class],
                "reason": reason,
                "memo": memo,
            }
        )
    return out


def upload_of(data: dict[str, Any], institution: str | None) -> fees.Upload:
    """The upload a 2204 input asks for (lines parsed by the service)."""
    mdtrt_id = inputs.require_text(data, "mdtrt_id", 40)
    diagnoses = fees.diagnoses_from(data.get("diseinfo"))
    procedures = fees.procedures_from(data.get("oprninfo"))
    return fees.Upload(mdtrt_id, data.get("feedetail"), institution, diagnoses, procedures)
