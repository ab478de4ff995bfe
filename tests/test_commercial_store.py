"""Supplementary commercial insurance (惠民保) end to end on SQLite and PostgreSQL: products as
parameters, purchases stored per person and year (bad ones refused with nothing stored), a
settlement whose product pays its share (by hand, over two claims: its deductible, then its
cap), a reversal undoing it, the insurer's receivable on the ledger, the monthly statement
summing to the postings, and the insurer's payment of a month collected once into cash."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.domain.settlement import Claim
from yibao.policy import ParameterError, Policy
from yibao.policy.commercial import products, sale_period
from yibao.services import (
    clearing,
    commercial,
    contributions,
    enrolment,
    ledger,
    registry,
    settlement,
)
from yibao.services.common import policy_for
from yibao.store.commercial_models import CommercialActionRow, CommercialPurchaseRow
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"
#: A product small enough to work by hand: 1000 yuan deductible, 80 %, 3000 yuan cap, on the
#: in-scope remainder; sold from 1 November to 31 March; 15 cooling-off days.
PRODUCT = {
    "name": "测试惠民保",
    "insurer": "INS-A",
    "deductible": 1000,
    "ratio": 0.8,
    "cap": 3000,
    "covers": ["in_scope"],
    "sale_from": "11-01",
    "sale_to": "03-31",
    "cooling_off_days": 15,
}
#: A second insurer's product on the listed self-paid items only: no deductible, 50 %, cap 1000.
LISTED = {**PRODUCT, "insurer": "INS-B", "deductible": 0, "ratio": 0.5, "cap": 1000}
OVERLAY = {"commercial": {"products": {"T1": PRODUCT, "T2": {**LISTED, "covers": ["listed"]}}}}


@cache
def policies(area: str) -> Policy:
    """The area's parameters with the test product."""
    return Policy(policy_for(area).region, overlays=[OVERLAY])


def test_the_shipped_product_and_the_sale_period() -> None:
    shipped = products(Policy("000000"), 2026)["HMB-DEMO"]
    assert (shipped.insurer, shipped.deductible, shipped.cap) == (
        "DEMO-INSURER",
        2000000,
        100000000,
    )
    assert (shipped.sale_from, shipped.sale_to) == (dt.date(2025, 11, 1), dt.date(2026, 3, 31))
    assert sale_period(2025, (1, 1), (12, 31)) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert sale_period(2025, (2, 29), (3, 1))[0] == dt.date(2025, 2, 28)
    t1 = products(policies(AREA), 2025)["T1"]
    assert (t1.deductible, t1.cap, str(t1.ratio), t1.covers) == (
        100000,
        300000,
        "0.8",
        ("in_scope",),
    )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"cap": 0}, r"T1\.cap: must be above 0"),
        ({"insurer": "a b"}, r"T1\.insurer: expected the insurer's code"),
        ({"covers": ["dental"]}, r"T1\.covers: must list in_scope and/or listed"),
        ({"sale_to": "13-01"}, r"T1\.sale_to: '13-01' is not a day of the year"),
        ({"sale_from": 1101}, r"T1\.sale_from: expected a day of the year MM-DD"),
        ({"cooling_off_days": 400}, r"T1\.cooling_off_days: expected 0 to 366 days"),
    ],
)
def test_bad_products_refused(bad: dict[str, Any], message: str) -> None:
    policy = Policy("000000", overlays=[{"commercial": {"products": {"T1": {**PRODUCT, **bad}}}}])
    with pytest.raises(ParameterError, match=message):
        products(policy, 2025)


def _employee(uow: UnitOfWork, n: int) -> str:
    """An employee since 2024-01-01 with 2024's months paid: entitled in 2025."""
    who = registry.add_person(uow, nid(n, dt.date(1970, 3, 3)), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 13):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    return who


def _rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        bought = conn.scalar(select(func.count()).select_from(CommercialPurchaseRow))
        actions = conn.scalar(select(func.count()).select_from(CommercialActionRow))
    return int(bought or 0), int(actions or 0)


def _settle(uow: UnitOfWork, who: str, on: dt.date, total: int, **more: int) -> Any:
    claim = Claim(
        person=who,
        date=on,
        total=total,
        med_type="inpatient",
        level=2,
        use_account=False,
        fixmedins_code="H36010001",
        **more,
    )
    return settlement.settle(uow, claim, policies=policies)


def _balance(uow: UnitOfWork, kind: AccountKind) -> int:
    with uow:
        ref = AccountRef.fund(kind, AREA)
        account = uow.ledger.balances([ref]).get(ref)
        return account.natural_balance if account is not None else 0


def _receivable(uow: UnitOfWork) -> int:
    return _balance(uow, AccountKind.COMMERCIAL_RECEIVABLE)


def _cash(uow: UnitOfWork) -> int:
    return _balance(uow, AccountKind.CASH)


def test_buy_settle_reverse_and_the_statement(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    bought = commercial.buy(uow, who, "T1", actor="clerk", policies=policies)
    # sold for 2025 from 2024-11-01 to 2025-03-31; bought in the year: covers from the next day
    assert (bought.year, bought.insurer, bought.covers_from, bought.status) == (
        2025,
        "INS-A",
        dt.date(2025, 1, 11),
        "active",
    )
    monkeypatch.setenv("YIBAO_TODAY", "2025-07-31")
    # the day it was bought is not covered: no commercial_pay in the answer
    before = _settle(uow, who, dt.date(2025, 1, 10), 100000).answer
    assert "commercial_pay" not in before.amounts
    assert before.amounts["psn_cash_pay"] == 100000 - 42500  # 1000 − (1000 − 500) × 85 %
    settlement.reverse(uow, before.setl_id)  # the admission freed again

    # employee, inpatient, level 2 (national): deductible 500, 85 %.
    # claim 1, 10000: basic (10000 − 500) × 85 % = 8075; left in scope 1925;
    # the product: (1925 − its deductible 1000) × 80 % = 740; cash 10000 − 8075 − 740 = 1185
    one = _settle(uow, who, dt.date(2025, 3, 1), 1000000).answer
    assert [one.amounts[k] for k in ("hifp_pay", "commercial_pay", "psn_cash_pay")] == [
        807500,
        74000,
        118500,
    ]
    assert one.amounts["psn_part_amt"] == 74000 + 118500  # commercial + account + aid + cash
    # claim 2, 30000, the second admission (deductible 500 × 0.5 = 250): basic
    # (30000 − 250) × 85 % = 25287.50; left 4712.50 × 80 % = 3770, cut to the cap's room
    # 3000 − 740 = 2260; cash 4712.50 − 2260 = 2452.50
    two = _settle(uow, who, dt.date(2025, 6, 1), 3000000).answer
    assert [two.amounts[k] for k in ("hifp_pay", "commercial_pay", "psn_cash_pay")] == [
        2528750,
        226000,
        245250,
    ]
    assert _receivable(uow) == 74000 + 226000
    year = settlement.year_to_date(uow, who, 2025)
    assert (year["com.base"], year["com.paid"]) == (192500 + 471250, 300000)

    reversed_ = settlement.reverse(uow, two.setl_id)
    assert reversed_.response["commercial_pay"] == "-2260.00"
    assert _receivable(uow) == 74000
    # claim 3, 10000, takes the freed second admission (deductible 250): basic 9750 × 85 % =
    # 8287.50; left 1712.50 × 80 % = 1370, within the room 3000 − 740 = 2260 again
    three = _settle(uow, who, dt.date(2025, 7, 1), 1000000).answer
    assert three.amounts["commercial_pay"] == 137000
    assert _receivable(uow) == 74000 + 137000
    assert ledger.reconcile(uow).ok

    # the statements: March 740; June 2260 paid (reversed in July); July 1370 − 2260
    march = commercial.statement(uow, "2025-03")
    assert (march["total"], march["posted"], march["balanced"]) == ("740.00", "740.00", True)
    assert march["insurers"][0]["insurer"] == "INS-A"
    assert commercial.statement(uow, "2025-06")["total"] == "2260.00"
    july = commercial.statement(uow, "2025-07")
    line = july["insurers"][0]["lines"][0]
    assert (line["settlements"], line["paid"], line["reversals"], line["reversed"]) == (
        1,
        "1370.00",
        1,
        "2260.00",
    )
    assert (july["total"], july["posted"], july["balanced"]) == ("-890.00", "-890.00", True)
    assert commercial.statement(uow, "2025-02")["insurers"] == []

    # the monthly clearing pays the institution what the funds and the product paid (medfee −
    # cash): March 8075 + 740; its two accounts are then at zero for the month
    paid = clearing.pay(uow, "2025-03", "H36010001", on=dt.date(2025, 4, 5))
    assert [(c.posted, c.statement.totals.owed) for c in paid] == [(True, 807500 + 74000)]
    assert ledger.reconcile(uow).ok

    # the insurer pays March's 740 into the area's cash: the receivable falls by it, once
    cash_before = _cash(uow)
    got = commercial.collect(uow, "2025-03", "INS-A", on=dt.date(2025, 4, 10))
    assert [(c.insurer, c.area, c.amount, c.posted) for c in got] == [("INS-A", AREA, 74000, True)]
    assert (_receivable(uow), _cash(uow)) == (137000, cash_before + 74000)
    again = commercial.collect(uow, "2025-03", on=dt.date(2025, 4, 11))
    assert [(c.amount, c.posted, c.transaction, c.paid_on) for c in again] == [
        (74000, False, got[0].transaction, dt.date(2025, 4, 10))
    ]
    march = commercial.statement(uow, "2025-03")
    assert [(e["owed"], e["collected"], e["outstanding"]) for e in march["insurers"]] == [
        ("740.00", "740.00", "0.00")
    ]
    # the collection, dated in April, is not a settlement of April's: April still balances
    april = commercial.statement(uow, "2025-04")
    assert (april["insurers"], april["total"], april["posted"], april["balanced"]) == (
        [],
        "0.00",
        "0.00",
        True,
    )
    # refused, changing nothing: a month not over, a day after today, an insurer's bad name
    with pytest.raises(InvalidField, match="month: 2025-07 is not over on 2025-07-31"):
        commercial.collect(uow, "2025-07", on=dt.date(2025, 7, 31))
    with pytest.raises(InvalidField, match="on: 2025-08-01 is after today"):
        commercial.collect(uow, "2025-06", on=dt.date(2025, 8, 1))
    with pytest.raises(InvalidField, match="insurer: contains"):
        commercial.collect(uow, "2025-06", "INS\u202eA", on=dt.date(2025, 7, 5))
    with pytest.raises(InvalidField, match="month: must be YYYY-MM"):
        commercial.collect(uow, "2025-13")
    assert (_receivable(uow), _cash(uow)) == (137000, cash_before + 74000)
    # July's net is negative (a reversal of June's): nothing to collect; June not yet paid
    monkeypatch.setenv("YIBAO_TODAY", "2025-08-05")
    assert commercial.collect(uow, "2025-07") == []
    june = commercial.statement(uow, "2025-06")["insurers"][0]
    assert (june["collected"], june["outstanding"]) == ("0.00", "2260.00")
    assert ledger.reconcile(uow).ok
    monkeypatch.setenv("YIBAO_TODAY", "2025-07-31")

    # paid settlements in force: not cancelled (and past its cooling-off days anyway)
    with pytest.raises(InvalidField, match=r"purchase: purchase .* covers since 2025-01-11"):
        commercial.cancel(uow, bought.id, policies=policies)
    assert [(a["action"], a["actor"]) for a in commercial.history(uow, bought.id)] == [
        ("buy", "clerk")
    ]


def test_bad_purchases_refused_and_nothing_stored(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 5)
    never = registry.add_person(uow, nid(7, dt.date(1980, 1, 1)), "未参保7").label
    with pytest.raises(InvalidField, match="product: a product code is required"):
        commercial.buy(uow, who, "", policies=policies)
    with pytest.raises(InvalidField, match="product: GOLD is not a product sold in 360100"):
        commercial.buy(uow, who, "GOLD", policies=policies)
    with pytest.raises(InvalidField, match="year: T1 is sold for 2026 from 2025-11-01"):
        commercial.buy(uow, who, "T1", 2026, policies=policies)
    with pytest.raises(InvalidField, match="year: must be a year from 2000 to 2100"):
        commercial.buy(uow, who, "T1", 9999, policies=policies)
    with pytest.raises(InvalidField, match=r"person: .* not insured"):
        commercial.buy(uow, never, "T1", policies=policies)
    with pytest.raises(NotFound):
        commercial.buy(uow, "110101199001011234", "T1", policies=policies)
    monkeypatch.setenv("YIBAO_TODAY", "2025-04-01")
    with pytest.raises(InvalidField, match=r"year: T1 is sold for 2025 .* not on 2025-04-01"):
        commercial.buy(uow, who, "T1", 2025, policies=policies)
    assert _rows(engine) == (0, 0)

    monkeypatch.setenv("YIBAO_TODAY", "2024-12-01")  # for 2025, before it starts
    made = commercial.buy(uow, who, "T1", policies=policies)
    assert (made.year, made.covers_from) == (2025, dt.date(2025, 1, 1))
    with pytest.raises(AlreadyExists, match=r"purchase of T1 .* for 2025"):
        commercial.buy(uow, who, "T1", 2025, policies=policies)
    assert _rows(engine) == (1, 1)
    cancelled = commercial.cancel(
        uow, made.id, actor="clerk", reason="changed mind", policies=policies
    )
    assert (cancelled.status, cancelled.cancelled_on) == ("cancelled", dt.date(2024, 12, 1))
    with pytest.raises(InvalidField, match=r"purchase: purchase .* is cancelled"):
        commercial.cancel(uow, made.id, policies=policies)
    with pytest.raises(NotFound):
        commercial.cancel(uow, 999999, policies=policies)
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-05")
    again = commercial.buy(uow, who, "T1", 2025, policies=policies)  # bought again after it
    assert [p.status for p in commercial.listing(uow, who, policies=policies)] == [
        "cancelled",
        "active",
    ]
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-20")  # covers, but within 15 cooling-off days
    assert again.covers_from == dt.date(2025, 1, 6)
    assert commercial.cancel(uow, again.id, policies=policies).status == "cancelled"
    assert _rows(engine) == (2, 4)
    with pytest.raises(InvalidField, match="month: must be YYYY-MM"):
        commercial.statement(uow, "2025-13")
    assert ledger.reconcile(uow).ok


def test_cli_products_buy_list_cancel_statement(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-12-01")
    from typer.testing import CliRunner

    from yibao.cli import app
    from yibao.store.db import make_engine

    engine = make_engine(db_url)
    try:
        who = _employee(UnitOfWork.for_engine(engine), 9)
    finally:
        engine.dispose()

    def run(*args: str, db: bool = True) -> Any:
        more = ["--db", db_url] if db else []
        return CliRunner().invoke(app, ["commercial", *args, *more, "--json"])

    listed = run("products", "--area", AREA, "--year", "2026", db=False)
    assert listed.exit_code == 0, listed.stderr
    assert [p["code"] for p in json.loads(listed.stdout)["products"]] == ["HMB-DEMO"]
    bad_area = run("products", "--area", "36", db=False)
    assert bad_area.exit_code == 2 and "area: must be" in json.loads(bad_area.stderr)["error"]
    # today is in the sale period for 2026: the year defaults to it
    made = run("buy", "--person", who, "--product", "HMB-DEMO", "--operator", "clerk")
    assert made.exit_code == 0, made.stderr
    bought = json.loads(made.stdout)
    assert (bought["year"], bought["covers_from"], bought["insurer"]) == (
        2026,
        "2026-01-01",
        "DEMO-INSURER",
    )
    twice = run("buy", "--person", who, "--product", "HMB-DEMO")
    assert twice.exit_code != 0 and "already exists" in json.loads(twice.stderr)["error"]
    missing = run("buy", "--person", who)
    assert missing.exit_code == 2
    assert "product: a product code is required" in json.loads(missing.stderr)["error"]
    mine = json.loads(run("list", "--person", who).stdout)["purchases"]
    assert [p["id"] for p in mine] == [bought["id"]]
    cancelled = run("cancel", str(bought["id"]), "--reason", "moved")
    assert json.loads(cancelled.stdout)["status"] == "cancelled"
    empty = json.loads(run("statement", "--month", "2025-11").stdout)
    assert (empty["insurers"], empty["total"], empty["balanced"]) == ([], "0.00", True)
    bad_month = run("statement", "--month", "11-2025")
    assert bad_month.exit_code == 2 and "month: must be YYYY-MM" in bad_month.stderr
    collected = run("collect", "--month", "2025-11", "--on", "2025-12-01")
    assert collected.exit_code == 0, collected.stderr
    assert json.loads(collected.stdout)["collected"] == []
    early = run("collect", "--month", "2025-12")
    assert early.exit_code == 2 and "month: 2025-12 is not over" in early.stderr
    text = CliRunner().invoke(app, ["commercial", "collect", "--month", "2025-11", "--db", db_url])
    assert text.exit_code == 0 and "2025-11: nothing to collect" in text.stdout


def test_a_product_on_the_listed_self_paid_items(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 11)
    commercial.buy(uow, who, "T2", policies=policies)
    monkeypatch.setenv("YIBAO_TODAY", "2025-05-31")
    with pytest.raises(InvalidField, match=r"listed_self_paid: 3000\.00 is larger than"):
        _settle(
            uow, who, dt.date(2025, 5, 2), 1000000, fully_self_paid=200000, listed_self_paid=300000
        )
    # 10000 with 2000 fully self-paid, 1500 of it on T2's list: basic (8000 − 500) × 85 % =
    # 6375; the in-scope remainder 1125 is not covered; 1500 × 50 % = 750; cash 10000 − 6375 −
    # 750 = 2875
    one = _settle(
        uow, who, dt.date(2025, 5, 2), 1000000, fully_self_paid=200000, listed_self_paid=150000
    ).answer
    assert [one.amounts[k] for k in ("hifp_pay", "commercial_pay", "psn_cash_pay")] == [
        637500,
        75000,
        287500,
    ]
    may = commercial.statement(uow, "2025-05")
    assert [(e["insurer"], e["owed"]) for e in may["insurers"]] == [("INS-B", "750.00")]
    assert may["balanced"]
    assert ledger.reconcile(uow).ok


def test_a_claim_states_its_listed_self_paid_items() -> None:
    base = {"person": "x", "date": "2025-05-02", "med_type": "inpatient", "level": 2}
    doc = {**base, "total": "1000.00", "fully_self_paid": "200", "listed_self_paid": "150.50"}
    claim = settlement.claim_from_mapping(doc)
    assert claim.listed_self_paid == 15050
    plain = settlement.claim_from_mapping({**base, "total": "1000.00"})
    assert plain.listed_self_paid == 0  # not given
    assert (
        claim.digest() != settlement.claim_from_mapping({**doc, "listed_self_paid": "1"}).digest()
    )
    with pytest.raises(InvalidField, match="listed_self_paid"):
        settlement.claim_from_mapping({**doc, "listed_self_paid": "-1"})
