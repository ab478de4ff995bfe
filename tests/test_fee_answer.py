"""2204's answer of a line (``fee_json.result_json``, written out field by field) is 5204's
fields of the line (``line_json``), its price limit and category-B share, then its
classification (``classes_json``), in that order; of many lines (``results_json``: each
distinct number's text made once), each line's (hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from yibao.api.http.fee_json import classes_json, line_json, result_json, results_json
from yibao.domain.fees import FeeLine, FeeLineClass, units_text
from yibao.policy import fen_to_yuan
from yibao.policy.catalogue import PRICE_SCALE
from yibao.policy.vocab import ItemClass, LineReason
from yibao.services.fees import LineResult

fen = st.integers(0, 10**9)


@given(
    st.text(min_size=1, max_size=30),
    st.integers(1, 10**10),
    st.integers(0, 10**12),
    fen,
    st.sampled_from(list(ItemClass)),
    st.sampled_from(list(LineReason)),
    st.tuples(fen, fen, fen, fen),
    st.none() | st.integers(0, 10**12),
    st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.15")]),
    fen,
)
def test_result_json_is_line_share_and_classes(
    sn: str,
    quantity: int,
    price: int,
    amount: int,
    item_class: ItemClass,
    reason: LineReason,
    parts: tuple[int, int, int, int],
    limit: int | None,
    ratio: Decimal,
    prepay: int,
) -> None:
    classes = FeeLineClass(item_class, *parts, reason)
    line = FeeLine(sn, "XA01", quantity, price, amount, dt.date(2025, 5, 1), "1", classes=classes)
    r = LineResult(line, limit, ratio, prepay)
    expected: dict[str, Any] = {
        **line_json(line),
        "pric_uplmt_amt": None if limit is None else units_text(limit, PRICE_SCALE, 6),
        "selfpay_prop": str(r.self_pay_ratio),
        "preselfpay_amt": fen_to_yuan(prepay),
        **classes_json(line),
    }
    found = result_json(r)
    assert list(found.items()) == list(expected.items())


def _expected(r: LineResult) -> list[tuple[str, Any]]:
    limit = r.price_limit
    return list(
        {
            **line_json(r.line),
            "pric_uplmt_amt": None if limit is None else units_text(limit, PRICE_SCALE, 6),
            "selfpay_prop": str(r.self_pay_ratio),
            "preselfpay_amt": fen_to_yuan(r.prepay),
            **classes_json(r.line),
        }.items()
    )


#: few distinct values, negative ones too: texts made once and shared must be each line's own
few = st.sampled_from([0, 1, 99, 100, 12345, -1, -250])


Spec = tuple[int, int, int, tuple[int, int, int, int], int | None, Decimal, int, dt.date]


def _result(k: int, spec: Spec) -> LineResult:
    quantity, price, amount, parts, limit, ratio, prepay, day = spec
    classes = FeeLineClass(ItemClass.B, *parts, LineReason.CLASS_B)
    line = FeeLine(f"SN{k}", "XA01", quantity, price, amount, day, "0", classes=classes)
    return LineResult(line, limit, ratio, prepay)


@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 10_000, 25_000]),
            st.sampled_from([0, 1, 3_500_000, 10**12]),
            few,
            st.tuples(few, few, few, few),
            st.none() | st.sampled_from([0, 3_000_000, -5]),
            st.sampled_from([Decimal("0.1"), Decimal("0.10"), Decimal(0)]),
            few,
            st.sampled_from([dt.date(2025, 5, 1), dt.date(2025, 5, 2)]),
        ),
        max_size=12,
    )
)
def test_results_json_is_each_lines_answer(specs: list[Spec]) -> None:
    results = [_result(k, spec) for k, spec in enumerate(specs)]
    found = results_json(results)
    assert [list(f.items()) for f in found] == [_expected(r) for r in results]


@given(st.integers(-(10**12), 10**12))
def test_fen_to_yuan(value: int) -> None:
    sign = "-" if value < 0 else ""
    assert fen_to_yuan(value) == f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"
    assert Decimal(fen_to_yuan(value)) == Decimal(value) / 100


def test_kept_texts_are_bounded() -> None:
    from yibao.api.http.fee_json import _Texts

    texts: _Texts[int] = _Texts(fen_to_yuan, most=2)
    assert [texts[v] for v in (5, 150, 5, 12345, 7)] == ["0.05", "1.50", "0.05", "123.45", "0.07"]
    assert len(texts) <= 2
