"""A birth applied for in one step (生育医疗费用和生育津贴一站式申领) on SQLite and PostgreSQL: the
maternity medical claim settled and the allowance paid in one transaction, both on the ledger,
both undone together; refused as a whole (nothing stored) when either part is refused. Amounts
against hand computations."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: api)
from tests.api_support import Api
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from tests.test_maternity import _employee
from tests.test_store_settlement import snapshot
from yibao.cli import app
from yibao.domain.errors import InvalidField, NotFound
from yibao.domain.roles import Role
from yibao.domain.settlement import Claim
from yibao.rules.maternity import Birth
from yibao.services import enrolment, ledger, maternity, registry, settlement
from yibao.store.uow import UnitOfWork

AREA = "360100"
BORN = dt.date(2025, 5, 1)
TWINS = Birth(BORN, difficult=True, babies=2)
POOL, CASH = f"employee_pooling:{AREA}", f"cash:{AREA}"

# The employer's 2024 months (the mother's two at 8000.00, a colleague's one at 9000.01):
# (800000 + 800000 + 900001) ÷ 3 = 833333.67 → 833334 fen a month. Leave: 98 + 15 (difficult)
# + 15 (one more baby) = 128 days. Allowance = 833334 ÷ 30 × 128 = 3555558.4 → 35555.58 yuan.
WAGE, DAYS, ALLOWANCE = 833334, 128, 3_555_558
assert round(WAGE * DAYS / 30) == ALLOWANCE  # 3555558.4: no half to round

# The birth's hospital bill at a level-2 hospital, discharged 05-06: 8000.00, of which 600.00
# fully self-paid and 1000.00 category B (10% pre-paid = 100.00). Maternity is paid like
# inpatient care for 360100's employees: scope 8000 − 600 − 100 = 7300.00; the fund pays
# (7300 − 500 deductible) × 85% = 5780.00; the rest, 2220.00, in cash (no account).
SCOPE, FUND, CASH_PAID = 730_000, 578_000, 222_000


def _bill(who: str, on: dt.date = dt.date(2025, 5, 6), **kw: Any) -> Claim:
    kw.setdefault("med_type", None if "mdtrt_id" in kw else "maternity")
    return Claim(
        person=who,
        date=on,
        total=800_000,
        level=2,
        fully_self_paid=60_000,
        category_b=100_000,
        fixmedins_code="H1",
        use_account=False,
        **kw,
    )


def _mother(uow: UnitOfWork) -> str:
    mother = _employee(uow, 2, [800000, 800000])
    _employee(uow, 4, [900001])
    return mother


def test_one_step_settles_pays_and_undoes_together(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _mother(uow)
    start = snapshot(engine)
    done = maternity.settle_birth(uow, _bill(mother), TWINS)
    s, a = done.settlement, done.allowance
    assert (a.wage, a.wage_source, a.leave_days, a.allowance) == (WAGE, "store", DAYS, ALLOWANCE)
    assert s.answer.med_type == "maternity"
    assert (s.amounts["inscp_scp_amt"], s.amounts["hifp_pay"]) == (SCOPE, FUND)
    assert s.amounts["psn_cash_pay"] == CASH_PAID
    assert a.reference.startswith("maternity:") and s.setl_id is not None
    after = snapshot(engine)
    # two transactions (the settlement's, the allowance's), one settlement
    assert [x - y for x, y in zip(after["counts"], start["counts"], strict=True)][3] == 2
    assert after["counts"][0] == start["counts"][0] + 1
    # the employees' pool paid both: 5780.00 + 35555.58 (credit-normal: its balance is < 0)
    pool = after["balances"].get(POOL, 0) - start["balances"].get(POOL, 0)
    assert pool == FUND + ALLOWANCE
    assert ledger.reconcile(uow).ok
    answer = done.as_dict()
    assert answer["allowance"]["allowance"] == "35555.58"
    assert answer["settlement"]["hifp_pay"] == "5780.00"

    # a second application of the birth is refused as a whole: nothing changes
    with pytest.raises(maternity.AllowanceAlreadyPaid, match="is paid"):
        maternity.settle_birth(uow, _bill(mother, dt.date(2025, 5, 7)), TWINS)
    with pytest.raises(maternity.AllowanceAlreadyPaid):
        maternity.pay_allowance(uow, mother, TWINS)
    assert snapshot(engine) == after

    # undone: both parts in one transaction; the pool and the year-to-date state as before
    undone = maternity.undo_birth(uow, mother, BORN, on=dt.date(2025, 5, 20))
    assert undone.reversal is not None and undone.allowance == ALLOWANCE
    back = snapshot(engine)
    assert back["balances"] == start["balances"] and back["states"] == start["states"]
    assert settlement.settlement_on_record(uow, s.setl_id).status.value == "reversed"
    assert ledger.reconcile(uow).ok
    with pytest.raises(NotFound, match="maternity application"):
        maternity.undo_birth(uow, mother, BORN, on=dt.date(2025, 5, 20))

    # applied for again (a corrected bill): the next reference, the same allowance
    again = maternity.settle_birth(uow, _bill(mother), TWINS)
    assert again.allowance.reference == f"{a.reference}#2"
    assert again.settlement.amounts["hifp_pay"] == FUND
    assert ledger.reconcile(uow).ok


def test_a_refused_one_step_stores_nothing(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _mother(uow)
    resident = registry.add_person(uow, nid(6, dt.date(1996, 1, 1)), "居民6").label
    enrolment.enrol(uow, resident, "resident", AREA, dt.date(2024, 1, 1))
    visit = settlement.register_visit(uow, mother, "H1", "inpatient", 2, dt.date(2025, 5, 1))
    start = snapshot(engine)
    refused: list[tuple[Any, type[Exception], str]] = [
        # the allowance refuses: a resident, a birth in the future, a wage of 0
        (lambda: maternity.settle_birth(uow, _bill(resident), TWINS), maternity.AllowanceRefused,
         "maternity allowance is for employees"),
        (lambda: maternity.settle_birth(uow, _bill(mother, dt.date(2025, 6, 1)),
                                        Birth(dt.date(2025, 6, 2))), InvalidField, "birth_date"),
        (lambda: maternity.settle_birth(uow, _bill(mother), TWINS, wage=0), InvalidField, "wage"),
        # the claim is dated before the birth, or is not maternity
        (lambda: maternity.settle_birth(uow, _bill(mother, dt.date(2025, 4, 30)), TWINS),
         InvalidField, "before the birth"),
        (lambda: maternity.settle_birth(uow, _bill(mother, med_type="outpatient"), TWINS),
         InvalidField, "med_type"),
        # the allowance passes, the settlement refuses: an unknown visit, an inpatient visit,
        # an unknown relative's account; the allowance is not kept
        (lambda: maternity.settle_birth(uow, _bill(mother, mdtrt_id="NOPE"), TWINS), NotFound,
         "visit NOPE"),
        (lambda: maternity.settle_birth(uow, _bill(mother, mdtrt_id=visit.mdtrt_id), TWINS),
         InvalidField, "differs from the registered visit"),
        (lambda: maternity.settle_birth(uow, _bill(mother, mutual_aid_from=nid(98)), TWINS),
         NotFound, "not found"),
    ]  # fmt: skip
    for call, error, message in refused:
        with pytest.raises(error, match=message):
            call()
        assert snapshot(engine) == start
    assert ledger.reconcile(uow).ok
    # nothing was kept: the first application still takes the birth's first reference
    done = maternity.settle_birth(uow, _bill(mother), TWINS)
    assert not done.allowance.reference.endswith("#2")


def test_cli_birth_and_undo(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    from yibao.store.db import make_engine

    engine = make_engine(db_url)
    try:
        mother = _mother(UnitOfWork.for_engine(engine))
    finally:
        engine.dispose()
    run = CliRunner().invoke
    args = ["maternity", "birth", "--person", mother, "--birth-date", "2025-05-01",
            "--difficult", "--babies", "2", "--date", "2025-05-06", "--level", "2",
            "--total", "8000.00", "--fully-self-paid", "600.00", "--category-b", "1000.00",
            "--institution", "H1", "--no-account", "--db", db_url, "--json"]  # fmt: skip
    done = run(app, args)
    assert done.exit_code == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["settlement"]["hifp_pay"], data["allowance"]["allowance"]) == (
        "5780.00",
        "35555.58",
    )
    again = run(app, args)
    assert again.exit_code == 2 and "is paid" in json.loads(again.stderr)["error"]
    undo = ["maternity", "undo", "--person", mother, "--birth-date", "2025-05-01"]
    undone = run(app, [*undo, "--on", "2025-05-20", "--db", db_url, "--json"])
    assert undone.exit_code == 0, undone.stderr
    assert json.loads(undone.stdout)["allowance_reversed"] == "35555.58"
    future = run(app, [*undo, "--on", "2025-06-02", "--db", db_url, "--json"])
    assert future.exit_code == 2 and "on:" in json.loads(future.stderr)["error"]


def test_over_the_api(api: Api, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _mother(uow)
    body = {
        "person": mother, "birth_date": "2025-05-01", "difficult": True, "babies": 2,
        "claim": {"date": "2025-05-06", "level": 2, "total": "8000.00",
                  "fully_self_paid": "600.00", "category_b": "1000.00",
                  "fixmedins_code": "H1", "use_account": False},
    }  # fmt: skip

    def post(path: str, role: Role, doc: dict[str, Any]) -> Any:
        token = api.staff(role)
        return api.client.post(path, json=doc, headers={"authorization": f"Bearer {token}"})

    assert post("/api/v1/maternity/birth", Role.ENROLMENT_CLERK, body).status_code == 403
    r = post("/api/v1/maternity/birth", Role.SETTLEMENT_AUDITOR, body)
    assert r.status_code == 200, r.text
    assert (r.json()["settlement"]["hifp_pay"], r.json()["allowance"]["allowance"]) == (
        "5780.00",
        "35555.58",
    )
    again = post("/api/v1/maternity/birth", Role.SETTLEMENT_AUDITOR, body).json()
    assert "is paid" in again["err_msg"]
    bad = post("/api/v1/maternity/birth", Role.SETTLEMENT_AUDITOR,
               {**body, "claim": {**body["claim"], "date": "2025-04-30"}}).json()  # fmt: skip
    assert "before the birth" in bad["err_msg"]
    undo = {"person": mother, "birth_date": "2025-05-01", "on": "2025-05-20"}
    u = post("/api/v1/maternity/birth/undo", Role.SETTLEMENT_AUDITOR, undo)
    assert u.status_code == 200 and u.json()["allowance_reversed"] == "35555.58", u.text
    assert ledger.reconcile(uow).ok


def test_an_allowance_paid_alone_is_undone_alone(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_TODAY", "2025-06-01")
    mother = _mother(uow)
    start = snapshot(engine)
    paid = maternity.pay_allowance(uow, mother, TWINS)
    assert paid.allowance == ALLOWANCE
    with pytest.raises(InvalidField, match="on: is before the birth"):
        maternity.undo_birth(uow, mother, BORN, on=dt.date(2025, 4, 30))
    undone = maternity.undo_birth(uow, mother, BORN, on=dt.date(2025, 5, 2))
    assert (undone.reversal, undone.allowance) == (None, ALLOWANCE)
    assert snapshot(engine)["balances"] == start["balances"]
    # applied for again, now with the medical expenses: one step, the second reference
    again = maternity.settle_birth(uow, _bill(mother), TWINS)
    assert again.allowance.reference == f"{paid.reference}#2"
    assert ledger.reconcile(uow).ok
