"""Major epidemics (重大疫情, treat first and charge later) on SQLite and PostgreSQL: an epidemic
declared for 360100 (audited) covers claims with a listed diagnosis or by a person of a listed
group, in its period only: they are settled exempt from the catalogue, dosage limits and the
annual cap (hand-computed against the same claims uncovered), marked and reported; the fund's
advance to an institution and its clearing are posted once and the ledger reconciles; bad
declarations, advances and ends are refused naming the field and change nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: api)
from tests.api_support import Api
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import balances, resident
from yibao.cli import app
from yibao.domain.errors import InvalidField, NotFound, SettlementRefused
from yibao.domain.fees import Diagnosis
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim
from yibao.services import accounts, epidemics, ledger, registry, settlement
from yibao.store.api_models import AuditRow
from yibao.store.uow import UnitOfWork

AREA = "360100"
START = dt.date(2025, 5, 1)


def _inpatient(uow: UnitOfWork, who: str, on: dt.date, diagnosis: str, ref: str) -> Claim:
    """A registered inpatient visit at H1 (level 2) with its principal diagnosis, and its claim:
    10000.00, of which 2000.00 fully self-paid, 500.00 over a price limit, 1000.00 category B."""
    visit = settlement.register_visit(
        uow, who, "H1", "inpatient", 2, on, diagnoses=[Diagnosis(diagnosis, True)]
    )
    return Claim(
        person=who,
        date=on,
        total=1_000_000,
        fully_self_paid=200_000,
        over_limit=50_000,
        category_b=100_000,
        mdtrt_id=visit.mdtrt_id,
    )


def _declare(uow: UnitOfWork) -> int:
    e = epidemics.declare(uow, AREA, "COVID-19", START, ["u07"], ["student"])
    assert e.id is not None and e.diseases == ("U07",)
    return e.id


def test_an_epidemic_exemption(uow: UnitOfWork, engine: Engine) -> None:
    r, r2, r3, s = (resident(uow, n) for n in (3, 5, 7, 9))
    registry.add_group(uow, s, "student", dt.date(2024, 9, 1))
    # before the declaration the claim is settled as usual: scope 10000 − 2000 − 500 − 10% ×
    # 1000 = 7400.00, (7400 − 400) × 75% = 5250.00
    before = settlement.presettle(uow, _inpatient(uow, r, dt.date(2025, 5, 10), "U07.1", "p"))
    assert (before.amounts["inscp_scp_amt"], before.amounts["hifp_pay"]) == (7_400_00, 5_250_00)
    ep = _declare(uow)

    # R, U07.1 (listed): nothing fully self-paid, no category-B pre-payment, the 500.00 over
    # the price limit kept: scope 9500.00, (9500 − 400) × 75% = 6825.00, cash 3175.00
    covered = settlement.settle(uow, _inpatient(uow, r, dt.date(2025, 5, 10), "U07.1", "c"), "r")
    a = covered.amounts
    assert (a["fulamt_ownpay_amt"], a["preselfpay_amt"], a["overlmt_selfpay"]) == (0, 0, 500_00)
    assert (a["inscp_scp_amt"], a["hifp_pay"], a["psn_cash_pay"]) == (9_500_00, 6_825_00, 3_175_00)
    assert any("重大疫情" in x for x in covered.answer.reasons)
    # R2, J18 (not listed): as usual, 5250.00; R3, U07.1 before the epidemic: as usual too
    other = settlement.settle(uow, _inpatient(uow, r2, dt.date(2025, 5, 11), "J18.9", "o"), "r2")
    early = settlement.settle(uow, _inpatient(uow, r3, dt.date(2025, 4, 20), "U07.1", "e"), "r3")
    assert other.amounts["hifp_pay"] == early.amounts["hifp_pay"] == 5_250_00

    # S, a student (listed group), outpatient at level 1, 1000.00: 65% = 650.00, above the
    # residents' 400.00 outpatient annual cap, which does not apply; cash 350.00
    out = Claim(person=s, date=dt.date(2025, 5, 12), total=100_000, med_type="outpatient",
                level=1, fixmedins_code="H1")  # fmt: skip
    assert settlement.presettle(uow, out).amounts["hifp_pay"] == 650_00
    paid = settlement.settle(uow, out, "s")
    assert (paid.amounts["hifp_pay"], paid.amounts["psn_cash_pay"]) == (650_00, 350_00)
    assert ledger.reconcile(uow).ok

    report = epidemics.report(uow, ep)
    assert (report["settlements"], report["fund_pay_sumamt"], report["exempted"]) == (
        2,
        "7475.00",  # 6825.00 + 650.00
        "2000.00",  # R's fully self-paid amount, now in scope
    )
    assert [x["setl_id"] for x in report["lines"]] == [covered.setl_id, paid.setl_id]
    assert paid.setl_id is not None
    settlement.reverse(uow, paid.setl_id, on=dt.date(2025, 5, 13))
    after = epidemics.report(uow, ep)
    assert after["settlements"] == 1 and after["lines"][1]["status"] == "reversed"
    assert ledger.reconcile(uow).ok

    # ended on 05-31: a listed diagnosis on 06-02 is settled as usual
    epidemics.end(uow, ep, dt.date(2025, 5, 31))
    late = settlement.settle(uow, _inpatient(uow, r2, dt.date(2025, 6, 2), "U07.1", "l"), "r2b")
    assert late.amounts["fulamt_ownpay_amt"] == 2_000_00
    with pytest.raises(SettlementRefused):
        epidemics.end(uow, ep, dt.date(2025, 6, 1))
    with Session(engine) as session:
        actions = session.scalars(
            select(AuditRow.action).where(AuditRow.target == f"epidemic:{ep}")
        ).all()
    assert sorted(actions) == ["epidemic:declare", "epidemic:end"]


def test_the_advance_and_its_clearing(uow: UnitOfWork, engine: Engine) -> None:
    ep = _declare(uow)
    accounts.issue_institution(
        uow, "s" * 32, accounts.NewInstitution(code="H1", name="H1", area=AREA)
    )
    start = balances(engine)
    epidemics.advance(uow, ep, "H1", 5_000_000, dt.date(2025, 5, 2))
    epidemics.advance(uow, ep, "H1", 1_000_000, dt.date(2025, 5, 9))
    mid = balances(engine)
    assert mid[f"epidemic_advance:{AREA}"] == 6_000_000  # 50000.00 + 10000.00
    assert start[f"cash:{AREA}"] - mid[f"cash:{AREA}"] == 6_000_000
    assert ledger.reconcile(uow).ok
    _, fen = epidemics.clear_advance(uow, ep, "H1", dt.date(2025, 6, 5))
    assert fen == 6_000_000
    end = balances(engine)
    assert end[f"epidemic_advance:{AREA}"] == 0 and end[f"cash:{AREA}"] == start[f"cash:{AREA}"]
    assert ledger.reconcile(uow).ok
    refused = [
        (lambda: epidemics.clear_advance(uow, ep, "H1", dt.date(2025, 6, 6)), SettlementRefused),
        (lambda: epidemics.clear_advance(uow, ep, "H2"), SettlementRefused),  # nothing advanced
        (lambda: epidemics.advance(uow, ep, "H1", 0, dt.date(2025, 5, 3)), InvalidField),
        (lambda: epidemics.advance(uow, ep, "H1", 100, dt.date(2025, 4, 30)), InvalidField),
        (lambda: epidemics.advance(uow, ep, "H1", 100, dt.date(2025, 5, 2)), Exception),  # again
        (lambda: epidemics.advance(uow, 999, "H1", 100, dt.date(2025, 5, 3)), NotFound),
        # an institution that is not registered
        (lambda: epidemics.advance(uow, ep, "H404", 100, dt.date(2025, 5, 3)), InvalidField),
        (lambda: epidemics.advance(uow, ep, "H1\u202e", 100, dt.date(2025, 5, 3)), InvalidField),
    ]
    for call, error in refused:
        with pytest.raises(error):
            call()
    assert balances(engine) == {k: v for k, v in end.items() if v}  # (zeros are left out)


def test_bad_declarations_are_refused(uow: UnitOfWork) -> None:
    future = dt.date.today() + dt.timedelta(days=1)
    cases = [
        (dict(area="3601"), "area"),
        (dict(name=" "), "name"),
        (dict(diseases=["U0"]), "diseases"),
        (dict(diseases=[], groups=[]), "diseases"),
        (dict(groups=["vip"]), "groups"),
        (dict(ends_on=dt.date(2025, 4, 1)), "ends_on"),
        (dict(starts_on=future), "starts_on"),
        (dict(starts_on=dt.date(1, 1, 1)), "starts_on"),  # before the insurance began
        (dict(ends_on=dt.date(9999, 12, 31)), "ends_on"),  # an open end is left empty
    ]
    base = dict(area=AREA, name="x", starts_on=START, diseases=["U07"], groups=["student"])
    for change, field in cases:
        with pytest.raises(InvalidField) as info:
            epidemics.declare(uow, **{**base, **change})  # type: ignore[arg-type]
        assert info.value.field == field
    assert epidemics.epidemics(uow) == []
    ep = _declare(uow)
    with pytest.raises(InvalidField) as info:
        epidemics.end(uow, ep, dt.date(2025, 4, 30))
    assert info.value.field == "ends_on"
    with pytest.raises(NotFound):
        epidemics.end(uow, 999, dt.date(2025, 5, 30))


def test_cli_epidemic(db_url: str, uow: UnitOfWork) -> None:
    run = CliRunner().invoke
    args = ["epidemic", "declare", "--area", AREA, "--name", "COVID-19", "--from", "2025-05-01"]
    made = run(app, [*args, "--disease", "U07", "--group", "student", "--db", db_url, "--json"])
    assert made.exit_code == 0, made.output
    ep = json.loads(made.output)["id"]
    listed = run(app, ["epidemic", "list", "--db", db_url, "--json"])
    assert [e["title"] for e in json.loads(listed.output)] == ["COVID-19"]
    accounts.issue_institution(
        uow, "s" * 32, accounts.NewInstitution(code="H1", name="H1", area=AREA)
    )
    adv = ["epidemic", "advance", str(ep), "--institution", "H1", "--amount", "500.00"]
    assert run(app, [*adv, "--on", "2025-05-02", "--db", db_url]).exit_code == 0
    shown = run(app, ["epidemic", "report", str(ep), "--db", db_url, "--json"])
    assert json.loads(shown.output)["settlements"] == 0
    bad = run(app, [*args, "--disease", "nonsense", "--db", db_url])
    assert bad.exit_code == 2 and "diseases" in bad.output


def test_over_the_api(api: Api, uow: UnitOfWork) -> None:
    admin, manager = api.staff(Role.ADMINISTRATOR), api.staff(Role.FUND_MANAGER)
    auth = {"authorization": f"Bearer {admin}"}
    body = {"area": AREA, "name": "COVID-19", "starts_on": "2025-05-01", "diseases": ["U07"]}
    made = api.client.post("/api/v1/epidemics", json=body, headers=auth)
    assert made.status_code == 200, made.text
    ep = made.json()["id"]
    refused = api.client.post(
        "/api/v1/epidemics", json=body, headers={"authorization": f"Bearer {manager}"}
    )
    assert refused.status_code == 403
    bad = api.client.post("/api/v1/epidemics", json={**body, "diseases": ["U0"]}, headers=auth)
    assert bad.json()["infcode"] == 1003 and "diseases" in bad.json()["err_msg"]
    m = {"authorization": f"Bearer {manager}"}
    api.institution("H1")
    adv = {"institution": "H1", "amount": "500.00", "on": "2025-05-02"}
    posted = api.client.post(f"/api/v1/epidemics/{ep}/advances", json=adv, headers=m)
    assert posted.status_code == 200 and posted.json()["amount"] == "500.00", posted.text
    cleared = api.client.post(
        f"/api/v1/epidemics/{ep}/clearing",
        json={"institution": "H1", "on": "2025-06-01"},
        headers=m,
    )
    assert cleared.json()["amount"] == "500.00", cleared.text
    report = api.staff_get(manager, f"/api/v1/epidemics/{ep}/report").json()
    assert (report["title"], report["settlements"]) == ("COVID-19", 0)
    assert api.staff_get(api.staff(Role.ENROLMENT_CLERK), "/api/v1/epidemics").status_code == 403
    assert ledger.reconcile(UnitOfWork.for_engine(api.engine)).ok


def test_the_calculator_settles_a_covered_claim(tmp_path: Path) -> None:
    """``yibao calc settle`` with ``epidemic: true``: R's covered claim of the first test,
    6825.00, and the student's outpatient claim above the 400.00 cap, 650.00."""
    scenario = {
        "region": "360100",
        "epidemic": True,
        "person": {"scheme": "resident"},
        "claims": [
            {"date": "2025-05-10", "med_type": "inpatient", "level": 2, "total": "10000.00",
             "fully_self_paid": "2000.00", "over_limit": "500.00", "category_b": "1000.00"},
            {"date": "2025-05-12", "med_type": "outpatient", "level": 1, "total": "1000.00"},
        ],
    }  # fmt: skip
    path = tmp_path / "epidemic.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    done = CliRunner().invoke(app, ["calc", "settle", str(path)])
    assert done.exit_code == 0, done.output
    got = [s["hifp_pay"] for s in json.loads(done.output)["settlements"]]
    assert got == ["6825.00", "650.00"]
    bad = path.with_name("bad.json")
    bad.write_text(json.dumps({**scenario, "epidemic": "yes"}), encoding="utf-8")
    refused = CliRunner().invoke(app, ["calc", "settle", str(bad)])
    assert refused.exit_code == 2 and "epidemic" in refused.output


def _calc(tmp_path: Path, scenario: dict[str, Any]) -> list[dict[str, Any]]:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    done = CliRunner().invoke(app, ["calc", "settle", str(path)])
    assert done.exit_code == 0, done.output
    return list(json.loads(done.output)["settlements"])


def _outpatient(on: str, total: str, **kw: Any) -> dict[str, Any]:
    return {"date": on, "med_type": "outpatient", "level": 1, "total": total, **kw}


def test_the_calculator_settles_a_mixed_year_claim_by_claim(tmp_path: Path) -> None:
    """A resident's year of covered and ordinary outpatient claims (level 1, 65%, the 400.00
    annual cap of the outpatient group): the flag on each claim decides its exemption, and what
    a covered claim paid counts towards the cap of the later ordinary ones, as the service
    settles them."""
    claims = [
        _outpatient("2025-05-10", "400.00"),  # 65% = 260.00, under the cap
        # covered: the 100.00 fully self-paid is in scope, 1000.00 × 65% = 650.00, uncapped
        _outpatient("2025-05-12", "1000.00", fully_self_paid="100.00", epidemic=True),
        _outpatient("2025-05-20", "300.00"),  # 260.00 + 650.00 paid ≥ 400.00: nothing
    ]
    got = _calc(tmp_path, {"region": AREA, "person": {"scheme": "resident"}, "claims": claims})
    assert [s["hifp_pay"] for s in got] == ["260.00", "650.00", "0.00"]
    assert [s["fulamt_ownpay_amt"] for s in got] == ["0.00", "0.00", "0.00"]
    assert "basic fund: annual cap reached" in got[2]["reasons"]
    # the scenario's flag covers every claim but one that says otherwise: the same year
    flagged = [claims[0] | {"epidemic": False}, claims[1], claims[2] | {"epidemic": False}]
    again = _calc(
        tmp_path,
        {"region": AREA, "epidemic": True, "person": {"scheme": "resident"}, "claims": flagged},
    )
    assert [s["hifp_pay"] for s in again] == ["260.00", "650.00", "0.00"]
    # no epidemic: the second claim's scope is 900.00, 585.00 capped at the 140.00 left
    plain = [{k: v for k, v in c.items() if k != "epidemic"} for c in claims]
    none = _calc(tmp_path, {"region": AREA, "person": {"scheme": "resident"}, "claims": plain})
    assert [s["hifp_pay"] for s in none] == ["260.00", "140.00", "0.00"]
    bad = _calc_error(tmp_path, {"region": AREA, "person": {"scheme": "resident"},
                                 "claims": [claims[0] | {"epidemic": "yes"}]})  # fmt: skip
    assert "claims[0].epidemic: must be true or false" in bad


def _calc_error(tmp_path: Path, scenario: dict[str, Any]) -> str:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(scenario), encoding="utf-8")
    done = CliRunner().invoke(app, ["calc", "settle", str(path)])
    assert done.exit_code == 2
    return str(done.output)


def test_an_epidemic_lifts_the_critical_illness_cap(tmp_path: Path) -> None:
    """A resident's covered admission at level 2 of 2,400,000.00, all in scope: the basic fund
    uncapped, (2400000 − 400) × 75% = 1799700.00; critical illness on the residual 600300.00,
    (600300 − 20657) × 60% = 347785.80, above its 300000.00 cap, which is lifted too.
    Uncovered: the basic fund stops at its 247884.00 cap and critical illness at 300000.00."""
    claim = {"date": "2025-06-01", "med_type": "inpatient", "level": 2, "total": "2400000.00"}
    scenario = {"region": AREA, "person": {"scheme": "resident"}}
    (covered,) = _calc(tmp_path, scenario | {"claims": [claim | {"epidemic": True}]})
    assert (covered["hifp_pay"], covered["hifmi_pay"]) == ("1799700.00", "347785.80")
    (plain,) = _calc(tmp_path, scenario | {"claims": [claim]})
    assert (plain["hifp_pay"], plain["hifmi_pay"]) == ("247884.00", "300000.00")


def test_an_epidemic_lifts_a_chronic_diseases_annual_limit(tmp_path: Path) -> None:
    """A resident certified for hypertension (I10: limit 1500.00 a year, no deductible in 2025),
    chronic claims at level 1 (70%): 1000.00 → 700.00; a covered 5000.00 → 3500.00, above the
    limit, which is lifted; a later ordinary 1000.00 finds the limit used up (700 + 3500)."""
    person = {"scheme": "resident", "certified_diseases": [{"disease": "I10"}]}
    chronic = {"med_type": "chronic", "level": 1, "disease": "I10"}
    claims = [
        chronic | {"date": "2025-05-10", "total": "1000.00"},
        chronic | {"date": "2025-05-12", "total": "5000.00", "epidemic": True},
        chronic | {"date": "2025-05-20", "total": "1000.00"},
    ]
    got = _calc(tmp_path, {"region": AREA, "person": person, "claims": claims})
    assert [s["hifp_pay"] for s in got] == ["700.00", "3500.00", "0.00"]


def test_the_service_lifts_the_critical_illness_cap_as_the_calculator(uow: UnitOfWork) -> None:
    """The covered admission of ``test_an_epidemic_lifts_the_critical_illness_cap`` settled by
    the service (a resident's U07.1 stay at H1, level 2): the same 1799700.00 and 347785.80."""
    _declare(uow)
    r = resident(uow, 3)
    visit = settlement.register_visit(
        uow, r, "H1", "inpatient", 2, dt.date(2025, 6, 1), diagnoses=[Diagnosis("U07.1", True)]
    )
    claim = Claim(person=r, date=dt.date(2025, 6, 1), total=240_000_000, mdtrt_id=visit.mdtrt_id)
    paid = settlement.settle(uow, claim, "big")
    assert (paid.amounts["hifp_pay"], paid.amounts["hifmi_pay"]) == (179_970_000, 34_778_580)
    assert ledger.reconcile(uow).ok


def test_a_covered_bill_is_exempt_from_quantity_limits_and_classes(tmp_path: Path) -> None:
    """Dosage and quantity restrictions (用量限制) are lifted through the fully self-paid amount:
    a bed (class A, at most one a day) billed twice on one day at 35.00, the second one
    self-paid as above the daily maximum, and 20 × 50.00 of a class-C item. Ordinary: 35.00 +
    1000.00 fully self-paid, scope 35.00, under the 400.00 deductible: the fund pays nothing.
    Covered: nothing self-paid, scope 1070.00, (1070 − 400) × 75% = 502.50."""
    claim = {
        "date": "2025-05-10", "med_type": "inpatient", "level": 2,
        "lines": [{"code": "BED", "quantity": 2, "unit_price": 35, "date": "2025-05-09"},
                  {"code": "C1", "quantity": 20, "unit_price": 50}],
    }  # fmt: skip
    catalogue = [
        {"code": "BED", "class": "A", "price_limit": 50, "max_per_day": 1},
        {"code": "C1", "class": "C"},
    ]
    person = {"scheme": "resident", "sex": "F", "birth_date": "1960-03-02"}
    scenario = {"region": AREA, "person": person, "catalogue": catalogue}
    (plain,) = _calc(tmp_path, scenario | {"claims": [claim]})
    assert (plain["fulamt_ownpay_amt"], plain["inscp_scp_amt"], plain["hifp_pay"]) == (
        "1035.00", "35.00", "0.00",
    )  # fmt: skip
    assert [x["reason"] for x in plain["lines"]] == ["day_quantity", "class_c"]
    (covered,) = _calc(tmp_path, scenario | {"claims": [claim | {"epidemic": True}]})
    assert (covered["fulamt_ownpay_amt"], covered["inscp_scp_amt"], covered["hifp_pay"]) == (
        "0.00", "1070.00", "502.50",
    )  # fmt: skip


def test_an_advance_of_a_bad_amount_is_refused_naming_it(api: Api, uow: UnitOfWork) -> None:
    """An amount that is no yuan amount (exponent, negative, NaN, three decimals, beyond any
    fund) is a field error naming ``amount``, not an internal error; nothing is posted."""
    admin, manager = api.staff(Role.ADMINISTRATOR), api.staff(Role.FUND_MANAGER)
    body = {"area": AREA, "name": "COVID-19", "starts_on": "2025-05-01", "diseases": ["U07"]}
    made = api.client.post(
        "/api/v1/epidemics", json=body, headers={"authorization": f"Bearer {admin}"}
    )
    ep = made.json()["id"]
    api.institution("H1")
    m = {"authorization": f"Bearer {manager}"}
    for amount in ("1e300", "-5", "NaN", "1.001", "99999999999999999999", "１"):
        adv = {"institution": "H1", "amount": amount, "on": "2025-05-02"}
        r = api.client.post(f"/api/v1/epidemics/{ep}/advances", json=adv, headers=m)
        assert r.status_code == 200, (amount, r.text)
        assert r.json()["infcode"] == 1003 and r.json()["err_msg"].startswith("amount: "), r.text
    with uow:
        assert epidemics.advanced(uow, ep, "H1") == 0


def test_a_clearing_before_its_advances_or_an_advance_after_it_is_refused(
    uow: UnitOfWork, engine: Engine
) -> None:
    """The clearing is dated no earlier than the last advance it clears (one dated 1800 was
    posted, and the real one then refused as done before); once cleared, no further advance
    to the institution (it could never be cleared: the clearing is once); nothing posted."""
    ep = _declare(uow)
    accounts.issue_institution(
        uow, "s" * 32, accounts.NewInstitution(code="H1", name="H1", area=AREA)
    )
    epidemics.advance(uow, ep, "H1", 5_000_000, dt.date(2025, 5, 2))
    epidemics.advance(uow, ep, "H1", 1_000_000, dt.date(2025, 5, 9))
    before = balances(engine)
    for day in (dt.date(1800, 1, 1), dt.date(2025, 4, 30), dt.date(2025, 5, 8)):
        with pytest.raises(InvalidField, match=r"^on: "):
            epidemics.clear_advance(uow, ep, "H1", day)
    assert balances(engine) == before
    _, fen = epidemics.clear_advance(uow, ep, "H1", dt.date(2025, 5, 9))
    assert fen == 6_000_000
    cleared = balances(engine)
    with pytest.raises(SettlementRefused, match="cleared"):
        epidemics.advance(uow, ep, "H1", 100, dt.date(2025, 6, 1))
    assert balances(engine) == cleared
