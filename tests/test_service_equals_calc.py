"""The settlement service equals the calculator: for a generated person state and a generated
year of claims, what the service stores (settled claim after claim on a fresh SQLite store
holding a person in that state) is, field by field, what ``yibao calc settle`` answers for the
equivalent scenario (the same person written as the calculator's ``person`` mapping).

The person states are built through the services (enrolment, contributions, special groups,
family mutual aid); the scenario states them as the rules give them, by hand:

- an employee enrolled 2024-01-01 who paid ``months`` months of 2024 on a wage between the
  contribution base's floor and ceiling: a personal account of ``months`` x wage x 2%
  (``employee.personal_account.in_service_share``), entitled from 2024-02-01 (one month after
  enrolment: ``employee.waiting.employer_enrolled_months``), so always in 2025;
- a resident enrolled 2023-10-01 who paid 2025 on 2024-11-01: entitled from 2025-04-01 (three
  months, ``resident.waiting.fixed_months``), or from the start for the groups exempt from the
  wait (tekun, dibao, monitored); no incentive raise (first insured year); no own account;
  optionally linked (家庭共济) to an employee relative whose account pays what is left;
- any of them in an assistance class (a special group from 2024-01-01), or none.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.store_support import nid
from yibao.calc.settle import OUTPUT_FIELDS, settle_scenario
from yibao.domain.settlement import Claim
from yibao.policy import fen_to_yuan
from yibao.services import contributions, enrolment, registry, settlement
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"
AID = ("tekun", "dibao", "low_income_edge", "monitored", "ill_poor")
EXEMPT_FROM_WAITING = {"tekun", "dibao", "monitored"}  # resident.waiting.exempt_groups
MED_TYPES = ("inpatient", "outpatient", "chronic", "maternity", "pharmacy")
CROSS = (None, "registered", "referred", "temporary")
#: 2024 contribution base (2023 average wage 120698 yuan): monthly floor 0.6 x 120698 / 12 =
#: 6034.90, ceiling 3 x 120698 / 12 = 30174.50. Wages inside it are their own base.
WAGE_YUAN = st.integers(6100, 30000)


@dataclass(frozen=True)
class PersonState:
    scheme: str  # "employee" | "resident"
    aid: str | None
    months: int  # employee: months of 2024 paid
    wage: int  # yuan a month (the employee, or the resident's linked relative)
    mutual_aid: bool  # resident: linked to an employee relative's account

    def scenario_person(self) -> dict[str, Any]:
        """The calculator's ``person``, by hand from the rules (see the module docstring)."""
        account = self.months * self.wage * 2  # fen: months x wage (yuan) x 100 x 2%
        waits = self.scheme == "resident" and self.aid not in EXEMPT_FROM_WAITING
        return {
            "scheme": self.scheme,
            "assistance_class": self.aid,
            "account_balance": fen_to_yuan(account if self.scheme == "employee" else 0),
            "mutual_aid_balance": fen_to_yuan(account if self.mutual_aid else 0),
            "use_account": True,
            "incentive_raise": 0,
            "entitled_from": "2025-04-01" if waits else None,
            # certified for no chronic disease (门诊慢特病), as the store holds none
            "certified_diseases": [],
        }


@st.composite
def person_states(draw: st.DrawFn) -> PersonState:
    scheme = draw(st.sampled_from(("employee", "resident")))
    aid = draw(st.one_of(st.none(), st.sampled_from(AID)))
    months = draw(st.integers(1, 12))
    wage = draw(WAGE_YUAN)
    mutual = scheme == "resident" and draw(st.booleans())
    return PersonState(scheme, aid, months if scheme == "employee" or mutual else 0, wage, mutual)


@st.composite
def claim_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One to four claims of 2025 in date order; amounts in fen, the parts within the total."""
    days = sorted(draw(st.lists(st.integers(0, 363), min_size=1, max_size=4)))
    out = []
    for day in days:
        total = draw(
            st.one_of(st.integers(1, 200_000), st.integers(200_000, 60_000_000))
        )  # up to 2000 yuan, or up to 600 000 (past the caps)
        parts = [draw(st.integers(0, total // 4)) for _ in range(3)]
        out.append(
            {
                "date": dt.date(2025, 1, 1) + dt.timedelta(days=day),
                "med_type": draw(st.sampled_from(MED_TYPES)),
                "level": draw(st.integers(1, 3)),
                "cross_region": draw(st.sampled_from(CROSS)),
                "total": total,
                "fully_self_paid": parts[0],
                "over_limit": parts[1],
                "category_b": parts[2],
            }
        )
    return out


def _claim(on: dt.date, total: int, level: int = 2) -> dict[str, Any]:
    return {
        "date": on, "med_type": "inpatient", "level": level, "cross_region": None,
        "total": total, "fully_self_paid": 0, "over_limit": 0, "category_b": 0,
    }  # fmt: skip


@cache
def _migrated_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="yibao_prop_"))
    path = folder / "template.sqlite"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def fresh_store() -> Iterator[UnitOfWork]:
    """A fresh migrated SQLite database (a copy of one migrated once)."""
    folder = Path(tempfile.mkdtemp(prefix="yibao_prop_"))
    path = folder / "yibao.sqlite"
    shutil.copyfile(_migrated_template(), path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield UnitOfWork.for_engine(engine)
    finally:
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _employee(uow: UnitOfWork, n: int, months: int, wage: int) -> str:
    who = registry.add_person(uow, nid(n, dt.date(1980, 1, 1)), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, months + 1):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), wage * 100, dt.date(2024, m, 20))
    return who


def build(uow: UnitOfWork, state: PersonState) -> str:
    """The person in ``state`` through the services; their national ID."""
    if state.scheme == "employee":
        who = _employee(uow, 1, state.months, state.wage)
    else:
        who = registry.add_person(uow, nid(3, dt.date(1980, 1, 1)), "居民3").label
        enrolment.enrol(uow, who, "resident", AREA, dt.date(2023, 10, 1))
        if state.mutual_aid:
            relative = _employee(uow, 5, state.months, state.wage)
            registry.add_relation(uow, relative, who, "spouse")
            registry.authorise_mutual_aid(uow, relative, who, dt.date(2024, 1, 1))
    if state.aid is not None:
        registry.add_group(uow, who, state.aid, dt.date(2024, 1, 1))
    if state.scheme == "resident":
        contributions.pay_resident(uow, who, 2025, dt.date(2024, 11, 1))
    return who


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    """The fields both answer with."""
    keys = (*OUTPUT_FIELDS, "setl_time", "med_type", "admission_no", "setldetail")
    return {k: answer[k] for k in keys}


@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(state=person_states(), claims=claim_lists())
# an employee's account drained over two admissions past the basic cap (6 x 124110 yuan)
@example(
    PersonState("employee", None, 12, 30000, False),
    [_claim(dt.date(2025, 3, 1), 60_000_000), _claim(dt.date(2025, 8, 1), 60_000_000, level=3)],
)
# a dibao resident: a claim in the wait (exempt: none), critical illness and assistance paying
@example(
    PersonState("resident", "dibao", 0, 8000, False), [_claim(dt.date(2025, 2, 1), 30_000_000)]
)
# a resident in the wait, then after it, paid from a relative's account (家庭共济)
@example(
    PersonState("resident", None, 6, 8000, True),
    [_claim(dt.date(2025, 1, 10), 500_000), _claim(dt.date(2025, 6, 1), 2_000_000)],
)
def test_stored_settlement_equals_the_calculator(
    state: PersonState, claims: list[dict[str, Any]]
) -> None:
    scenario = {
        "region": AREA,
        "person": state.scenario_person(),
        "claims": [
            {
                **c,
                "date": c["date"].isoformat(),
                **{
                    k: fen_to_yuan(c[k])
                    for k in ("total", "fully_self_paid", "over_limit", "category_b")
                },
            }
            for c in claims
        ],
    }
    expected = settle_scenario(scenario)["settlements"]

    with fresh_store() as uow:
        who = build(uow, state)
        stored = []
        for i, c in enumerate(claims):
            s = settlement.settle(uow, Claim(person=who, **c), f"prop-{i}")
            if s.setl_id is None:  # self-paid in full while waiting: nothing stored
                stored.append(s.response)
            else:
                stored.append(settlement.settlement_of(uow, s.setl_id))

    assert len(stored) == len(expected)
    for got, want in zip(stored, expected, strict=True):
        assert _comparable(got) == _comparable(want), (state, claims)
        # the service names the end of the waiting period in the calculator's waiting reason
        assert len(got["reasons"]) == len(want["reasons"])
        for g, w in zip(got["reasons"], want["reasons"], strict=True):
            assert g == w or g.startswith(w + " until "), (g, w)
        entitled = state.scenario_person()["entitled_from"]
        if entitled is not None:
            assert got["entitled_from"] == entitled
        else:  # entitled before the year's first claim
            assert got["entitled_from"] <= claims[0]["date"].isoformat()
