"""Reliability of the settlement service: concurrent settlements of one person on separate
PostgreSQL connections (real threads) cannot spend the same remaining cap or account balance,
and a failure injected between the postings and the rest of a settlement or reversal leaves
nothing behind (on both backends)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow, pg_engine)
from tests.test_store_settlement import AREA, employee, inpatient, resident, snapshot
from yibao.domain.settlement import Claim, Settlement
from yibao.kernel.settle import BASIC_CAP, REASONS
from yibao.services import ledger, settlement
from yibao.services.common import policy_for
from yibao.store.db import make_engine
from yibao.store.repositories import LedgerRepository
from yibao.store.uow import UnitOfWork


def _race(url: str, claims: list[Claim]) -> list[Settlement]:
    """Settle the claims at the same moment, each on its own thread, engine and connection."""
    barrier = threading.Barrier(len(claims))
    results: list[Any] = [None] * len(claims)
    run = uuid.uuid4().hex  # request ids unique to this race (id() of a list can repeat)
    engines = [make_engine(url) for _ in claims]

    def work(i: int) -> None:
        uow = UnitOfWork.for_engine(engines[i])
        with uow:  # open the connection before the start signal
            uow.session.connection()
        barrier.wait(timeout=30)
        try:
            results[i] = settlement.settle(uow, claims[i], f"race-{i}-{run}")
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(claims))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    assert all(isinstance(r, Settlement) for r in results), results
    return results


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_pg_concurrent_settlements_cannot_spend_the_same_account_balance(
    pg_engine: Engine,
) -> None:
    uow = UnitOfWork.for_engine(pg_engine)
    emp = employee(uow, 1, months=6)  # 960.00 yuan in the personal account
    for round_ in range(3):
        day = dt.date(2025, 6, 1 + round_)
        with uow:
            pid = uow.persons.require(emp).id
        with uow:
            from yibao.domain.ledger import AccountRef

            account = uow.ledger.account(AccountRef.personal(pid or 0))
            available = account.natural_balance if account else 0
        # Pharmacy purchases fully self-paid: each share alone would take the whole balance.
        claims = [
            Claim(person=emp, date=day, total=available + 50_000, med_type="pharmacy", level=1,
                  fully_self_paid=available + 50_000)
            for _ in range(2)
        ]  # fmt: skip
        done = _race(_url(pg_engine), claims)
        assert sum(s.amounts["acct_pay"] for s in done) == available
        assert sorted(s.amounts["acct_pay"] for s in done) == [0, available]
        assert ledger.reconcile(uow).ok
        # replenish for the next round
        from yibao.services import contributions

        contributions.pay_employee(uow, emp, dt.date(2024, 7 + round_, 1), 800000,
                                   dt.date(2024, 7 + round_, 20))  # fmt: skip


def test_pg_concurrent_settlements_cannot_spend_the_same_remaining_cap(pg_engine: Engine) -> None:
    uow = UnitOfWork.for_engine(pg_engine)
    res = resident(uow, 3)
    tables = settlement.tables_for(policy_for(AREA), 2025)
    from yibao.kernel.tables import MED_TYPES, SCHEMES

    cap = int(tables.annual_cap[0, SCHEMES.index("resident"), MED_TYPES.index("inpatient")])
    # each claim alone stays under the cap; two together would exceed it
    claims = [inpatient(res, cap, dt.date(2025, 6, 1)) for _ in range(2)]
    alone = settlement.presettle(uow, claims[0]).amounts["hifp_pay"]
    assert cap // 2 < alone < cap
    done = _race(_url(pg_engine), claims)
    paid = sorted(s.amounts["hifp_pay"] for s in done)
    assert sum(paid) == cap and paid == [cap - alone, alone]
    capped = next(s for s in done if s.amounts["hifp_pay"] == cap - alone)
    assert REASONS[BASIC_CAP] in capped.reasons
    assert settlement.year_to_date(uow, res, 2025)["cap:basic.paid"] == cap
    assert ledger.reconcile(uow).ok


def test_failure_between_postings_leaves_nothing(
    uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    emp = employee(uow, 1)
    kept = settlement.settle(uow, inpatient(emp, 300_000, dt.date(2025, 5, 1)), "keep")
    before = snapshot(engine)
    original, original_many = LedgerRepository.post, LedgerRepository.post_many

    def post_then_crash(self: LedgerRepository, txn: Any) -> int:
        original(self, txn)  # the postings are written and the balances moved ...
        raise RuntimeError("injected crash")  # ... then the process dies

    def post_many_then_crash(self: LedgerRepository, txns: Any, ids: Any = None) -> list[int]:
        original_many(self, txns, ids)
        raise RuntimeError("injected crash")

    monkeypatch.setattr(LedgerRepository, "post", post_then_crash)
    monkeypatch.setattr(LedgerRepository, "post_many", post_many_then_crash)
    with pytest.raises(RuntimeError, match="injected"):
        settlement.settle(uow, inpatient(emp, 2_000_000), "crash-1")
    assert snapshot(engine) == before
    assert kept.setl_id is not None
    with pytest.raises(RuntimeError, match="injected"):
        settlement.reverse(uow, kept.setl_id, on=dt.date(2025, 5, 2))
    assert snapshot(engine) == before
    monkeypatch.setattr(LedgerRepository, "post", original)
    monkeypatch.setattr(LedgerRepository, "post_many", original_many)

    # the same requests succeed afterwards: nothing of the failed ones was left
    assert settlement.settle(uow, inpatient(emp, 2_000_000), "crash-1").setl_id
    assert settlement.reverse(uow, kept.setl_id, on=dt.date(2025, 5, 2)).transaction_id
    assert ledger.reconcile(uow).ok


def test_pg_a_settlement_holds_its_visit_until_commit(pg_engine: Engine) -> None:
    """A settlement round reads its visits locked: until it commits, an upload or cancellation
    of the visit's lines (which locks the visit first) cannot slip in. (``FOR SHARE``: the
    settlement's foreign key to the visit alone takes a lock that only ``FOR UPDATE`` waits
    for.)"""
    who = employee(UnitOfWork.for_engine(pg_engine), 1)
    visit = settlement.register_visit(
        UnitOfWork.for_engine(pg_engine), who, "H1", "inpatient", 2, dt.date(2025, 5, 10)
    )
    lock = text("SELECT id FROM visits WHERE mdtrt_id = :m FOR SHARE NOWAIT")
    uow = UnitOfWork.for_engine(pg_engine)
    with uow:
        claim = inpatient(who, 500000, mdtrt_id=visit.mdtrt_id)
        batch = settlement.settle_within(uow, [settlement.ClaimRequest(claim, "lock-1")])
        assert isinstance(batch.outcomes[0], Settlement), batch.outcomes
        with pg_engine.connect() as other, pytest.raises(OperationalError):
            other.execute(lock, {"m": visit.mdtrt_id})
        uow.commit()
    with pg_engine.connect() as other:
        assert other.execute(lock, {"m": visit.mdtrt_id}).all()


def test_pg_a_repeated_request_that_waited_for_the_lock_replays_the_first(
    pg_engine: Engine,
) -> None:
    """A batch repeating a request id that another transaction is settling waits for the
    person's state lock, then finds the first settlement and replays it (the request ids are
    read by a statement begun after the lock was granted): no second settlement, no unique
    violation."""
    who = employee(UnitOfWork.for_engine(pg_engine), 1)
    visit = settlement.register_visit(
        UnitOfWork.for_engine(pg_engine), who, "H1", "inpatient", 2, dt.date(2025, 5, 10)
    )
    request = settlement.ClaimRequest(inpatient(who, 500000, mdtrt_id=visit.mdtrt_id), "dup-1")
    second = make_engine(_url(pg_engine))
    result: list[Any] = []

    def repeat() -> None:
        try:
            result.extend(settlement.settle_many(UnitOfWork.for_engine(second), [request]))
        except Exception as exc:  # reported by the assertion below
            result.append(exc)

    uow = UnitOfWork.for_engine(pg_engine)
    with uow:
        first = settlement.settle_within(uow, [request]).outcomes[0]
        assert isinstance(first, Settlement), first
        thread = threading.Thread(target=repeat)
        thread.start()
        waiting = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        )
        with pg_engine.connect() as other:
            for _ in range(1200):  # until the repeat waits for the state row
                if other.execute(waiting).scalar_one() or not thread.is_alive():
                    break
                threading.Event().wait(0.05)
        assert thread.is_alive(), f"the repeated request did not wait for the lock: {result}"
        uow.commit()
    thread.join(timeout=60)
    second.dispose()
    [again] = result
    assert isinstance(again, Settlement) and again.replayed, again
    assert again.response == first.response
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM settlements")).scalar_one() == 1
