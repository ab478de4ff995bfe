"""Group settlement (``settlement.settle_many``) on SQLite and PostgreSQL: settling claims in one
batch gives, to the fen, what settling them one at a time gives; claims of one person and claims
sharing a personal account through family mutual aid see each other; a refused claim refuses
only itself; a repeated request id answers as the first time."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import employee, resident
from yibao.domain.errors import NotFound, RequestConflict, SettlementRefused
from yibao.domain.ledger import AccountRef
from yibao.domain.settlement import Claim, Settlement
from yibao.services import ledger, registry, settlement
from yibao.services.settlement import ClaimRequest
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork

MED = ("inpatient", "outpatient", "chronic", "pharmacy")


def population(uow: UnitOfWork, offset: int) -> list[str]:
    """Three employees and three residents; employee 0 pays for resident 3 (mutual aid) and
    resident 5 is a 低保 (subsistence allowance) recipient."""
    people = [employee(uow, offset + n, months=12) for n in (1, 2, 3)]
    people += [resident(uow, offset + n) for n in (4, 5, 6)]
    registry.add_relation(uow, people[0], people[3], "child")
    registry.authorise_mutual_aid(uow, people[0], people[3], dt.date(2025, 1, 1))
    registry.add_group(uow, people[5], "dibao", dt.date(2024, 1, 1))
    return people


def claims(seed: int, n: int) -> list[tuple[int, Claim]]:
    """``n`` claims of the six persons (index, claim with person 0 as a placeholder)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        med = rng.choice(MED)
        total = int(rng.lognormvariate(9.5 if med == "inpatient" else 6.0, 1.2) * 100) + 100
        fully = rng.randrange(0, total // 5 + 1)
        day = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(300))
        claim = Claim(
            person=0,
            date=day,
            total=total,
            med_type=med,
            level=rng.choice((1, 2, 3)),
            fully_self_paid=fully,
            category_b=rng.randrange(0, (total - fully) // 3 + 1),
        )
        out.append((rng.randrange(6), claim))
    out.sort(key=lambda ic: ic[1].date)  # the state moves forward in time
    return out


def with_person(claim: Claim, who: str) -> Claim:
    return replace(claim, person=who)


def balance(uow: UnitOfWork, who: str) -> int:
    with uow:
        p = uow.persons.require(who)
        assert p.id is not None
        account = uow.ledger.account(AccountRef.personal(p.id))
        return account.natural_balance if account is not None else 0


def settle_both_ways(uow: UnitOfWork, work: list[tuple[int, Claim]], offset: int) -> None:
    """Settle ``work`` one claim at a time for one population and as one batch for an identical
    one; every settlement, state and balance must agree to the fen."""
    alone, batched = population(uow, offset), population(uow, offset + 10)
    one_by_one = [
        settlement.settle(uow, with_person(c, alone[i]), f"alone-{offset}-{k}")
        for k, (i, c) in enumerate(work)
    ]
    together = settlement.settle_many(
        uow,
        [
            ClaimRequest(with_person(c, batched[i]), f"batch-{offset}-{k}")
            for k, (i, c) in enumerate(work)
        ],
    )
    for k, (a, b) in enumerate(zip(one_by_one, together, strict=True)):
        assert isinstance(b, Settlement), b
        assert a.amounts == b.amounts, (k, work[k])
        assert a.reasons == b.reasons
        assert sum(layer.payment for layer in b.layers) == b.amounts["fund_pay_sumamt"]
    for a, b in zip(alone, batched, strict=True):
        assert settlement.year_to_date(uow, a, 2025) == settlement.year_to_date(uow, b, 2025)
        assert balance(uow, a) == balance(uow, b)
    assert ledger.reconcile(uow).ok


@pytest.mark.parametrize("seed", [1, 2])
def test_a_batch_settles_as_one_at_a_time(uow: UnitOfWork, seed: int) -> None:
    work = claims(seed, 40)
    settle_both_ways(uow, work, 0)
    assert any(i == 3 for i, _ in work)  # the resident paid for by mutual aid claimed


_claim = st.builds(
    lambda i, med, total, fully, day, level: (
        i,
        Claim(
            person=0,
            date=dt.date(2025, 1, 1) + dt.timedelta(days=day),
            total=total,
            med_type=med,
            level=level,
            fully_self_paid=total * fully // 100,
        ),
    ),
    st.integers(0, 5),
    st.sampled_from(MED),
    st.integers(100, 20_000_000),
    st.integers(0, 100),
    st.integers(0, 364),
    st.integers(1, 3),
)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(work=st.lists(_claim, min_size=1, max_size=24))
def test_any_batch_settles_as_one_at_a_time(uow: UnitOfWork, work: list[tuple[int, Claim]]) -> None:
    """Property: whatever the claims (persons repeated, mutual aid, an assistance recipient, any
    order of dates within the year), the batch equals one at a time."""
    with uow:  # each example its own persons: national ID numbers after those already there
        offset = uow.persons.count() * 2  # 12 persons an example, numbered offset + 1 … + 16
    settle_both_ways(uow, sorted(work, key=lambda ic: ic[1].date), offset)


def test_a_refused_claim_refuses_only_itself(uow: UnitOfWork, engine: Engine) -> None:
    people = population(uow, 0)
    on = dt.date(2025, 6, 1)
    good = Claim(person=people[1], date=on, total=500_000, med_type="inpatient", level=2)
    first = settlement.settle(uow, good, "first")
    out = settlement.settle_many(
        uow,
        [
            ClaimRequest(good, "first"),  # a retry: the first answer
            ClaimRequest(with_person(good, "110101199001011237"), "nobody"),
            ClaimRequest(with_person(good, people[2]), "first-b"),
            ClaimRequest(
                Claim(
                    person=people[2],
                    date=dt.date(2023, 1, 1),
                    total=100,
                    med_type="outpatient",
                    level=1,
                ),
                "not-enrolled",
            ),
            ClaimRequest(with_person(good, people[0]), "first"),  # another claim, used id
            ClaimRequest(with_person(good, people[2]), "first-c"),  # same person again
        ],
    )
    assert isinstance(out[0], Settlement) and out[0].replayed
    assert out[0].setl_id == first.setl_id
    assert isinstance(out[1], NotFound)
    assert isinstance(out[2], Settlement) and not out[2].replayed
    assert isinstance(out[3], SettlementRefused) and "not enrolled" in str(out[3])
    assert isinstance(out[4], RequestConflict)
    assert isinstance(out[5], Settlement) and out[5].setl_id != out[2].setl_id
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SettlementRow)) == 3
    assert ledger.reconcile(uow).ok
