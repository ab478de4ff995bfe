"""Waiting periods and retirement on the stored record, on SQLite and PostgreSQL: a flexible
worker's wait carried over by a transfer, the scheme-transfer gap from the enrolment history,
the newborn window from the birth date, and the minimum contribution years of a retiree with
the one-off back-payment (rules.md sections 2-4)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.policy import ParameterError, Policy
from yibao.services import contributions, enrolment, ledger, registry
from yibao.services.common import policy_for
from yibao.services.person_file import Entitlement, enrolment_on, entitlement, load_file
from yibao.store.models import (
    AccountRow,
    ContributionRow,
    EnrolmentEventRow,
    EnrolmentRow,
    LedgerTransactionRow,
    PostingRow,
)
from yibao.store.uow import UnitOfWork

D = dt.date
AREA = "360100"
EMPLOYER = "91360100MA35000001"
# the 2025 monthly base floor: 60% of the 2024 average wage of 124,110 yuan, per month
FLOOR_2025 = 124_110_00 * 60 // 100 // 12


def _entitled(uow: UnitOfWork, who: str, on: dt.date, policy: Policy | None = None) -> Entitlement:
    with uow:
        person = uow.persons.require(who)
        file = load_file(uow, person)
        e = enrolment_on(file.enrolments, on)
        assert e is not None
        return entitlement(file, e, on, policy or policy_for(e.pooling_area))


def _counts(engine: Engine) -> tuple[int, ...]:
    tables = (EnrolmentRow, EnrolmentEventRow, ContributionRow, LedgerTransactionRow, PostingRow)
    with engine.connect() as conn:
        counts = [int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in tables]
        balance = conn.scalar(select(func.coalesce(func.sum(func.abs(AccountRow.balance)), 0)))
        return (*counts, int(balance or 0))


# ---------------------------------------------------------------- 13. flexible worker's wait


def test_flexible_worker_transfer_keeps_the_remaining_wait(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(1), "灵活").label
    enrolment.enrol(uow, who, "flexible", AREA, D(2025, 1, 1))
    contributions.pay_flexible(uow, who, D(2025, 1, 1), FLOOR_2025, D(2025, 1, 10))
    contributions.pay_flexible(uow, who, D(2025, 2, 1), FLOOR_2025, D(2025, 2, 10))
    # before the move: 6 months from the first payment
    assert _entitled(uow, who, D(2025, 2, 20)).entitled_from == D(2025, 7, 10)
    _, new = enrolment.transfer(uow, who, D(2025, 3, 1), to_area="360200")
    assert new.carried_employee_months == 2
    # after the move the wait neither restarts nor ends: 6 − 2 = 4 months from the transfer
    ent = _entitled(uow, who, D(2025, 5, 1))
    assert ent.entitled_from == D(2025, 7, 1), ent.rule
    assert "4 months still to wait" in ent.rule
    # the new area's wait length applies to the months still missing: 3 − 2 = 1
    short = Policy("360000", overlays=[{"employee": {"waiting": {"flexible_first_months": 3}}}])
    assert _entitled(uow, who, D(2025, 5, 1), short).entitled_from == D(2025, 4, 1)


def test_flexible_worker_transfer_after_the_wait_has_no_wait(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(3), "灵活二").label
    enrolment.enrol(uow, who, "flexible", AREA, D(2024, 1, 1))
    for m in range(1, 8):
        contributions.pay_flexible(
            uow, who, D(2024, m, 1), 120_698_00 * 60 // 100 // 12 + 1, D(2024, m, 5)
        )
    enrolment.transfer(uow, who, D(2024, 8, 1), to_area="360200")
    assert _entitled(uow, who, D(2024, 8, 1)).entitled_from == D(2024, 8, 1)


def test_flexible_worker_back_after_a_long_break_waits_again(uow: UnitOfWork) -> None:
    """A break longer than 3 months is a new first enrolment: the months carried from before
    do not shorten the wait, counted again from the first payment."""
    who = registry.add_person(uow, nid(7), "灵活三").label
    base_2024 = 120_698_00 * 60 // 100 // 12 + 1  # the 2024 floor, rounded up
    enrolment.enrol(uow, who, "flexible", AREA, D(2024, 1, 1))
    for m in range(1, 8):
        contributions.pay_flexible(uow, who, D(2024, m, 1), base_2024, D(2024, m, 5))
    enrolment.terminate(uow, who, D(2024, 7, 31))
    # August to December: a break of 5 months > 3
    enrolment.enrol(uow, who, "flexible", AREA, D(2025, 1, 1))
    assert _entitled(uow, who, D(2025, 1, 2)).entitled_from is None  # nothing paid yet
    contributions.pay_flexible(uow, who, D(2025, 1, 1), FLOOR_2025, D(2025, 1, 15))
    ent = _entitled(uow, who, D(2025, 2, 1))
    assert ent.entitled_from == D(2025, 7, 15), ent.rule
    # back within 3 months (2025-02..04 without cover): the 7 carried months still count
    enrolment.terminate(uow, who, D(2025, 1, 31))
    enrolment.enrol(uow, who, "flexible", AREA, D(2025, 5, 1))
    assert _entitled(uow, who, D(2025, 5, 1)).entitled_from == D(2025, 5, 1)


# ------------------------------------------------------------- 14. scheme-transfer gap


def _former_employee(uow: UnitOfWork, n: int, last_day: dt.date) -> str:
    """An employee insured in 2024 and 2025 (two continuous years) whose job ends on
    ``last_day``."""
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, D(2024, 1, 1), employer_code=EMPLOYER)
    contributions.pay_employee(uow, who, D(2024, 1, 1), 800_000, D(2024, 1, 20))
    contributions.pay_employee(uow, who, D(2025, 1, 1), 800_000, D(2025, 1, 20))
    enrolment.terminate(uow, who, last_day, "left the job")
    return who


def test_employee_to_resident_within_the_gap_has_no_wait(uow: UnitOfWork) -> None:
    who = _former_employee(uow, 1, D(2025, 12, 31))
    # January and February without cover: a gap of 2 months ≤ 3
    enrolment.enrol(uow, who, "resident", AREA, D(2026, 3, 1))
    contributions.pay_resident(uow, who, 2026, D(2026, 3, 5))
    ent = _entitled(uow, who, D(2026, 4, 1))
    assert ent.entitled_from == D(2026, 3, 5), ent.rule  # from payment, not 3 months later
    assert "gap of 2 months" in ent.rule


def test_employee_to_resident_beyond_the_gap_waits(uow: UnitOfWork) -> None:
    who = _former_employee(uow, 3, D(2025, 12, 31))
    # January to April: a gap of 4 months > 3, the fixed 3-month wait from payment
    enrolment.enrol(uow, who, "resident", AREA, D(2026, 5, 1))
    contributions.pay_resident(uow, who, 2026, D(2026, 5, 6))
    assert _entitled(uow, who, D(2026, 6, 1)).entitled_from == D(2026, 8, 6)


def test_transfer_to_resident_the_same_day_has_no_wait(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(5), "转居民").label
    enrolment.enrol(uow, who, "employer", AREA, D(2024, 1, 1), employer_code=EMPLOYER)
    contributions.pay_employee(uow, who, D(2024, 1, 1), 800_000, D(2024, 1, 20))
    contributions.pay_employee(uow, who, D(2025, 1, 1), 800_000, D(2025, 1, 20))
    enrolment.transfer(uow, who, D(2026, 1, 1), to_kind="resident")
    contributions.pay_resident(uow, who, 2026, D(2026, 1, 8))
    ent = _entitled(uow, who, D(2026, 2, 1))
    assert ent.entitled_from == D(2026, 1, 8) and "gap of 0 months" in ent.rule
    # the next year is an ordinary resident year: paid late, the fixed wait applies
    contributions.pay_resident(uow, who, 2027, D(2027, 2, 10))
    assert _entitled(uow, who, D(2027, 3, 1)).entitled_from == D(2027, 5, 10)


def test_move_in_a_year_with_employee_months_waits_from_the_resident_payment(
    uow: UnitOfWork,
) -> None:
    """2026 is already marked insured by January's employee month: the resident wait is counted
    from the resident payment (2026-07-05), not from the employee payment (2026-01-20)."""
    who = _former_employee(uow, 9, D(2025, 12, 31))
    enrolment.enrol(uow, who, "employer", AREA, D(2026, 1, 1), employer_code=EMPLOYER)
    contributions.pay_employee(uow, who, D(2026, 1, 1), 800_000, D(2026, 1, 20))
    enrolment.terminate(uow, who, D(2026, 1, 31))
    # February to June: a gap of 5 months > 3, the fixed 3-month wait from the payment
    enrolment.enrol(uow, who, "resident", AREA, D(2026, 7, 1))
    contributions.pay_resident(uow, who, 2026, D(2026, 7, 5))
    assert _entitled(uow, who, D(2026, 8, 1)).entitled_from == D(2026, 10, 5)


# ------------------------------------------------------------------------- 16. newborn


def test_newborn_without_the_group_is_covered_from_birth(uow: UnitOfWork) -> None:
    born = D(2025, 3, 10)
    baby = registry.add_person(uow, nid(2, born), "新生儿").label  # no special group recorded
    enrolment.enrol(uow, baby, "resident", AREA, born)
    contributions.pay_resident(uow, baby, 2025, D(2025, 3, 20))
    ent = _entitled(uow, baby, D(2025, 3, 12))
    assert ent.entitled_from == born, ent.rule
    # enrolled and paid after the 90-day window: the fixed wait (day 92 here)
    late_born = D(2025, 1, 1)
    late = registry.add_person(uow, nid(4, late_born), "晚参保").label
    enrolment.enrol(uow, late, "resident", AREA, D(2025, 4, 1))
    contributions.pay_resident(uow, late, 2025, D(2025, 4, 3))
    assert _entitled(uow, late, D(2025, 5, 1)).entitled_from == D(2025, 7, 3)


# -------------------------------------------------------------------------- 15. retirement

# 2025: monthly base 124,110 yuan / 12 = 10,342.50 yuan; rates 6% + 2%
BACKPAY_PER_MONTH_2025 = 124_110_00 // 12 * 8 // 100


def _balance(uow: UnitOfWork, kind: AccountKind) -> int:
    with uow:
        account = uow.ledger.account(AccountRef.fund(kind, AREA))
        return account.natural_balance if account is not None else 0


def test_retiree_short_of_the_minimum_is_refused(uow: UnitOfWork, engine: Engine) -> None:
    woman = registry.add_person(uow, nid(2, D(1970, 1, 1)), "退休女").label
    before = _counts(engine)
    with pytest.raises(InvalidField) as info:
        enrolment.enrol(uow, woman, "retiree", AREA, D(2025, 6, 1))
    assert info.value.field == "kind"
    assert "0 actual + 0 deemed" in info.value.reason and "20-year minimum" in info.value.reason
    assert "240 months missing" in info.value.reason
    assert str(240 * BACKPAY_PER_MONTH_2025) in info.value.reason
    with pytest.raises(InvalidField):
        enrolment.enrol(uow, woman, "retiree", AREA, D(2025, 6, 1), deemed_months=239)
    assert _counts(engine) == before  # nothing stored
    # 20 years deemed: enough for a woman, nothing posted
    enrolment.enrol(uow, woman, "retiree", AREA, D(2025, 6, 1), deemed_months=240)
    counts = _counts(engine)
    assert counts[3:] == before[3:]  # no ledger transaction


def test_retiree_by_sex_and_back_payment(uow: UnitOfWork, engine: Engine) -> None:
    man = registry.add_person(uow, nid(1, D(1965, 1, 1)), "退休男").label
    enrolment.enrol(uow, man, "employer", AREA, D(2024, 10, 1), employer_code=EMPLOYER)
    for m in (10, 11, 12):
        contributions.pay_employee(uow, man, D(2024, m, 1), 800_000, D(2024, m, 20))
    pooling = _balance(uow, AccountKind.EMPLOYEE_POOLING)
    before = _counts(engine)
    # 3 actual + 286 deemed = 289 months; a man needs 25 years = 300: 11 missing
    with pytest.raises(InvalidField) as info:
        enrolment.transfer(uow, man, D(2025, 1, 1), to_kind="retiree", deemed_months=286)
    assert "11 months missing" in info.value.reason and "25-year minimum" in info.value.reason
    assert _counts(engine) == before
    _, new = enrolment.transfer(
        uow, man, D(2025, 1, 1), to_kind="retiree", deemed_months=286, back_pay=True
    )
    assert new.kind.value == "retiree"
    expected = 11 * (124_110_00 // 12) * 8 // 100  # 11 × 10,342.50 yuan × 8% = 9,101.40
    assert expected == 910_140
    assert _balance(uow, AccountKind.EMPLOYEE_POOLING) - pooling == expected
    assert ledger.reconcile(uow).ok
    with uow:
        detail = uow.session.scalar(
            select(EnrolmentEventRow.detail).where(EnrolmentEventRow.enrolment_id == new.id)
        )
    assert detail is not None and "3 actual + 286 deemed" in detail
    assert "11 months back-paid, 910140 fen" in detail
    # a retiree moving to another area was checked when retiring
    enrolment.transfer(uow, man, D(2025, 7, 1), to_area="360200")


def test_back_payment_rounds_once(uow: UnitOfWork) -> None:
    """2024: the monthly base is 120,698 / 12 = 10,058.1666… yuan → 1,005,817 fen; 13 months
    × 1,005,817 × 8% = 1,046,049.68 → 1,046,050 fen (per-month rounding would give 1,046,045)."""
    woman = registry.add_person(uow, nid(4, D(1969, 1, 1)), "补缴").label
    pooling = _balance(uow, AccountKind.EMPLOYEE_POOLING)
    enrolment.enrol(
        uow, woman, "retiree", AREA, D(2024, 6, 1), deemed_months=240 - 13, back_pay=True
    )
    assert _balance(uow, AccountKind.EMPLOYEE_POOLING) - pooling == 1_046_050


def test_retirement_options_refused_where_they_do_not_apply(
    uow: UnitOfWork, engine: Engine
) -> None:
    who = registry.add_person(uow, nid(6, D(1960, 1, 1)), "选项").label
    before = _counts(engine)
    with pytest.raises(InvalidField) as info:
        enrolment.enrol(uow, who, "resident", AREA, D(2025, 1, 1), deemed_months=12)
    assert info.value.field == "deemed_months"
    with pytest.raises(InvalidField) as info:
        enrolment.enrol(uow, who, "resident", AREA, D(2025, 1, 1), back_pay=True)
    assert info.value.field == "back_pay"
    with pytest.raises(InvalidField) as info:  # nothing missing: nothing to back-pay
        enrolment.enrol(uow, who, "retiree", AREA, D(2025, 1, 1), deemed_months=300, back_pay=True)
    assert info.value.field == "back_pay" and "nothing to back-pay" in info.value.reason
    with pytest.raises(InvalidField) as info:
        enrolment.enrol(uow, who, "retiree", AREA, D(2025, 1, 1), deemed_months=-1)
    assert info.value.field == "deemed_months"
    assert _counts(engine) == before


runner = CliRunner()


def _run(db_url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if code == 0 else result.stderr


def test_retiree_commands(db_url: str, uow: UnitOfWork, engine: Engine) -> None:
    who = registry.add_person(uow, nid(8, D(1968, 1, 1)), "命令").label
    before = _counts(engine)
    err = _run(db_url, "enrol", who, "--kind", "retiree", "--area", AREA, "--on", "2025-06-01",
               "--deemed-months", "230", code=2)  # fmt: skip
    assert "10 months missing" in err and "--back-pay" in err
    assert _counts(engine) == before
    out = _run(db_url, "enrol", who, "--kind", "retiree", "--area", AREA, "--on", "2025-06-01",
               "--deemed-months", "230", "--back-pay")  # fmt: skip
    assert out["kind"] == "retiree"
    assert _balance(uow, AccountKind.EMPLOYEE_POOLING) == 10 * BACKPAY_PER_MONTH_2025


def test_retiree_refused_clearly_where_no_base_is_known(uow: UnitOfWork, engine: Engine) -> None:
    """1990 has no average wage in the parameters: the refusal still names the months missing;
    asking to back-pay names the parameter and the date."""
    who = registry.add_person(uow, nid(11, D(1930, 1, 1)), "早退休").label
    before = _counts(engine)
    with pytest.raises(InvalidField) as info:
        enrolment.enrol(uow, who, "retiree", AREA, D(1990, 1, 1), deemed_months=120)
    assert "180 months missing" in info.value.reason
    with pytest.raises(ParameterError, match=r"economy\.average_wage.*1990-01-01"):
        enrolment.enrol(uow, who, "retiree", AREA, D(1990, 1, 1), deemed_months=120, back_pay=True)
    assert _counts(engine) == before
