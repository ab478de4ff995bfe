"""The settlement service on SQLite and PostgreSQL: settle / reverse round trips to the fen,
idempotent request ids, refused input that changes nothing, waiting periods settled as
self-paid, family mutual aid, and a ledger that reconciles after settlements and reversals."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.domain.errors import (
    InvalidField,
    NotFound,
    RequestConflict,
    SettlementRefused,
)
from yibao.domain.settlement import Claim, SettlementStatus
from yibao.kernel.settle import REASONS, WAITING
from yibao.services import contributions, enrolment, ledger, registry, settlement, yearend
from yibao.store.models import (
    AccountRow,
    BenefitStateRow,
    LedgerTransactionRow,
    PostingRow,
    SettlementLayerRow,
    SettlementRow,
    VisitRow,
)
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"


def employee(uow: UnitOfWork, n: int, months: int = 6) -> str:
    """An employee enrolled 2024-01-01 who paid ``months`` months (160 yuan/month to the
    personal account): entitled from 2024-02-01."""
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, months + 1):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    return who


def resident(uow: UnitOfWork, n: int, birth: dt.date = dt.date(2010, 5, 5)) -> str:
    """A resident first insured for 2025 (paid 2024-11-01): a 3-month wait, entitled from
    2025-04-01."""
    who = registry.add_person(uow, nid(n, birth), f"居民{n}").label
    enrolment.enrol(uow, who, "resident", AREA, dt.date(2023, 10, 1))
    contributions.pay_resident(uow, who, 2025, dt.date(2024, 11, 1))
    return who


def inpatient(who: str, total: int, on: dt.date = dt.date(2025, 5, 10), **kw: Any) -> Claim:
    return Claim(person=who, date=on, total=total, med_type="inpatient", level=2, **kw)


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything a settlement may change."""
    with engine.connect() as conn:
        return {
            # accounts opened on first use with nothing in them count as absent
            "balances": {
                c: b
                for c, b in conn.execute(select(AccountRow.code, AccountRow.balance)).all()
                if b
            },
            "states": {
                (p, y): s for p, y, s in conn.execute(select(BenefitStateRow.person_id,
                    BenefitStateRow.year, BenefitStateRow.state)).all()
                if s
            },
            "counts": [
                conn.scalar(select(func.count()).select_from(t))
                for t in (SettlementRow, SettlementLayerRow, VisitRow, LedgerTransactionRow,
                          PostingRow)
            ],
        }  # fmt: skip


def balances(engine: Engine) -> defaultdict[str, int]:
    return defaultdict(int, snapshot(engine)["balances"])


def person_id(uow: UnitOfWork, who: str) -> int:
    with uow:
        pid = uow.persons.require(who).id
    assert pid is not None
    return pid


def test_settle_and_reverse_round_trip(uow: UnitOfWork, engine: Engine) -> None:
    emp = employee(uow, 1, months=12)
    first = settlement.settle(uow, inpatient(emp, 200_000, dt.date(2025, 3, 1)), "r-1")
    before = snapshot(engine)
    state_before = settlement.year_to_date(uow, emp, 2025)
    assert state_before["admissions"] == 1

    claim = inpatient(emp, 5_000_000, category_b=500_000, fully_self_paid=100_000)
    preview = settlement.presettle(uow, claim)
    assert snapshot(engine) == before  # a pre-settlement stores nothing
    s = settlement.settle(uow, claim, "r-2")
    assert s.amounts == preview.amounts and s.layers == preview.layers
    a = s.amounts
    assert s.response["admission_no"] == 2
    # By hand (employee, level 2, national defaults). The first admission: (2000 - 500) x 85%
    # = 1275.00, its 725.00 from the account (12 months x 160.00 = 1920.00), 1195.00 left.
    # This one, the second admission: half the deductible, 250.00; 10% of category B (5000.00)
    # pre-paid by the person, 500.00; policy scope 50000 - 1000 - 500 = 48500.00;
    # (48500 - 250) x 85% = 41012.50; the person's 8987.50: 1195.00 from the account, the rest
    # in cash. The basic cap (744660.00) is far: no large-amount payment.
    assert first.amounts["hifp_pay"] == 1_275_00 and first.amounts["acct_pay"] == 725_00
    assert (a["preselfpay_amt"], a["inscp_scp_amt"], a["act_pay_dedc"]) == (
        500_00,
        48_500_00,
        250_00,
    )
    assert (a["hifp_pay"], a["hifob_pay"], a["fund_pay_sumamt"]) == (41_012_50, 0, 41_012_50)
    assert (a["acct_pay"], a["psn_cash_pay"]) == (1_195_00, 8_987_50 - 1_195_00)
    assert a["medfee_sumamt"] == a["fund_pay_sumamt"] + a["acct_pay"] + a["psn_cash_pay"]
    assert s.response["setl_id"] == s.setl_id and s.response["psn_no"] == emp
    assert sum(layer.payment for layer in s.layers) == a["fund_pay_sumamt"]

    moved = balances(engine)
    pid = person_id(uow, emp)
    assert moved[f"personal:{pid}"] - before["balances"].get(f"personal:{pid}", 0) == a["acct_pay"]
    assert (
        moved[f"employee_pooling:{AREA}"] - before["balances"].get(f"employee_pooling:{AREA}", 0)
        == a["hifp_pay"]
    )
    # The institution (none named: "unknown") is credited with the medical fees and debited
    # with the cash it collected; the funds owe it the difference, 42207.50 (41012.50 from the
    # pooling fund, 1195.00 from the account) until the month is cleared: cash does not move.
    was = before["balances"]
    assert was.get("institution_payable:unknown", 0) - moved["institution_payable:unknown"] == (
        5_000_000
    )
    assert moved["institution_collected:unknown"] - was.get("institution_collected:unknown", 0) == (
        8_987_50 - 1_195_00
    )
    assert moved[f"cash:{AREA}"] == was.get(f"cash:{AREA}", 0)
    assert settlement.year_to_date(uow, emp, 2025) != state_before
    assert ledger.reconcile(uow).ok

    assert s.setl_id is not None
    r = settlement.reverse(uow, s.setl_id, on=dt.date(2025, 5, 11), request_id="rev-1")
    replay = settlement.reverse(uow, s.setl_id, on=dt.date(2025, 5, 12), request_id="rev-1")
    assert replay.replayed and replay.response == r.response
    assert r.transaction_id is not None and r.response["fund_pay_sumamt"] == (
        "-" + s.response["fund_pay_sumamt"]
    )
    after = snapshot(engine)
    assert after["balances"] == before["balances"]  # to the fen
    assert after["states"] == before["states"]
    assert settlement.year_to_date(uow, emp, 2025) == state_before
    stored = settlement.settlement_of(uow, s.setl_id)
    assert stored["status"] == "reversed" and stored["reversed_on"] == "2025-05-11"
    assert ledger.reconcile(uow).ok

    # The next admission is the second again: the reversed one no longer counts.
    again = settlement.settle(uow, claim, "r-3")
    assert again.response["admission_no"] == 2 and again.amounts == s.amounts
    assert first.setl_id != again.setl_id


def test_same_request_id_is_settled_once(uow: UnitOfWork, engine: Engine) -> None:
    emp = employee(uow, 1)
    claim = inpatient(emp, 1_000_000)
    s1 = settlement.settle(uow, claim, "msg-0001")
    mid = snapshot(engine)
    s2 = settlement.settle(uow, claim, "msg-0001")
    assert s2.replayed and not s1.replayed
    assert s2.setl_id == s1.setl_id and s2.response == s1.response
    assert s2.amounts == s1.amounts and s2.layers == s1.layers
    assert snapshot(engine) == mid
    with pytest.raises(RequestConflict):
        settlement.settle(uow, inpatient(emp, 1_000_001), "msg-0001")
    assert snapshot(engine) == mid


def test_bad_input_changes_nothing(uow: UnitOfWork, engine: Engine) -> None:
    emp = employee(uow, 1)
    s = settlement.settle(uow, inpatient(emp, 1_000_000), "ok")
    assert s.setl_id is not None
    settlement.reverse(uow, s.setl_id, on=dt.date(2025, 6, 1))
    before = snapshot(engine)

    with pytest.raises(NotFound):
        settlement.settle(uow, inpatient(nid(99), 1000), "x1")
    with pytest.raises(InvalidField) as info:
        inpatient(emp, -100)
    assert info.value.field == "total"
    with pytest.raises(InvalidField) as info:
        inpatient(emp, 1000, over_limit=-1)
    assert info.value.field == "over_limit"
    with pytest.raises(InvalidField) as info:
        inpatient(emp, 1000, fully_self_paid=600, category_b=500)
    assert info.value.field == "total" and "larger than total" in info.value.reason
    with pytest.raises(InvalidField) as info:
        Claim(person=emp, date=dt.date(2025, 5, 1), total=1000, med_type="inpatient", level=4)
    assert info.value.field == "level"
    with pytest.raises(InvalidField) as info:
        settlement.claim_from_mapping(
            {"person": emp, "date": "2025-05-01", "med_type": "inpatient", "level": 1,
             "total": "12.345"}
        )  # fmt: skip
    assert info.value.field == "total"
    with pytest.raises(InvalidField) as info:
        settlement.claim_from_mapping(
            {"person": emp, "date": "2025-5-1", "med_type": "inpatient", "level": 1, "total": 1}
        )
    assert info.value.field == "date"
    with pytest.raises(SettlementRefused, match="not enrolled on 2023-05-01"):
        settlement.settle(uow, inpatient(emp, 1000, dt.date(2023, 5, 1)), "x2")
    with pytest.raises(NotFound):
        settlement.reverse(uow, "S-NO-SUCH", on=dt.date(2025, 6, 1))
    with pytest.raises(SettlementRefused, match="already reversed"):
        settlement.reverse(uow, s.setl_id, on=dt.date(2025, 6, 2))
    with pytest.raises(NotFound):
        settlement.settle(uow, Claim(person=emp, date=dt.date(2025, 5, 1), total=1, mdtrt_id="V?"))
    assert snapshot(engine) == before
    # the request ids of refused requests are still free
    assert settlement.settle(uow, inpatient(emp, 1000), "x2").setl_id is not None


def test_waiting_period_is_self_paid_with_the_reason(uow: UnitOfWork, engine: Engine) -> None:
    res = resident(uow, 3)
    before = snapshot(engine)
    claim = Claim(person=res, date=dt.date(2025, 2, 1), total=150_000, med_type="outpatient",
                  level=1)  # fmt: skip
    s = settlement.settle(uow, claim, "w-1")
    a = s.amounts
    assert a["fund_pay_sumamt"] == 0 and a["psn_cash_pay"] == a["medfee_sumamt"] == 150_000
    assert s.reasons[0].startswith(REASONS[WAITING]) and "2025-04-01" in s.reasons[0]
    assert s.response["entitled_from"] == "2025-04-01"
    # the funds pay nothing; the institution's two accounts record the 1500.00 it collected
    assert s.transaction_id is not None
    moved = snapshot(engine)["balances"]
    assert moved.pop("institution_payable:unknown") == -150_000
    assert moved.pop("institution_collected:unknown") == 150_000
    assert moved == before["balances"]
    later = settlement.settle(uow, inpatient(res, 3_000_000, dt.date(2025, 4, 2)), "w-2")
    # after the wait, level 2: (30000 - 400) x 75% = 22200.00
    assert later.amounts["hifp_pay"] == 22_200_00
    assert not any("waiting" in r for r in later.reasons)

    # unpaid coverage: self-paid with its own reason
    other = registry.add_person(uow, nid(5, dt.date(2011, 1, 1)), "未缴").label
    enrolment.enrol(uow, other, "resident", AREA, dt.date(2024, 10, 1))
    unpaid = settlement.settle(uow, inpatient(other, 100_000), "w-3")
    assert unpaid.amounts["fund_pay_sumamt"] == 0
    assert "not paid" in unpaid.reasons[0]


def test_visits_register_cancel_and_settle_once(uow: UnitOfWork, engine: Engine) -> None:
    emp = employee(uow, 1)
    v = settlement.register_visit(uow, emp, "H360100001", "inpatient", 3, dt.date(2025, 5, 1))
    assert v.status.value == "registered"
    claim = Claim(person=emp, date=dt.date(2025, 5, 9), total=800_000, mdtrt_id=v.mdtrt_id)
    s = settlement.settle(uow, claim, "v-1")
    assert s.mdtrt_id == v.mdtrt_id and s.response["level"] == 3
    assert s.response["fixmedins_code"] == "H360100001"
    with pytest.raises(SettlementRefused, match="already settled"):
        settlement.settle(uow, claim, "v-2")
    with pytest.raises(SettlementRefused, match="reverse it first"):
        settlement.cancel_visit(uow, v.mdtrt_id, dt.date(2025, 5, 10))
    with pytest.raises(InvalidField) as info:
        settlement.settle(
            uow,
            Claim(person=emp, date=dt.date(2025, 5, 9), total=1, mdtrt_id=v.mdtrt_id, level=1),
            "v-3",
        )
    assert info.value.field == "level"
    assert s.setl_id is not None
    settlement.reverse(uow, s.setl_id, on=dt.date(2025, 5, 10))
    assert settlement.cancel_visit(uow, v.mdtrt_id, dt.date(2025, 5, 10)).status.value == (
        "cancelled"
    )
    with pytest.raises(SettlementRefused, match="cancelled"):
        settlement.settle(uow, claim, "v-4")


def test_mutual_aid_and_assistance_post_and_reverse(uow: UnitOfWork, engine: Engine) -> None:
    parent = employee(uow, 1, months=12)
    child = resident(uow, 4)
    registry.add_relation(uow, parent, child, "child")
    registry.authorise_mutual_aid(uow, parent, child, dt.date(2025, 1, 1))
    poor = resident(uow, 6, dt.date(1950, 3, 3))
    registry.add_group(uow, poor, "dibao", dt.date(2024, 1, 1))
    before = snapshot(engine)

    s = settlement.settle(uow, inpatient(child, 2_000_000), "m-1")
    a = s.amounts
    # the child (resident, level 2): (20000 - 400) x 75% = 14700.00 from the basic fund; of
    # the 5300.00 left the parent's account (12 x 160.00 = 1920.00) pays all it holds
    assert (a["hifp_pay"], a["acct_mulaid_pay"], a["acct_pay"]) == (14_700_00, 1_920_00, 0)
    assert a["psn_cash_pay"] == 5_300_00 - 1_920_00
    parent_id = person_id(uow, parent)
    moved = balances(engine)
    key = f"personal:{parent_id}"
    assert moved[key] - before["balances"].get(key, 0) == a["acct_mulaid_pay"]
    with uow:
        row = uow.session.scalars(select(SettlementRow)).one()
        assert row.mutual_aid_link_id is not None

    p = settlement.settle(uow, inpatient(poor, 6_000_000), "m-2")
    # dibao, level 2, no wait (an exempt group): basic (60000 - 400) x 75% = 44700.00;
    # critical illness for the vulnerable: deductible 0.5 x 20657.00 = 10328.50, ratio
    # 60% + 5%: (15300.00 - 10328.50) x 65% = 3231.475 -> 3231.48; medical assistance
    # (dibao: no deductible, 70%): (60000 - 44700 - 3231.48) x 70% = 8447.964 -> 8447.96
    assert (p.amounts["hifp_pay"], p.amounts["hifmi_pay"]) == (44_700_00, 3_231_48)
    assert p.amounts["maf_pay"] == 8_447_96
    assert p.amounts["psn_cash_pay"] == 60_000_00 - 44_700_00 - 3_231_48 - 8_447_96
    assert [layer.fund_pay_type for layer in p.layers][:2] == ["390100", "390200"]
    assert "610100" in {layer.fund_pay_type for layer in p.layers}
    assert ledger.reconcile(uow).ok

    for done in (s, p):
        assert done.setl_id is not None
        settlement.reverse(uow, done.setl_id, on=dt.date(2025, 6, 1))
    after = snapshot(engine)
    assert after["balances"] == before["balances"] and after["states"] == before["states"]
    assert ledger.reconcile(uow).ok


def test_ledger_reconciles_after_settlements_and_reversals(uow: UnitOfWork, engine: Engine) -> None:
    emps = [employee(uow, n, months=3) for n in (1, 3)]
    ress = [resident(uow, n) for n in (5, 7)]
    start = balances(engine)
    done = []
    for i in range(12):
        who = (emps + ress)[i % 4]
        on = dt.date(2025, 4 + i % 8, 1 + i)
        kind = ("inpatient", "outpatient", "pharmacy")[i % 3]
        total = 50_000 * (i + 1) ** 2
        claim = Claim(person=who, date=on, total=total, med_type=kind, level=1 + i % 3,
                      category_b=10_000 * i)  # fmt: skip
        done.append(settlement.settle(uow, claim, f"rq-{i}"))
    for s in done[::3]:
        assert s.setl_id is not None
        settlement.reverse(uow, s.setl_id, on=dt.date(2025, 12, 31))
    report = ledger.reconcile(uow)
    assert report.ok, report.as_dict()
    in_force = [s for s in done if s not in done[::3]]
    paid = sum(
        s.amounts["fund_pay_sumamt"] + s.amounts["acct_pay"] + s.amounts["acct_mulaid_pay"]
        for s in in_force
    )
    # what the funds owe the institution: its fees (credit, negative) less its counter cash
    end = balances(engine)
    owed = -end["institution_payable:unknown"] - end["institution_collected:unknown"]
    assert owed == paid and end[f"cash:{AREA}"] == start[f"cash:{AREA}"]
    with uow:
        assert uow.settlements.count(SettlementStatus.REVERSED) == 4
        assert uow.settlements.count(SettlementStatus.SETTLED) == 8


def test_year_end_reads_settlements_for_zero_claim_years(uow: UnitOfWork) -> None:
    a, b = resident(uow, 3), resident(uow, 5)
    s = settlement.settle(uow, inpatient(a, 1_000_000), "y-1")
    settlement.settle(uow, inpatient(b, 1_000_000), "y-2")
    assert s.amounts["fund_pay_sumamt"] == 7_200_00 and s.setl_id is not None  # (10000-400)x75%
    settlement.reverse(uow, s.setl_id, on=dt.date(2025, 6, 1))
    counts = yearend.close_year(uow, 2025)
    assert counts.zero_claim == 1
    ids = {w: person_id(uow, w) for w in (a, b)}  # outside the unit of work: no nesting
    with uow:
        rows = {
            c.person_id: c.zero_claim
            for c in (uow.coverage.get(ids[w], 2025) for w in (a, b))
            if c is not None
        }
    assert rows == {ids[a]: True, ids[b]: False}


runner = CliRunner()


def run(db_url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if code == 0 else json.loads(result.stderr)


def test_settlement_commands(db_url: str, uow: UnitOfWork, tmp_path: Path) -> None:
    emp = employee(uow, 1)
    v = run(db_url, "visit", "register", emp, "--institution", "H1", "--med-type", "inpatient",
            "--level", "2", "--on", "2025-05-01")  # fmt: skip
    claim = tmp_path / "claim.yaml"
    claim.write_text(
        f"person: '{emp}'\nmdtrt_id: {v['mdtrt_id']}\ndate: 2025-05-03\ntotal: 12000.50\n"
        "category_b: 1000\nrequest_id: cli-1\n",
        encoding="utf-8",
    )
    preview = run(db_url, "presettle", str(claim))
    assert preview["setl_id"] is None
    s = run(db_url, "settle", str(claim))
    assert s["mdtrt_id"] == v["mdtrt_id"] and s["medfee_sumamt"] == "12000.50"
    assert s["psn_no"] == emp[:6] + "*" * 8 + emp[-4:]  # masked unless --show-identity
    assert {k: s[k] for k in ("fund_pay_sumamt", "acct_pay")} == {
        k: preview[k] for k in ("fund_pay_sumamt", "acct_pay")
    }
    again = run(db_url, "settle", str(claim))
    assert again["setl_id"] == s["setl_id"] and again["replayed"]
    opts = run(db_url, "settle", "--person", emp, "--date", "2025-06-01", "--med-type",
               "pharmacy", "--level", "1", "--total", "88.80", "--no-account")  # fmt: skip
    # pharmacy is paid as outpatient: 88.80 is under its 300.00 annual deductible, all cash
    assert (opts["fund_pay_sumamt"], opts["acct_pay"], opts["psn_cash_pay"]) == (
        "0.00",
        "0.00",
        "88.80",
    )
    r = run(db_url, "reverse", s["setl_id"], "--on", "2025-05-04")
    assert r["status"] == "reversed"
    err = run(db_url, "reverse", s["setl_id"], "--on", "2025-05-05", code=2)
    assert "already reversed" in err["error"]
    bad = run(db_url, "settle", "--person", emp, "--date", "2025-06-01", "--med-type",
              "pharmacy", "--level", "1", "--total", "-5", code=2)  # fmt: skip
    assert bad["error"].startswith("total:")
    bad = run(db_url, "presettle", "--person", emp, "--date", "2025-06-01", "--med-type",
              "pharmacy", "--level", "7", "--total", "5", code=2)  # fmt: skip
    assert bad["error"].startswith("level:")
    bad = run(db_url, "settle", "--person", emp, "--date", "2025-06-01", "--med-type",
              "pharmacy", "--level", "1", "--total", "5", "--over-limit", "6", code=2)  # fmt: skip
    assert bad["error"].startswith("total:") and "larger than total" in bad["error"]
    bad = run(db_url, "reverse", "S-UNKNOWN", code=2)
    assert "not found" in bad["error"]
    assert run(db_url, "ledger", "check")["ok"]
