"""Reversal (2208): the exact negation of a settlement's ledger transaction, and its stored
state delta taken out of the year-to-date state, each capped layer's running total reset to
what it paid (``kernel.settle.reversed_state``, see ``docs/store.md``)."""

from __future__ import annotations

import datetime as dt

from yibao.domain.errors import InvalidField, NotFound, SettlementRefused
from yibao.domain.ledger import LedgerTransaction, Posting
from yibao.domain.settlement import Reversal, SettlementStatus
from yibao.kernel.settle import reversed_state
from yibao.services import clock
from yibao.services.settlement.answer import answer_from_json, reversal_json
from yibao.services.settlement.common import not_after_today
from yibao.store.uow import UnitOfWork


def reverse(
    uow: UnitOfWork,
    setl_id: str,
    *,
    on: dt.date | None = None,
    request_id: str | None = None,
) -> Reversal:
    """Reverse a settlement (2208): a transaction with every posting negated, the year-to-date
    state what the settlements still in force contributed (``reversed_state``: the settlement's
    delta taken out, running totals reset to what was paid), the settlement marked reversed. An
    unknown or already reversed settlement is refused (a repeat of the same reversal request
    id gets the first answer)."""
    day = on or clock.today()
    not_after_today("date", day)
    with uow:
        done = reverse_within(uow, setl_id, day, request_id=request_id)
        uow.commit()
    return done


def reverse_within(
    uow: UnitOfWork, setl_id: str, day: dt.date, *, request_id: str | None = None
) -> Reversal:
    """``reverse`` inside a unit of work the caller opened and commits (the maternity one-step
    undoes its settlement and its allowance together): the settlement's state row and row
    locked, refused when it is unknown or already reversed (a repeat of its reversal request id
    gets the first answer), or ``day`` is before it."""
    found = uow.settlements.get(setl_id)
    if found is None:
        raise NotFound("settlement", setl_id)
    state = uow.settlements.lock_state(found.person_id, found.year)
    row = uow.settlements.get(setl_id, lock=True)
    assert row is not None
    if row.status is SettlementStatus.REVERSED:
        assert row.reversed_on is not None
        if request_id is not None and request_id == row.reversal_request_id:
            return Reversal(
                row.setl_id,
                row.reversed_on,
                row.reversal_transaction_id,
                row.reversal_response or {},
                replayed=True,
            )
        raise SettlementRefused(
            f"settlement {setl_id}", f"already reversed on {row.reversed_on.isoformat()}"
        )
    answer = answer_from_json(row.response)
    if day < answer.date:
        raise InvalidField("on", "is before the settlement", day)
    txn_id: int | None = None
    if row.transaction_id is not None:
        legs = [Posting(p.account, -p.amount) for p in uow.ledger.postings_of(row.transaction_id)]
        txn_id = uow.ledger.post(
            LedgerTransaction.of(
                "settlement_reversal",
                day,
                legs,
                f"reversal of settlement {setl_id}",
                f"settlement-reversal:{setl_id}",
                uow.ledger.area_of(row.transaction_id),
            )
        )
    uow.settlements.save_state(
        row.person_id, row.year, reversed_state(state, row.state_delta, answer.admission_no), -1
    )
    response = reversal_json(answer, day, row.amounts)
    uow.settlements.mark_reversed(row.id, day, request_id or f"reverse:{setl_id}", txn_id, response)
    return Reversal(setl_id, day, txn_id, response)
