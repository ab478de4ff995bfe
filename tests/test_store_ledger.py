"""The double-entry ledger on SQLite and PostgreSQL: balanced contributions, the deferred
balance trigger (PostgreSQL), the pre-commit check (every backend), reconciliation, and family
mutual aid through authorised links."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import _empty, nid
from yibao.domain.errors import (
    InsufficientBalance,
    MutualAidNotAuthorised,
    UnbalancedTransaction,
)
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, credit, debit
from yibao.services import contributions, enrolment, ledger, registry
from yibao.store.models import AccountRow, ContributionRow, LedgerTransactionRow, PostingRow
from yibao.store.uow import UnitOfWork

EMPLOYER = "91360100MA35000001"
AREA = "360100"


def _employee(uow: UnitOfWork, n: int, months: int = 0, wage: int = 800000) -> str:
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, months + 1):
        contributions.pay_employee(uow, who, dt.date(2024, m, 1), wage, dt.date(2024, m, 20))
    return who


def _resident(uow: UnitOfWork, n: int) -> str:
    who = registry.add_person(uow, nid(n, dt.date(2010, 5, 5)), f"居民{n}").label
    enrolment.enrol(uow, who, "resident", AREA, dt.date(2023, 10, 1))
    return who


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as conn:
        return (
            int(conn.scalar(select(func.count()).select_from(LedgerTransactionRow)) or 0),
            int(conn.scalar(select(func.count()).select_from(PostingRow)) or 0),
            int(conn.scalar(select(func.count()).select_from(ContributionRow)) or 0),
            int(conn.scalar(select(func.coalesce(func.sum(func.abs(AccountRow.balance)), 0))) or 0),
        )


def _balance(uow: UnitOfWork, ref: AccountRef) -> int:
    with uow:
        account = uow.ledger.account(ref)
        return account.natural_balance if account else 0


def test_each_contribution_is_one_balanced_transaction(uow: UnitOfWork) -> None:
    emp = _employee(uow, 1, months=2)
    res = _resident(uow, 3)
    registry.add_group(uow, res, "dibao", dt.date(2024, 1, 1))
    contributions.pay_resident(uow, res, 2025, dt.date(2024, 11, 1))
    report = ledger.reconcile(uow)
    assert report.ok and report.transactions == 3
    cash = _balance(uow, AccountRef.fund(AccountKind.CASH, AREA))
    assert cash == 2 * 64000 + 16000  # two months of 8000 × 8%, and the dibao share of 400
    # each month's pooling part (6% of 8000) less the large-amount financing of 3 yuan a month
    assert _balance(uow, AccountRef.fund(AccountKind.EMPLOYEE_POOLING, AREA)) == 2 * (48000 - 300)
    assert _balance(uow, AccountRef.fund(AccountKind.LARGE_AMOUNT, AREA)) == 2 * 300
    # 400 + 700 less the critical illness financing of 10% of it
    assert _balance(uow, AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)) == 110000 - 11000
    assert _balance(uow, AccountRef.fund(AccountKind.CRITICAL_ILLNESS, AREA)) == 110000 // 10
    assert _balance(uow, AccountRef.fund(AccountKind.MEDICAL_ASSISTANCE, AREA)) == -24000
    assert _balance(uow, AccountRef.fund(AccountKind.FISCAL_SUBSIDY_RECEIVABLE, AREA)) == 70000
    with uow:
        person = uow.persons.require(emp)
    assert person.id is not None
    assert _balance(uow, AccountRef.personal(person.id)) == 2 * 16000
    funds = ledger.funds_report(uow, AREA)
    assert funds.personal_accounts == 1 and funds.personal_total == 32000
    assert {line.kind for line in funds.lines} >= {"cash", "employee_pooling", "resident_pooling"}


def test_unbalanced_transaction_refused_in_the_domain() -> None:
    cash = AccountRef.fund(AccountKind.CASH, AREA)
    pool = AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)
    with pytest.raises(UnbalancedTransaction):
        LedgerTransaction("test", dt.date(2025, 1, 1), (debit(cash, 100), credit(pool, 99)))


def test_precommit_check_rejects_tampered_postings(uow: UnitOfWork, engine: Engine) -> None:
    """Tampered postings are refused at commit: by the repository's check on SQLite (which names
    the imbalance), by the deferred trigger on PostgreSQL."""
    _employee(uow, 1, months=1)
    before = _counts(engine)
    cash = AccountRef.fund(AccountKind.CASH, AREA)
    pool = AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)
    with uow:
        txn_id = uow.ledger.post(
            LedgerTransaction("test", dt.date(2025, 1, 1), (debit(cash, 500), credit(pool, 500)))
        )
        uow.session.execute(
            text("UPDATE postings SET amount = 400 WHERE transaction_id = :t AND amount = 500"),
            {"t": txn_id},
        )
        with pytest.raises(UnbalancedTransaction) as info:
            uow.commit()
        if uow.dialect == "sqlite":
            assert info.value.total == -100
    assert _counts(engine) == before
    assert ledger.reconcile(uow).ok


def test_pg_deferred_trigger_rejects_unbalanced_transaction(pg_engine: Engine) -> None:
    """PostgreSQL only: SQLite has no deferred triggers and relies on the repository check."""
    engine = pg_engine
    with engine.begin() as conn:
        for code, kind in (
            ("cash:360100", "cash"),
            ("resident_pooling:360100", "resident_pooling"),
        ):
            conn.execute(
                text(
                    "INSERT INTO accounts (code, kind, pooling_area, normal_side) "
                    "VALUES (:c, :k, '360100', 'debit')"
                ),
                {"c": code, "k": kind},
            )
    ids = {"a": 1, "b": 2}
    # Balanced across two statements: the check waits for COMMIT, so this passes.
    with engine.begin() as conn:
        t = conn.scalar(
            text(
                "INSERT INTO ledger_transactions (kind, occurred_on) "
                "VALUES ('test', '2025-01-01') RETURNING id"
            )
        )
        conn.execute(
            text("INSERT INTO postings (transaction_id, account_id, amount) VALUES (:t, :a, 700)"),
            {"t": t, **ids},
        )
        conn.execute(
            text("INSERT INTO postings (transaction_id, account_id, amount) VALUES (:t, :b, -700)"),
            {"t": t, **ids},
        )
    # Unbalanced: refused at COMMIT, nothing stays.
    with pytest.raises(IntegrityError) as info, engine.begin() as conn:
        t = conn.scalar(
            text(
                "INSERT INTO ledger_transactions (kind, occurred_on) "
                "VALUES ('test', '2025-01-02') RETURNING id"
            )
        )
        conn.execute(
            text("INSERT INTO postings (transaction_id, account_id, amount) VALUES (:t, :a, 700)"),
            {"t": t, **ids},
        )
        conn.execute(
            text("INSERT INTO postings (transaction_id, account_id, amount) VALUES (:t, :b, -699)"),
            {"t": t, **ids},
        )
    assert "unbalanced" in str(info.value) and "sum to 1 fen" in str(info.value)
    # Tampering with a committed posting is refused too.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE postings SET amount = 701 WHERE amount = 700"))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ledger_transactions")) == 1
        assert conn.scalar(text("SELECT sum(amount) FROM postings")) == 0


def test_pg_a_commit_does_not_wait_for_another_units_postings(pg_engine: Engine) -> None:
    """At COMMIT the balances move under the lock an UPDATE of them takes (``FOR NO KEY
    UPDATE``): the postings of another open unit to the same fund accounts, which hold ``KEY
    SHARE`` locks on them by their foreign key, do not hold the commit up (``FOR UPDATE`` would
    wait for them, and two such units committing at once for each other: a deadlock)."""
    cash = AccountRef.fund(AccountKind.CASH, AREA)
    pool = AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)
    with UnitOfWork.for_engine(pg_engine) as uow:  # the accounts exist, committed
        uow.ledger.post(
            LedgerTransaction("test", dt.date(2025, 1, 1), (debit(cash, 1), credit(pool, 1)))
        )
        uow.commit()
    first, second = UnitOfWork.for_engine(pg_engine), UnitOfWork.for_engine(pg_engine)
    with first, second:
        for n, unit in enumerate((first, second), start=2):
            unit.ledger.post(
                LedgerTransaction("test", dt.date(2025, 1, n), (debit(cash, n), credit(pool, n)))
            )
            unit.session.flush()
        first.session.execute(text("SET LOCAL lock_timeout = '10s'"))
        first.commit()  # while the second still holds its postings' locks
        second.commit()
    with pg_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM ledger_transactions")) == 3
    assert ledger.reconcile(UnitOfWork.for_engine(pg_engine)).ok


def test_reconciliation_detects_tampered_balance_and_postings(
    uow: UnitOfWork, engine: Engine
) -> None:
    _employee(uow, 1, months=2)
    assert ledger.reconcile(uow).ok
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = balance + 1 WHERE code = 'cash:360100'"))
    report = ledger.reconcile(uow)
    assert not report.ok
    assert [(m.account, m.stored - m.postings) for m in report.mismatches] == [("cash:360100", 1)]
    assert report.unbalanced == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE accounts SET balance = balance - 1 WHERE code = 'cash:360100'"))
        if engine.dialect.name == "postgresql":  # get past the trigger, as a tamperer would
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text("DELETE FROM postings WHERE id = (SELECT MAX(id) FROM postings)"))
    report = ledger.reconcile(uow)
    assert not report.ok
    # a month has 4 legs (cash, pooling, large amount, personal account): 3 are left
    assert len(report.unbalanced) == 1 and report.unbalanced[0].postings == 3
    assert len(report.mismatches) == 1


def test_mutual_aid_refused_without_authorisation(uow: UnitOfWork, engine: Engine) -> None:
    emp = _employee(uow, 1, months=3)
    mother = _resident(uow, 3)
    registry.add_relation(uow, emp, mother, "parent")
    before = _counts(engine)
    with pytest.raises(MutualAidNotAuthorised) as info:
        contributions.pay_resident(uow, mother, 2025, dt.date(2024, 11, 1), from_account_of=emp)
    assert "no authorisation" in info.value.reason
    assert _counts(engine) == before

    stranger = _resident(uow, 5)
    with pytest.raises(MutualAidNotAuthorised) as info:
        registry.authorise_mutual_aid(uow, emp, stranger, dt.date(2024, 10, 1))
    assert "close relative" in info.value.reason
    with pytest.raises(MutualAidNotAuthorised):
        contributions.pay_resident(uow, stranger, 2025, dt.date(2024, 11, 1), from_account_of=emp)
    with pytest.raises(MutualAidNotAuthorised) as info:  # only an employee's account can pay
        registry.add_relation(uow, mother, stranger, "sibling")
        registry.authorise_mutual_aid(uow, mother, stranger, dt.date(2024, 10, 1))
    assert "employee" in info.value.reason

    registry.authorise_mutual_aid(uow, emp, mother, dt.date(2024, 10, 1))
    with pytest.raises(MutualAidNotAuthorised):  # not yet in force on the payment date
        contributions.pay_resident(uow, mother, 2025, dt.date(2024, 9, 30), from_account_of=emp)
    registry.revoke_mutual_aid(uow, emp, mother, dt.date(2024, 10, 15))
    with pytest.raises(MutualAidNotAuthorised):
        contributions.pay_resident(uow, mother, 2025, dt.date(2024, 11, 1), from_account_of=emp)
    assert _counts(engine)[:3] == before[:3]


def test_mutual_aid_pays_from_personal_account(uow: UnitOfWork) -> None:
    emp = _employee(uow, 1, months=3)  # 3 × 160 = 480 yuan in the account
    child = _resident(uow, 3)
    registry.add_relation(uow, emp, child, "child")
    registry.authorise_mutual_aid(uow, emp, child, dt.date(2024, 10, 1))
    record = contributions.pay_resident(uow, child, 2025, dt.date(2024, 11, 1), from_account_of=emp)
    assert record.mutual_aid_link_id is not None
    with uow:
        owner = uow.persons.require(emp)
        assert owner.id is not None
    assert _balance(uow, AccountRef.personal(owner.id)) == 48000 - 40000
    # 400 + 700, less the 10% critical illness financing
    assert _balance(uow, AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)) == 110000 - 11000
    assert ledger.reconcile(uow).ok
    sibling = _resident(uow, 5)
    registry.add_relation(uow, emp, sibling, "sibling")
    registry.authorise_mutual_aid(uow, emp, sibling, dt.date(2024, 10, 1))
    with pytest.raises(InsufficientBalance) as info:
        contributions.pay_resident(uow, sibling, 2025, dt.date(2024, 11, 1), from_account_of=emp)
    assert (info.value.available, info.value.needed) == (8000, 40000)


def test_ledger_balanced_after_any_operations(engine: Engine) -> None:
    """A small stateful test: random enrolments and payments; the ledger always reconciles and
    cash equals what people paid."""

    class Ledger(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            _empty(engine)
            self.uow = UnitOfWork.for_engine(engine)
            self.employees: list[str] = []
            self.residents: list[str] = []
            self.paid: set[tuple[str, int]] = set()
            self.cash = 0
            self.n = 0

        def _next(self) -> int:
            self.n += 2
            return self.n

        @rule()
        def add_employee(self) -> None:
            self.employees.append(_employee(self.uow, self._next() + 1))

        @rule()
        def add_resident(self) -> None:
            self.residents.append(_resident(self.uow, self._next()))

        @rule(data=st.data(), month=st.integers(1, 12), wage=st.integers(0, 4_000_000))
        def pay_employee(self, data: st.DataObject, month: int, wage: int) -> None:
            if not self.employees:
                return
            who = data.draw(st.sampled_from(self.employees))
            if (who, month) in self.paid:
                return
            c = contributions.pay_employee(
                self.uow, who, dt.date(2024, month, 1), wage, dt.date(2024, month, 28)
            )
            self.paid.add((who, month))
            self.cash += c.total

        @rule(data=st.data())
        def pay_resident(self, data: st.DataObject) -> None:
            if not self.residents:
                return
            who = data.draw(st.sampled_from(self.residents))
            if (who, 2025) in self.paid:
                return
            c = contributions.pay_resident(self.uow, who, 2025, dt.date(2024, 12, 1))
            self.paid.add((who, 2025))
            self.cash += c.individual - c.assistance_paid

        @invariant()
        def reconciles(self) -> None:
            report = ledger.reconcile(self.uow)
            assert report.ok, report.as_dict()
            assert _balance(self.uow, AccountRef.fund(AccountKind.CASH, AREA)) == self.cash

    run_state_machine_as_test(
        Ledger,
        settings=settings(
            max_examples=6,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_past_years_are_priced_from_their_own_national_figures(uow: UnitOfWork) -> None:
    # resident: 2012 = 60 + 240 yuan (NCMS2012), 2020 = 280 + 550 yuan (RES2020); employee in June
    # 2015: a wage of 1,000 yuan is clamped up to 60% of the 2014 average wage, 56,339 yuan / 12
    res = registry.add_person(uow, nid(41, dt.date(1990, 5, 5)), "居民41").label
    enrolment.enrol(uow, res, "resident", AREA, dt.date(2011, 10, 1))
    r2012 = contributions.pay_resident(uow, res, 2012, dt.date(2011, 11, 1))
    r2020 = contributions.pay_resident(uow, res, 2020, dt.date(2019, 11, 1))
    assert (r2012.individual, r2012.fiscal_subsidy) == (60_00, 240_00)
    assert (r2020.individual, r2020.fiscal_subsidy) == (280_00, 550_00)
    emp = registry.add_person(uow, nid(42), "职工42").label
    enrolment.enrol(uow, emp, "employer", AREA, dt.date(2015, 1, 1), employer_code=EMPLOYER)
    e = contributions.pay_employee(uow, emp, dt.date(2015, 6, 1), 1000_00, dt.date(2015, 6, 20))
    base = (56339_00 * 6 // 10 + 6) // 12
    assert e.base == base == 2816_95
    assert (e.employer_part, e.employee_part) == ((base * 6 + 50) // 100, (base * 2 + 50) // 100)
    assert ledger.reconcile(uow).ok
    # 10% of each resident contribution finances critical illness insurance (rules.financing)
    shares = (60_00 + 240_00) // 10 + (280_00 + 550_00) // 10
    assert _balance(uow, AccountRef.fund(AccountKind.CRITICAL_ILLNESS, AREA)) == shares
    assert _balance(uow, AccountRef.fund(AccountKind.RESIDENT_POOLING, AREA)) == (
        60_00 + 240_00 + 280_00 + 550_00 - shares
    )
