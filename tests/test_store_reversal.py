"""Reversing a settlement that is not the person's latest (SQLite and PostgreSQL).

The rule (docs/store.md, "Reversal"): after a reversal the person's year-to-date state is what
the settlements still in force contributed — the admission ranks they hold, their deductible and
critical-illness bases, and what each layer paid (later settlements stay as they were paid) — and
a capped layer's room for the next claim is exactly ``cap − paid``, the remaining cap 5206
reports. The reversed admission's rank is free again: the next admission takes it and bears its
repeat-admission deductible, so the year's deductibles are those of the admissions in force.

Parameters: 360100 (Nanchang) inherits the national defaults; in 2025 the resident basic cap is
6 × 41,314 = 247,884 yuan (inpatient level 2: deductible 400, repeat-admission factors 1, ½, 0,
ratio 75%; outpatient: ratio 50%, cap 400), the critical-illness deductible ½ × 41,314 =
20,657 yuan (base: what the basic fund left within policy scope), ratio 60%, cap 300,000; the
employee inpatient level 2 deductible 500, ratio 85%.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import employee, inpatient, person_id, resident
from yibao.api.http.handlers_statements import caps
from yibao.domain.settlement import Claim, Settlement, SettlementStatus
from yibao.kernel.report import FUND_CODES
from yibao.services import ledger, settlement
from yibao.store.uow import UnitOfWork

YEAR = 2025
BASIC_CAP = 247_884_00  # 6 × 41,314 yuan
OUTPATIENT_CAP = 400_00
CI_DEDUCTIBLE = 20_657_00  # ½ × 41,314 yuan
CI_CAP = 300_000_00
FACTORS = (100, 50, 0)  # repeat-admission factors, percent
CI_CODE = FUND_CODES["critical_illness"][0]


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def half_up(numerator: int, denominator: int) -> int:
    return (numerator + denominator // 2) // denominator


def remaining(uow: UnitOfWork, who: str) -> dict[str, str]:
    """What 5206 reports as the remaining caps (``handlers_statements.caps``), by fund."""
    with uow:
        person = uow.persons.require(who)
        found = caps(uow, person, dt.date(YEAR, 7, 1))["caps"]
    return {c.get("cap_group", c["fund"]): c["remaining"] for c in found}


def test_reversing_an_earlier_settlement_frees_exactly_the_cap_it_used(uow: UnitOfWork) -> None:
    """Issue 10 item 4: A 150,000, B 300,000 (reaching the basic cap), A reversed: 5206 says
    112,200 remains and a new 300,000 claim C gets all of it (it got 23,034 when B's uncapped
    share stayed in the running total)."""
    res = resident(uow, 1)
    a = settlement.settle(uow, inpatient(res, 150_000_00, dt.date(YEAR, 5, 1)))
    b = settlement.settle(uow, inpatient(res, 300_000_00, dt.date(YEAR, 5, 10)))
    a_basic = (150_000_00 - 400_00) * 75 // 100  # first admission, full deductible
    assert a.amounts["hifp_pay"] == a_basic == 112_200_00
    b_raw = (300_000_00 - 200_00) * 75 // 100  # second admission, half the deductible
    assert b.amounts["hifp_pay"] == BASIC_CAP - a_basic == 135_684_00 < b_raw
    b_ci = (300_000_00 - b.amounts["hifp_pay"]) * 60 // 100  # A's base passed the deductible
    assert b.amounts["hifmi_pay"] == b_ci

    settlement.reverse(uow, a.setl_id, on=dt.date(YEAR, 6, 1))
    left = BASIC_CAP - b.amounts["hifp_pay"]
    assert left == 112_200_00
    assert remaining(uow, res) == {
        "basic": "112200.00",
        "outpatient": "400.00",
        "critical_illness": yuan(CI_CAP - b_ci),
    }
    state = settlement.year_to_date(uow, res, YEAR)
    assert state["admissions"] == 2 and state["admissions.free"] == 0b1  # B holds rank 2
    assert state["cap:basic.paid"] == state["cap:basic.raw"] == b.amounts["hifp_pay"]
    assert state["ci.base"] == 300_000_00 - b.amounts["hifp_pay"]  # B's
    assert state["ci.paid"] == state["ci.raw"] == b_ci

    c = settlement.settle(uow, inpatient(res, 300_000_00, dt.date(YEAR, 7, 1)))
    c_raw = (300_000_00 - 400_00) * 75 // 100  # A's rank, free again: the full deductible
    assert c.amounts["hifp_pay"] == min(c_raw, left) == 112_200_00
    assert c.response["admission_no"] == 1
    c_ci = (300_000_00 - 112_200_00) * 60 // 100  # B's base is above the CI deductible
    assert c.amounts["hifmi_pay"] == c_ci == 112_680_00
    assert c.amounts["psn_cash_pay"] == 300_000_00 - 112_200_00 - 112_680_00
    assert remaining(uow, res)["basic"] == "0.00"
    # B stays as it was paid
    assert settlement.settlement_of(uow, b.setl_id)["hifp_pay"] == "135684.00"


def test_reversing_the_first_admission_frees_its_deductible_rank(uow: UnitOfWork) -> None:
    """Issue 10 item 4, the deductible case: A and B are admissions 1 and 2 (deductibles 500 and
    250), A is reversed. B keeps the half deductible it was settled with; the next admission C
    takes the first rank A left, and bears its full deductible: the year's deductibles are
    500 + 250, those of two admissions (it paid C 212.50 more when C took the second rank
    again). D after it is the third admission (factor 0)."""
    emp = employee(uow, 1, months=12)
    a = settlement.settle(uow, inpatient(emp, 2_000_00, dt.date(YEAR, 3, 1)))
    b = settlement.settle(uow, inpatient(emp, 2_000_00, dt.date(YEAR, 3, 10)))
    assert a.amounts["act_pay_dedc"] == 500_00 and b.amounts["act_pay_dedc"] == 250_00
    settlement.reverse(uow, a.setl_id, on=dt.date(YEAR, 4, 1))
    state = settlement.year_to_date(uow, emp, YEAR)
    assert (state["admissions"], state["admissions.free"]) == (2, 0b1)
    c = settlement.settle(uow, inpatient(emp, 50_000_00, dt.date(YEAR, 5, 1)))
    assert c.response["admission_no"] == 1
    assert c.amounts["act_pay_dedc"] == 500_00
    assert c.amounts["hifp_pay"] == half_up((50_000_00 - 500_00) * 85, 100) == 42_075_00
    assert settlement.settlement_of(uow, b.setl_id)["act_pay_dedc"] == "250.00"
    d = settlement.settle(uow, inpatient(emp, 10_000_00, dt.date(YEAR, 6, 1)))
    assert (d.response["admission_no"], d.amounts["act_pay_dedc"]) == (3, 0)
    state = settlement.year_to_date(uow, emp, YEAR)
    assert state["admissions"] == 3 and "admissions.free" not in state
    assert ledger.reconcile(uow).ok


# ------------------------------------------------------------------------- property test

_people = itertools.count(100)


def _resident(uow: UnitOfWork) -> str:
    n = next(_people)
    return resident(uow, n, dt.date(2010, 5, 5) + dt.timedelta(days=n // 900))


def _implied_state(in_force: list[Settlement]) -> dict[str, int]:
    """The year-to-date state the settlements in force imply, from their stored answers (not
    from the state deltas the service keeps): admissions counted, bases summed, what each layer
    paid summed, and each layer's running total equal to what it paid. ``admissions`` is the
    highest admission rank held, ``admissions.free`` a bit for each rank below it not held."""
    state: dict[str, int] = {}

    def add(key: str, value: int) -> None:
        state[key] = state.get(key, 0) + value

    ranks = {s.response["admission_no"] for s in in_force} - {0}
    state["admissions"] = max(ranks, default=0)
    state["admissions.free"] = sum(
        1 << (r - 1) for r in range(1, state["admissions"]) if r not in ranks
    )
    for s in in_force:
        a, med = s.amounts, s.response["med_type"]
        if not s.response["admission_no"]:
            # an annual deductible: the base is the policy-scope amount (no cross-region)
            add(f"ded:{med}.base", a["inscp_scp_amt"])
        group = "outpatient" if med == "outpatient" else "basic"
        add(f"cap:{group}.paid", a["hifp_pay"])
        add(f"cap:{group}.raw", a["hifp_pay"])
        (ci,) = [layer for layer in s.layers if layer.fund_pay_type == CI_CODE]
        add("ci.base", ci.base)
        add("ci.paid", a["hifmi_pay"])
        add("ci.raw", a["hifmi_pay"])
    return {k: v for k, v in state.items() if v}


def _expected_probe_basic(in_force: list[Settlement], med: str, total: int) -> int:
    """The probe's basic fund payment by hand: its raw amount within the cap left."""
    if med == "inpatient":
        held = {s.response["admission_no"] for s in in_force}
        rank = next(r for r in itertools.count(1) if r not in held)  # the lowest rank free
        deductible = 400_00 * FACTORS[min(rank - 1, 2)] // 100
        raw, cap = half_up(max(total - deductible, 0) * 75, 100), BASIC_CAP
    else:
        raw, cap = half_up(total * 50, 100), OUTPATIENT_CAP
    used = sum(s.amounts["hifp_pay"] for s in in_force if s.response["med_type"] == med)
    return min(raw, cap - used)


TOTALS = st.sampled_from([300_00, 1_000_00, 150_000_00, 300_000_00, 420_000_00])
SETTLE = st.tuples(st.just("settle"), st.sampled_from(["inpatient", "outpatient"]), TOTALS)
REVERSE = st.tuples(st.just("reverse"), st.integers(0, 7), st.just(0))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    ops=st.lists(st.one_of(SETTLE, SETTLE, REVERSE), min_size=1, max_size=6),
    probe=st.tuples(st.sampled_from(["inpatient", "outpatient"]), TOTALS),
)
def test_the_next_claim_is_paid_as_the_settlements_in_force_imply(
    uow: UnitOfWork, engine: Engine, ops: list[tuple[str, Any, int]], probe: tuple[str, int]
) -> None:
    """Any sequence of settlements and reversals, then a probe claim: the probe is settled as
    for a person whose state is the one the settlements in force imply (built from their stored
    answers), its basic payment is its raw amount within the cap left (by hand), and 5206
    reports exactly that cap left."""
    who, twin = _resident(uow), _resident(uow)
    in_force: list[Settlement] = []
    for i, (op, x, total) in enumerate(ops):
        if op == "settle":
            claim = Claim(who, dt.date(YEAR, 5, 1 + i), total, med_type=x, level=2)
            in_force.append(settlement.settle(uow, claim))
        elif in_force:
            gone = in_force.pop(x % len(in_force))
            assert gone.setl_id is not None
            settlement.reverse(uow, gone.setl_id, on=dt.date(YEAR, 6, 30))

    implied = _implied_state(in_force)
    state = {
        k: v
        for k, v in settlement.year_to_date(uow, who, YEAR).items()
        if not k.startswith(("acct.", "mulaid."))
    }
    # running totals: equal to what was paid, or beyond a cap that was reached (the same for
    # the next claim); without a reversal a capped layer's running total passes its cap
    limit = {"cap:basic": BASIC_CAP, "cap:outpatient": OUTPATIENT_CAP, "ci": CI_CAP}
    for key in [k for k in state if k.endswith(".raw")]:
        layer = key.removesuffix(".raw")
        raw, paid = state.pop(key), state.get(f"{layer}.paid", 0)
        assert raw == paid or raw > paid == limit[layer]
    assert state == {k: v for k, v in implied.items() if not k.endswith(".raw")}
    twin_id = person_id(uow, twin)
    with uow:
        uow.settlements.lock_state(twin_id, YEAR)
        uow.settlements.save_state(twin_id, YEAR, implied, 0)
        uow.commit()

    med, total = probe
    used = {"basic": 0, "outpatient": 0}
    for s in in_force:
        used["outpatient" if s.response["med_type"] == "outpatient" else "basic"] += s.amounts[
            "hifp_pay"
        ]
    assert remaining(uow, who) == {
        "basic": yuan(BASIC_CAP - used["basic"]),
        "outpatient": yuan(OUTPATIENT_CAP - used["outpatient"]),
        "critical_illness": yuan(CI_CAP - sum(s.amounts["hifmi_pay"] for s in in_force)),
    }
    on = dt.date(YEAR, 7, 1)
    mine = settlement.presettle(uow, Claim(who, on, total, med_type=med, level=2))
    theirs = settlement.presettle(uow, Claim(twin, on, total, med_type=med, level=2))
    assert mine.amounts == theirs.amounts
    assert mine.amounts["hifp_pay"] == _expected_probe_basic(in_force, med, total)
    settled = settlement.settle(uow, Claim(who, on, total, med_type=med, level=2))
    assert settled.amounts == mine.amounts
    assert settled.status is SettlementStatus.SETTLED
