"""Classification of fee detail lines against a catalogue (rules.md §6, back-office.md §1): each
class, the price limit, each restriction, daily and per-stay maxima across lines, rounding half
up, and a visit's sums. Every expected amount is computed by hand in the comment beside it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from yibao.kernel.catalogue import compile_catalogue
from yibao.kernel.classify import (
    REASONS,
    CatalogueTable,
    Lines,
    classify_lines,
    visit_sums,
)
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import PRICE_SCALE, QTY_SCALE, parse_csv
from yibao.policy.vocab import LineReason

CATALOGUE = """\
code,name,kind,class,unit,price_limit,sex,min_age,max_age,min_level,max_per_day,max_per_stay,indication,valid_from,valid_to
A1,class A drug,drug,A,片,,,,,,,,,,
B1,class B drug,drug,B,支,,,,,,,,,,
C1,class C drug,drug,C,片,,,,,,,,,,
STENT,stent,consumable,B,个,800,,,,,,3,,,
BED,bed,service,A,日,50,,,,,1,,,,
FEM,female only,service,A,次,,F,,,,,,,,
KID,children,drug,B,支,,,,14,,,,,,
ADULT,adults,drug,A,片,,,18,,,,,,,
MRI,level 2 and up,service,B,次,,,,,2,,,,,
ALB,albumin,drug,B,瓶,,,,,,2,,限抢救,,
OLD,old price,service,A,次,10,,,,,,,,2024-01-01,2024-12-31
OLD,new price,service,A,次,12,,,,,,,,2025-01-01,
"""
DAY = epoch_days(dt.date(2025, 5, 1))


@pytest.fixture(scope="module")
def table() -> CatalogueTable:
    return compile_catalogue(parse_csv(CATALOGUE))


def classify(table: CatalogueTable, *lines: dict[str, Any]) -> list[dict[str, Any]]:
    """Lines given as {code, qty (units), price (yuan), day, visit, sex, age, level,
    approved}; the answer per line in fen and the reason."""
    n = len(lines)
    ids = table.code_ids([x["code"] for x in lines])
    day = np.array([x.get("day", DAY) for x in lines], dtype=np.int64)
    rows = table.rows(ids, day)
    assert (rows >= 0).all()

    def col(key: str, default: Any, scale: int = 1) -> Any:
        return np.array([round(x.get(key, default) * scale) for x in lines], dtype=np.int64)

    batch = Lines(
        visit=col("visit", 0),
        row=rows,
        day=day,
        quantity=col("qty", 1, QTY_SCALE),
        unit_price=col("price", 1, PRICE_SCALE),
        sex=col("sex", 1),
        age=col("age", 40),
        level=col("level", 3),
        approved=np.array([x.get("approved", False) for x in lines], dtype=np.bool_),
    )
    c = classify_lines(table, batch)
    fields = ("amount", "fully_self_paid", "over_limit", "in_scope", "category_b")
    return [
        {**{f: int(getattr(c, f)[k]) for f in fields}, "reason": REASONS[int(c.reason[k])]}
        for k in range(n)
    ]


def one(table: CatalogueTable, **line: Any) -> dict[str, Any]:
    return classify(table, line)[0]


def test_class_a_is_fully_in_scope(table: CatalogueTable) -> None:
    # 2 × 12.50 yuan = 25.00 yuan = 2500 fen, all in scope, none category B
    assert one(table, code="A1", qty=2, price=12.5) == {
        "amount": 2500, "fully_self_paid": 0, "over_limit": 0, "in_scope": 2500,
        "category_b": 0, "reason": LineReason.CLASS_A,
    }  # fmt: skip


def test_class_b_is_in_scope_as_category_b(table: CatalogueTable) -> None:
    # 3 × 10.00 = 30.00 yuan: in scope, and category B (its pre-payment share is the kernel's)
    assert one(table, code="B1", qty=3, price=10) == {
        "amount": 3000, "fully_self_paid": 0, "over_limit": 0, "in_scope": 3000,
        "category_b": 3000, "reason": LineReason.CLASS_B,
    }  # fmt: skip


def test_class_c_is_fully_self_paid(table: CatalogueTable) -> None:
    # 1 × 99.99 yuan, class C: all 9999 fen self-paid
    assert one(table, code="C1", qty=1, price=99.99) == {
        "amount": 9999, "fully_self_paid": 9999, "over_limit": 0, "in_scope": 0,
        "category_b": 0, "reason": LineReason.CLASS_C,
    }  # fmt: skip


def test_price_above_the_limit_is_over_limit(table: CatalogueTable) -> None:
    # a stent at 900 yuan, limit 800: 100 over the limit, 800 in scope (class B)
    assert one(table, code="STENT", qty=1, price=900) == {
        "amount": 90000, "fully_self_paid": 0, "over_limit": 10000, "in_scope": 80000,
        "category_b": 80000, "reason": LineReason.PRICE_LIMIT,
    }  # fmt: skip
    # at or below the limit nothing is over it
    assert one(table, code="STENT", qty=1, price=800)["over_limit"] == 0
    assert one(table, code="STENT", qty=1, price=700)["reason"] == LineReason.CLASS_B


def test_amounts_round_half_up_once_per_line(table: CatalogueTable) -> None:
    # 0.5 × 0.05 yuan = 0.025 yuan = 2.5 fen -> 3 fen; 0.5 × 0.03 = 1.5 fen -> 2 fen
    assert one(table, code="A1", qty=0.5, price=0.05)["amount"] == 3
    assert one(table, code="A1", qty=0.5, price=0.03)["amount"] == 2
    # 0.5 × 0.02 = 1.0 fen exactly; 0.4 × 0.03 = 1.2 fen -> 1
    assert one(table, code="A1", qty=0.5, price=0.02)["amount"] == 1
    assert one(table, code="A1", qty=0.4, price=0.03)["amount"] == 1
    # 2.5 × 1.234567 yuan = 3.0864175 yuan = 308.64175 fen -> 309
    assert one(table, code="A1", qty=2.5, price=1.234567)["amount"] == 309


def test_over_limit_gives_way_to_the_line_amount(table: CatalogueTable) -> None:
    # bed at 50.005 yuan, limit 50, 0.5 days: amount 25.0025 -> 2500 fen; over limit
    # 0.5 × 0.005 = 0.0025 yuan = 0.25 fen -> 0; in scope 2500
    line = one(table, code="BED", qty=0.5, price=50.005)
    assert (line["amount"], line["over_limit"], line["in_scope"]) == (2500, 0, 2500)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"code": "FEM", "sex": 1}, LineReason.SEX),  # a man billed a women-only item
        ({"code": "KID", "age": 15}, LineReason.AGE),  # max age 14
        ({"code": "ADULT", "age": 17}, LineReason.AGE),  # min age 18
        ({"code": "MRI", "level": 1}, LineReason.LEVEL),  # level 2 and up
        ({"code": "ALB", "approved": False}, LineReason.INDICATION),  # not approved
    ],
)
def test_a_restriction_makes_the_line_fully_self_paid(
    table: CatalogueTable, line: dict[str, Any], reason: LineReason
) -> None:
    # 2 × 60.00 yuan = 12000 fen, all self-paid
    got = one(table, qty=2, price=60, **line)
    assert got == {
        "amount": 12000, "fully_self_paid": 12000, "over_limit": 0, "in_scope": 0,
        "category_b": 0, "reason": reason,
    }  # fmt: skip


@pytest.mark.parametrize(
    "line",
    [
        {"code": "FEM", "sex": 2},
        {"code": "KID", "age": 14},
        {"code": "ADULT", "age": 18},
        {"code": "MRI", "level": 2},
        {"code": "ALB", "approved": True},
    ],
)
def test_within_a_restriction_the_line_is_in_scope(
    table: CatalogueTable, line: dict[str, Any]
) -> None:
    got = one(table, qty=2, price=60, **line)
    assert (got["fully_self_paid"], got["in_scope"]) == (0, 12000)


def test_daily_maximum_across_lines(table: CatalogueTable) -> None:
    # bed: at most 1 day per day. Day 1: 0.5 then 1 -> the second line is 0.5 over: 0.5 × 35
    # = 17.50 self-paid, 17.50 in scope; then 1 more: all over (35.00). Day 2: 1, in scope.
    got = classify(
        table,
        {"code": "BED", "qty": 0.5, "price": 35},
        {"code": "BED", "qty": 1, "price": 35},
        {"code": "BED", "qty": 1, "price": 35},
        {"code": "BED", "qty": 1, "price": 35, "day": DAY + 1},
    )
    assert [(x["fully_self_paid"], x["in_scope"]) for x in got] == [
        (0, 1750), (1750, 1750), (3500, 0), (0, 3500),
    ]  # fmt: skip
    assert [x["reason"] for x in got] == [
        LineReason.CLASS_A, LineReason.DAY_QUANTITY, LineReason.DAY_QUANTITY, LineReason.CLASS_A,
    ]  # fmt: skip


def test_per_stay_maximum_across_lines_and_days_with_a_price_limit(
    table: CatalogueTable,
) -> None:
    # stents: at most 3 a stay, limit 800. Day 1: 2 at 900 -> over limit 2 × 100 = 200 yuan,
    # in scope 1600. Day 2: 2 at 900 -> 1 above the maximum: 900 self-paid; the other: 100
    # over the limit, 800 in scope. Another visit starts again from zero.
    got = classify(
        table,
        {"code": "STENT", "qty": 2, "price": 900},
        {"code": "STENT", "qty": 2, "price": 900, "day": DAY + 1},
        {"code": "STENT", "qty": 1, "price": 900, "visit": 1},
    )
    assert [(x["fully_self_paid"], x["over_limit"], x["in_scope"]) for x in got] == [
        (0, 20000, 160000), (90000, 10000, 80000), (0, 10000, 80000),
    ]  # fmt: skip
    assert got[1]["reason"] == LineReason.STAY_QUANTITY
    assert got[1]["category_b"] == 80000


def test_restricted_lines_do_not_use_up_a_maximum(table: CatalogueTable) -> None:
    # albumin: at most 2 a day, in scope only when approved. 2 unapproved (self-paid, 700
    # yuan), then 2 approved: within the maximum (the self-paid ones do not count), 700 in
    # scope; then 1 more approved: above the maximum, 350 self-paid. Beds of two visits each
    # count from zero.
    got = classify(
        table,
        {"code": "ALB", "qty": 2, "price": 350},
        {"code": "ALB", "qty": 2, "price": 350, "approved": True},
        {"code": "ALB", "qty": 1, "price": 350, "approved": True},
        {"code": "BED", "qty": 1, "price": 35, "visit": 1},
        {"code": "BED", "qty": 1, "price": 35, "visit": 2},
    )
    assert [(x["fully_self_paid"], x["in_scope"]) for x in got] == [
        (70000, 0), (0, 70000), (35000, 0), (0, 3500), (0, 3500),
    ]  # fmt: skip
    assert [x["reason"] for x in got[:3]] == [
        LineReason.INDICATION, LineReason.CLASS_B, LineReason.DAY_QUANTITY,
    ]  # fmt: skip


def test_versions_by_date(table: CatalogueTable) -> None:
    # OLD: limit 10 yuan in 2024, 12 from 2025; a 12-yuan service is over the limit in 2024
    in_2024 = epoch_days(dt.date(2024, 6, 1))
    assert one(table, code="OLD", price=12, day=in_2024)["over_limit"] == 200
    assert one(table, code="OLD", price=12)["over_limit"] == 0
    ids = table.code_ids(["OLD", "OLD", "NOPE"])
    days = np.array([epoch_days(dt.date(2023, 12, 31)), in_2024, DAY])
    rows = table.rows(ids, days)
    assert rows[0] == -1 and rows[1] >= 0 and rows[2] == -1


def test_visit_sums(table: CatalogueTable) -> None:
    # visit 0: class A 25.00 + class C 10.00; visit 1: none; visit 2: stent 900 (limit 800)
    lines = [
        {"code": "A1", "qty": 2, "price": 12.5, "visit": 0},
        {"code": "C1", "qty": 1, "price": 10, "visit": 0},
        {"code": "STENT", "qty": 1, "price": 900, "visit": 2},
    ]
    ids = table.code_ids([x["code"] for x in lines])
    visit = np.array([0, 0, 2])
    batch = Lines(
        visit=visit,
        row=table.rows(ids, np.full(3, DAY)),
        day=np.full(3, DAY),
        quantity=np.array([2, 1, 1]) * QTY_SCALE,
        unit_price=np.array([12_500_000, 10_000_000, 900_000_000]),
        sex=np.ones(3, dtype=np.int64),
        age=np.full(3, 40),
        level=np.full(3, 3),
        approved=np.zeros(3, dtype=np.bool_),
    )
    sums = visit_sums(visit, classify_lines(table, batch), 3)
    assert sums.total.tolist() == [3500, 0, 90000]
    assert sums.fully_self_paid.tolist() == [1000, 0, 0]
    assert sums.over_limit.tolist() == [0, 0, 10000]
    assert sums.category_b.tolist() == [0, 0, 80000]


def test_a_line_too_large_is_found_without_overflow() -> None:
    from yibao.kernel.classify import MAX_LINE_YUAN, line_too_large

    # 10,000,000 yuan = 1 unit × 10^7 yuan is the largest; 1,000,000 units × 1,000,000 yuan
    # would be 10^22 in units, beyond int64, and is found all the same
    q = np.array([1, 1, 1_000_000, 0]) * QTY_SCALE
    p = np.array([MAX_LINE_YUAN, MAX_LINE_YUAN + 1, 1_000_000, 5]) * PRICE_SCALE
    assert line_too_large(q, p).tolist() == [False, True, True, False]
