"""Outpatient chronic and special diseases (门诊慢特病): the calculator's table of hand-computed
claims (within and beyond a disease's limit, a disease paid like inpatient care, the annual
deductible flag, an uncertified disease, a certification's dates), bad scenarios refused, and the
certifications on SQLite and PostgreSQL: certify, renew, end, list, refused clearly (in the past,
no disease code, not listed, overlapping), chronic claims settled only for a certified disease
within its limit, the ledger reconciling."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.calc.scenario import ScenarioError
from yibao.calc.settle import settle_scenario
from yibao.cli import app
from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.settlement import Claim
from yibao.kernel.reasons import CHRONIC_LIMIT, CHRONIC_NOT_CERTIFIED, REASONS
from yibao.policy import Policy
from yibao.policy.chronic import chronic_diseases
from yibao.rules.chronic import Certification, certified_disease, renewed_until, valid_until
from yibao.services import chronic, contributions, enrolment, ledger, registry, settlement
from yibao.store.chronic_models import ChronicActionRow, ChronicCertificationRow
from yibao.store.uow import UnitOfWork

LIMIT = REASONS[CHRONIC_LIMIT]
NOT_CERTIFIED = REASONS[CHRONIC_NOT_CERTIFIED]
AREA = "360100"


def test_the_shipped_list() -> None:
    listed = chronic_diseases(Policy("000000"), dt.date(2025, 1, 1))
    i10, n18 = listed["I10"], listed["N18"]
    assert (i10.name, i10.cls, i10.annual_cap, i10.deductible_applies) == (
        "高血压",
        "chronic",
        150000,
        True,
    )
    assert (n18.cls, n18.annual_cap, n18.deductible_applies) == ("inpatient", None, False)


def test_certified_disease_rule() -> None:
    certs = [
        Certification("I10", dt.date(2025, 1, 1), dt.date(2025, 6, 30)),
        Certification("N18", dt.date(2025, 3, 1), dt.date(2025, 12, 31)),
    ]
    on = dt.date(2025, 2, 1)
    assert certified_disease(certs, "I10", on) == "I10"
    assert certified_disease(certs, None, on) == "I10"  # the only one in force
    assert certified_disease(certs, "N18", on) is None  # not begun
    assert certified_disease(certs, None, dt.date(2025, 4, 1)) is None  # two in force
    assert certified_disease(certs, "I10", dt.date(2025, 7, 1)) is None  # lapsed
    assert valid_until(dt.date(2025, 1, 31), 24) == dt.date(2027, 1, 30)
    assert valid_until(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 27)  # 28 Feb is the day
    # renewed from the day after the last day, or from today once lapsed
    assert renewed_until(dt.date(2025, 6, 30), dt.date(2025, 6, 1), 24) == dt.date(2027, 6, 30)
    assert renewed_until(dt.date(2025, 6, 30), dt.date(2025, 9, 1), 12) == dt.date(2026, 8, 31)


# ------------------------------------------------------------------ the calculator, by hand

#: An employee (not retired), level-2 institution: chronic 80 %, inpatient 85 % (national).
#: The chronic benefit's annual deductible is set to 300 yuan here (national: 0), so that the
#: diseases' flag shows.
SCENARIO: dict[str, Any] = {
    "region": "000000",
    "policy": {"benefits": {"employee": {"chronic": {"basic": {"annual_deductible": 300}}}}},
    "person": {
        "scheme": "employee",
        "account_balance": "0",
        "certified_diseases": [
            {"disease": "I10"},  # hypertension: chronic class, 1500 a year, deductible applies
            {"disease": "N18", "valid_from": "2025-01-01", "valid_to": "2025-05-31"},
        ],
    },
}


def chronic_claim(on: str, total: int, disease: str | None = None) -> dict[str, Any]:
    claim: dict[str, Any] = {"date": on, "med_type": "chronic", "level": 2, "total": total}
    if disease is not None:
        claim["disease"] = disease
    return claim


def chronic_only(reasons: Any) -> list[str]:
    """The chronic layer's reasons (not "not an aid recipient" and the like)."""
    return [r for r in reasons if r.startswith("chronic")]


def test_chronic_claims_by_hand() -> None:
    claims = [
        chronic_claim("2025-02-01", 1000, "I10"),
        chronic_claim("2025-03-01", 1500, "I10"),
        chronic_claim("2025-04-01", 200, "I10"),
        chronic_claim("2025-05-01", 10000, "N18"),
        chronic_claim("2025-06-01", 800, "E11"),
        chronic_claim("2025-07-01", 10000, "N18"),
    ]
    out = settle_scenario({**SCENARIO, "claims": claims})["settlements"]
    got = [
        (s["act_pay_dedc"], s["hifp_pay"], s["psn_cash_pay"], chronic_only(s["reasons"]))
        for s in out
    ]
    assert got == [
        # the deductible of 300 first: (1000 − 300) × 80 % = 560, within the limit of 1500
        ("300.00", "560.00", "440.00", []),
        # 1500 × 80 % = 1200, but 1500 − 560 = 940 is left of the disease's limit
        ("0.00", "940.00", "560.00", [LIMIT]),
        # the limit is reached: 200 × 80 % = 160 not paid
        ("0.00", "0.00", "200.00", [LIMIT]),
        # dialysis is paid like inpatient care (85 %), no deductible, no limit of its own
        ("0.00", "8500.00", "1500.00", []),
        # diabetes: listed but the person is not certified for it
        ("0.00", "0.00", "800.00", [NOT_CERTIFIED]),
        # dialysis after its certification's last day (31 May)
        ("0.00", "0.00", "10000.00", [NOT_CERTIFIED]),
    ]
    assert [s["fund_pay_sumamt"] for s in out] == ["560.00", "940.00", "0.00", "8500.00"] + [
        "0.00"
    ] * 2


def test_a_claim_naming_no_disease_takes_the_only_certified_one() -> None:
    scenario = {**SCENARIO, "person": {**SCENARIO["person"], "certified_diseases": ["I10"]}}
    with pytest.raises(ScenarioError, match=r"certified_diseases\[0\]: must be a mapping"):
        settle_scenario({**scenario, "claims": [chronic_claim("2025-02-01", 1000)]})
    one = {**SCENARIO["person"], "certified_diseases": [{"disease": "I10"}]}
    out = settle_scenario({**SCENARIO, "person": one, "claims": [chronic_claim("2025-02-01", 500)]})
    # (500 − 300) × 80 % = 160
    assert out["settlements"][0]["hifp_pay"] == "160.00"


def test_without_a_list_the_calculator_does_not_check() -> None:
    """A scenario with no ``certified_diseases``: the chronic benefit alone pays (80 % above the
    deductible, no disease limit)."""
    person = {k: v for k, v in SCENARIO["person"].items() if k != "certified_diseases"}
    out = settle_scenario(
        {**SCENARIO, "person": person, "claims": [chronic_claim("2025-02-01", 5000, "I10")]}
    )
    assert out["settlements"][0]["hifp_pay"] == "3760.00"  # (5000 − 300) × 80 %


@pytest.mark.parametrize(
    ("certified", "message"),
    [
        ([{"valid_from": "2025-01-01"}], r"certified_diseases\[0\].disease: a disease code is"),
        ([{"disease": ""}], r"certified_diseases\[0\].disease: a disease code is required"),
        ([{"disease": "X99"}], r"'X99' is not on the region's list"),
        (
            [{"disease": "I10", "valid_from": "2025-03-01", "valid_to": "2025-02-01"}],
            r"certified_diseases\[0\].valid_to: is before valid_from",
        ),
        ("I10", "person.certified_diseases: must be a list"),
    ],
)
def test_bad_certified_diseases_refused(certified: Any, message: str) -> None:
    person = {**SCENARIO["person"], "certified_diseases": certified}
    with pytest.raises(ScenarioError, match=message):
        settle_scenario(
            {**SCENARIO, "person": person, "claims": [chronic_claim("2025-02-01", 100)]}
        )


def test_bad_claim_disease_refused() -> None:
    with pytest.raises(ScenarioError, match=r"claims\[0\].disease: must be a disease code"):
        settle_scenario({**SCENARIO, "claims": [chronic_claim("2025-02-01", 100, "")]})


# ------------------------------------------------------------------ the store and services


def _employee(uow: UnitOfWork, n: int) -> str:
    """An employee since 2024-01-01 with 2024's months paid: entitled in 2025."""
    who = registry.add_person(uow, nid(n, dt.date(1970, 3, 3)), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 13):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), 800000, dt.date(2024, m, 20))
    return who


EMPLOYER = "91360100MA35000001"


def _rows(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        certs = conn.scalar(select(func.count()).select_from(ChronicCertificationRow))
        actions = conn.scalar(select(func.count()).select_from(ChronicActionRow))
    return int(certs or 0), int(actions or 0)


def _settle(uow: UnitOfWork, who: str, on: dt.date, total: int, disease: str | None) -> Any:
    claim = Claim(
        person=who,
        date=on,
        total=total,
        med_type="chronic",
        level=2,
        use_account=False,
        disease=disease,
    )
    answer = settlement.settle(uow, claim).answer
    return answer.amounts["hifp_pay"], tuple(chronic_only(answer.reasons)), answer.amounts


def test_certify_renew_end_and_settle(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 3)
    made = chronic.certify(uow, who, "i10", actor="clerk")  # codes are upper-cased
    # 24 months (chronic_certification.valid_months) from today
    assert (made.disease, made.name, made.valid_from, made.valid_to, made.status) == (
        "I10",
        "高血压",
        dt.date(2025, 1, 10),
        dt.date(2027, 1, 9),
        "active",
    )
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    # national: chronic 80 % at level 2, no deductible; hypertension's limit 1500 a year
    assert _settle(uow, who, dt.date(2025, 3, 1), 120000, "I10")[:2] == (96000, ())
    # 1000 × 80 % = 800, 1500 − 960 = 540 left
    paid, why, amounts = _settle(uow, who, dt.date(2025, 4, 1), 100000, "I10")
    assert (paid, why, amounts["psn_cash_pay"]) == (54000, (LIMIT,), 100000 - 54000)
    paid, why, amounts = _settle(uow, who, dt.date(2025, 5, 1), 50000, "E11")
    assert (paid, why, amounts["psn_cash_pay"]) == (0, (NOT_CERTIFIED,), 50000)
    # a claim naming no disease: the only one certified, I10, whose limit is reached
    assert _settle(uow, who, dt.date(2025, 5, 2), 10000, None)[:2] == (0, (LIMIT,))

    renewed = chronic.renew(uow, made.id, actor="clerk")
    assert renewed.valid_to == dt.date(2029, 1, 9)
    ended = chronic.end(uow, made.id, dt.date(2025, 6, 15), actor="auditor", reason="moved")
    assert (ended.valid_to, ended.status) == (dt.date(2025, 6, 15), "ended")
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-20")
    assert _settle(uow, who, dt.date(2025, 6, 16), 10000, "I10")[:2] == (0, (NOT_CERTIFIED,))
    assert [c.status for c in chronic.listing(uow, who)] == ["ended"]
    trail = chronic.history(uow, made.id)
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("certify", "clerk"),
        ("renew", "clerk"),
        ("end", "auditor"),
    ]
    assert "moved" in trail[-1]["detail"]
    assert _rows(engine) == (1, 3)
    assert ledger.reconcile(uow).ok


def test_bad_certifications_refused_and_nothing_stored(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    who = _employee(uow, 5)
    never = registry.add_person(uow, nid(7, dt.date(1980, 1, 1)), "未参保7").label
    with pytest.raises(InvalidField, match="valid_from: 2025-01-09 is in the past"):
        chronic.certify(uow, who, "I10", dt.date(2025, 1, 9))
    with pytest.raises(InvalidField, match="disease: a disease code is required"):
        chronic.certify(uow, who, "")
    with pytest.raises(InvalidField, match="disease: a disease code is required"):
        chronic.certify(uow, who, None)
    with pytest.raises(InvalidField, match="X99 is not on the list"):
        chronic.certify(uow, who, "X99")
    with pytest.raises(InvalidField, match="not insured"):
        chronic.certify(uow, never, "I10")
    assert _rows(engine) == (0, 0)
    made = chronic.certify(uow, who, "I10", dt.date(2025, 2, 1))
    with pytest.raises(AlreadyExists, match="certification of I10"):
        chronic.certify(uow, who, "I10", dt.date(2026, 1, 1))
    with pytest.raises(InvalidField, match="last_day: 2025-01-09 is in the past"):
        chronic.end(uow, made.id, dt.date(2025, 1, 9))
    with pytest.raises(InvalidField, match="before the certification starts"):
        chronic.end(uow, made.id, dt.date(2025, 1, 20))
    assert _rows(engine) == (1, 1)
    chronic.end(uow, made.id, dt.date(2025, 2, 1))
    with pytest.raises(InvalidField, match="is ended"):
        chronic.renew(uow, made.id)
    with pytest.raises(InvalidField, match="is ended"):
        chronic.end(uow, made.id)
    assert _rows(engine) == (1, 2)
    assert ledger.reconcile(uow).ok


def test_cli_certify_list_end(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-01-10")
    from yibao.store.db import make_engine

    engine = make_engine(db_url)
    try:
        who = _employee(UnitOfWork.for_engine(engine), 9)
    finally:
        engine.dispose()

    def run(*args: str) -> Any:
        return CliRunner().invoke(app, ["chronic", *args, "--db", db_url, "--json"])

    made = run("certify", "--person", who, "--disease", "N18", "--operator", "clerk")
    assert made.exit_code == 0, made.stderr
    cert = json.loads(made.stdout)
    assert (cert["disease"], cert["valid_to"]) == ("N18", "2027-01-09")
    listed = run("list", "--person", who)
    assert [c["id"] for c in json.loads(listed.stdout)["certifications"]] == [cert["id"]]
    renewed = run("renew", str(cert["id"]))
    assert json.loads(renewed.stdout)["valid_to"] == "2029-01-09"
    ended = run("end", str(cert["id"]), "--last-day", "2025-03-31")
    assert json.loads(ended.stdout)["status"] == "ended"
    bad = run("certify", "--person", who)
    assert bad.exit_code == 2
    assert "disease: a disease code is required" in json.loads(bad.stderr)["error"]
    past = run("certify", "--person", who, "--disease", "I10", "--from", "2024-12-31")
    assert past.exit_code == 2 and "is in the past" in json.loads(past.stderr)["error"]
