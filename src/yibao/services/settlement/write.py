"""Writing a round of settlements: new visits, one balanced ledger transaction each (funds,
personal accounts and the institution's counter cash debited, the institution's medical fees
credited), the settlements with their layers and the moved year-to-date states: with their ids
reserved (a batch on PostgreSQL) all in one statement, otherwise one (or an executemany) per
table."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from yibao.domain.ids import NotStored
from yibao.domain.ledger import AccountKind, AccountRef, LedgerTransaction, Posting, credit, debit
from yibao.domain.settlement import Settlement, SettlementStatus, Visit
from yibao.kernel.report import FUND_CODES
from yibao.services.settlement.answer import answer_json
from yibao.services.settlement.claims import ClaimRequest, Outcome
from yibao.services.settlement.common import new_id
from yibao.services.settlement.compute import Computed
from yibao.store.repositories import SettlementRecord
from yibao.store.sql import gathered
from yibao.store.uow import UnitOfWork

#: Fund type code (基金支付类型) → the ledger account the layer is paid from.
FUND_ACCOUNTS = {
    FUND_CODES["basic_employee"][0]: AccountKind.EMPLOYEE_POOLING,
    FUND_CODES["basic_resident"][0]: AccountKind.RESIDENT_POOLING,
    FUND_CODES["critical_illness"][0]: AccountKind.CRITICAL_ILLNESS,
    FUND_CODES["large_amount"][0]: AccountKind.LARGE_AMOUNT,
    FUND_CODES["assistance"][0]: AccountKind.MEDICAL_ASSISTANCE,
}


def postings(c: Computed) -> list[Posting]:
    """The settlement's legs: each fund layer and personal account debited with what it pays,
    ``commercial_receivable:<area>`` with what the person's commercial product (惠民保) pays
    (the insurer owes it), ``institution_collected:<code>`` debited with the patient's cash
    paid at the counter, and ``institution_payable:<code>`` credited with the medical fees
    (``medfee_sumamt``, their sum: total = funds + commercial + account + mutual aid + cash).
    The institution is owed the difference of its two accounts until the month is cleared
    (``services.clearing``)."""
    area = c.input.enrolment.pooling_area
    code = institution_code(c.fixmedins_code)
    legs = [
        debit(AccountRef.fund(FUND_ACCOUNTS[layer.fund_pay_type], area), layer.payment)
        for layer in c.answer.layers
    ]
    if c.input.cover is not None:  # the insurer's part: owed to the area by the insurer
        legs.append(
            debit(
                AccountRef.fund(AccountKind.COMMERCIAL_RECEIVABLE, area),
                c.amounts.get("commercial_pay", 0),
            )
        )
    legs.append(debit(AccountRef.personal(c.input.file.id), c.amounts["acct_pay"]))
    if c.input.link is not None:
        legs.append(debit(AccountRef.personal(c.input.link.owner_id), c.amounts["acct_mulaid_pay"]))
    legs.append(
        debit(
            AccountRef.of_institution(AccountKind.INSTITUTION_COLLECTED, code),
            c.amounts["psn_cash_pay"],
        )
    )
    legs.append(
        credit(
            AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, code),
            c.amounts["medfee_sumamt"],
        )
    )
    return legs


def institution_code(fixmedins_code: str | None) -> str:
    """The institution a settlement is recorded for: its code, ``unknown`` when none was given
    (a settlement from the command line without ``--institution``)."""
    return fixmedins_code or UNKNOWN_INSTITUTION


UNKNOWN_INSTITUTION = "unknown"


def store_round(
    uow: UnitOfWork,
    requests: Sequence[ClaimRequest],
    ready: Sequence[int],
    computed: Sequence[Computed],
    outcomes: list[Outcome | None],
) -> None:
    """Write a round's settlements (``computed[k]`` answers ``requests[ready[k]]``) and set
    their outcomes."""
    new = [
        Visit(
            mdtrt_id=new_id("V"),
            person_id=c.input.file.id,
            fixmedins_code=institution_code(c.fixmedins_code),
            med_type=c.input.med_type,
            level=c.input.level,
            begin_date=c.input.claim.date,
            cross_region=c.input.cross_region,
        )
        for c in computed
        if c.input.visit is None
    ]
    setl_ids = [new_id("S") for _ in computed]
    legs = [[p for p in postings(c) if p.amount] for c in computed]
    txns = [
        LedgerTransaction.of(
            "settlement",
            c.input.claim.date,
            lg,
            f"settlement {sid} of {c.input.file.person.label} at "
            f"{institution_code(c.fixmedins_code)}",
            f"settlement:{sid}",
            c.input.enrolment.pooling_area,
        )
        for c, sid, lg in zip(computed, setl_ids, legs, strict=True)
        if lg  # nothing to post for a settlement of nothing
    ]
    # the ids of the accounts posted to (the funds') read with the new rows' ids: one statement,
    # even for one settlement (its rows then go as one statement: two instead of three)
    accounts = uow.ledger.unresolved(p.account for t in txns for p in t.postings)
    ids = uow.settlements.reserve_ids(
        len(new), len(txns), len(computed), sorted(accounts), at_least=1
    )
    if ids is not None:
        uow.ledger.resolved({accounts[code]: i for code, i in ids.accounts.items()})
    with gathered(uow.session):  # the ids reserved: the rows below go as one statement
        fresh_visits = iter(uow.settlements.add_visits(new, ids.visits if ids else None))
        visits = [c.input.visit or next(fresh_visits) for c in computed]
        posted = iter(uow.ledger.post_many(txns, ids.transactions if ids else None))
        records = []
        for i, c, visit, sid, lg in zip(ready, computed, visits, setl_ids, legs, strict=True):
            if visit.id is None:
                raise NotStored("visit")
            inp = c.input
            answer = dataclasses.replace(c.answer, setl_id=sid, mdtrt_id=visit.mdtrt_id)
            result = Settlement(
                answer=answer,
                person_id=inp.file.id,
                status=SettlementStatus.SETTLED,
                response=answer_json(answer),
                transaction_id=next(posted) if lg else None,
            )
            records.append(
                SettlementRecord(
                    settlement=result,
                    request_id=requests[i].request_id,
                    request_digest=inp.claim.digest(),
                    visit_id=visit.id,
                    pooling_area=inp.enrolment.pooling_area,
                    settled_on=inp.claim.date,
                    scheme=inp.scheme,
                    admission_no=answer.admission_no,
                    reasons=c.flags,
                    mutual_aid_link_id=inp.link.id
                    if inp.link is not None and c.amounts["acct_mulaid_pay"]
                    else None,
                    state_delta=c.delta,
                    commercial_pay=c.amounts.get("commercial_pay", 0),
                    commercial_purchase_id=inp.cover.purchase_id if inp.cover is not None else None,
                )
            )
            outcomes[i] = result
        uow.settlements.add_many(records, ids.settlements if ids else None)
        uow.settlements.save_states(
            [(c.input.file.id, c.input.claim.date.year, c.state_after, 1) for c in computed]
        )
