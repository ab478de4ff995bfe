"""Fund accounting use cases: reconcile, report fund balances, post the yearly fiscal allocation
to the medical assistance fund, bring in opening balances."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from yibao.domain.errors import AlreadyExists, InvalidField
from yibao.domain.ids import NotStored
from yibao.domain.ledger import (
    AccountKind,
    AccountRef,
    LedgerTransaction,
    Legs,
    balanced_legs,
    credit,
    debit,
    legs_postings,
)
from yibao.domain.registry import check_area
from yibao.policy import fen_to_yuan
from yibao.rules import financing
from yibao.services.common import PolicySource, find_person, policy_for
from yibao.store.financing import aid_recipients
from yibao.store.repositories import BalanceMismatch
from yibao.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class UnbalancedEntry:
    transaction_id: int
    total: int
    postings: int


@dataclass
class ReconciliationReport:
    transactions: int
    postings: int
    posting_sum: int
    balance_sum: int
    unbalanced: list[UnbalancedEntry] = field(default_factory=list)
    mismatches: list[BalanceMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not self.unbalanced
            and not self.mismatches
            and self.posting_sum == 0
            and self.balance_sum == 0
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transactions": self.transactions,
            "postings": self.postings,
            "posting_sum": fen_to_yuan(self.posting_sum),
            "balance_sum": fen_to_yuan(self.balance_sum),
            "unbalanced": [
                {
                    "transaction": u.transaction_id,
                    "sum": fen_to_yuan(u.total),
                    "postings": u.postings,
                }
                for u in self.unbalanced
            ],
            "mismatches": [
                {
                    "account": m.account,
                    "stored": fen_to_yuan(m.stored),
                    "postings": fen_to_yuan(m.postings),
                }
                for m in self.mismatches
            ],
        }


def reconcile(uow: UnitOfWork) -> ReconciliationReport:
    """Every transaction's postings sum to zero (with at least two legs), and every account's
    stored balance equals the sum of its postings."""
    with uow:
        n_txn, n_post, post_sum, bal_sum = uow.ledger.totals()
        return ReconciliationReport(
            transactions=n_txn,
            postings=n_post,
            posting_sum=post_sum,
            balance_sum=bal_sum,
            unbalanced=[UnbalancedEntry(*u) for u in uow.ledger.unbalanced_transactions()],
            mismatches=uow.ledger.balance_mismatches(),
        )


@dataclass(frozen=True, slots=True)
class FundLine:
    code: str
    kind: str
    area: str | None
    balance: int  # natural sign: positive = holds money on its normal side


@dataclass
class FundsReport:
    lines: list[FundLine]
    personal_accounts: int
    personal_total: int  # natural sign

    def as_dict(self) -> dict[str, Any]:
        return {
            "accounts": [
                {"code": x.code, "kind": x.kind, "area": x.area, "balance": fen_to_yuan(x.balance)}
                for x in self.lines
            ],
            "personal_accounts": {
                "count": self.personal_accounts,
                "total": fen_to_yuan(self.personal_total),
            },
        }


def funds_report(uow: UnitOfWork, area: str | None = None) -> FundsReport:
    """Balances of the fund accounts (of one area, or all), personal accounts in one line."""
    with uow:
        lines = [
            FundLine(a.ref.code, a.ref.kind.value, a.ref.pooling_area, a.natural_balance)
            for a in uow.ledger.accounts(area)
            if a.ref.person_id is None
        ]
        count, signed = uow.ledger.personal_totals()
        return FundsReport(lines, count, -signed)


@dataclass(frozen=True, slots=True)
class Allocation:
    """The year's fiscal allocation to an area's medical assistance fund (医疗救助财政补助)."""

    area: str
    year: int
    recipients: int
    amount: int  # fen
    reference: str
    posted: bool  # False: it was already on the ledger (nothing changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "year": self.year,
            "recipients": self.recipients,
            "amount": fen_to_yuan(self.amount),
            "reference": self.reference,
            "posted": self.posted,
        }


def allocate_assistance(
    uow: UnitOfWork,
    area: str,
    year: int,
    *,
    on: dt.date | None = None,
    policies: PolicySource = policy_for,
) -> Allocation:
    """Post the fiscal allocation of ``year`` to the area's medical assistance fund: D
    fiscal_subsidy_receivable, C medical_assistance, by ``rules.financing.assistance_allocation``
    on the aid recipients of the area (an assistance class and an enrolment in the area, both
    in force on some day of the year). Dated ``on`` (default 1 January). One allocation per
    (area, year): a second call posts nothing and says so."""
    check_area(area)
    if not 1900 < year < 3000:
        raise InvalidField("year", "not a plausible year", year)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    on = on or first
    if on.year != year:
        raise InvalidField("on", f"must be a day of {year}", on.isoformat())
    reference = f"allocation:medical_assistance:{area}:{year}"
    with uow:
        recipients = aid_recipients(uow.session, area, first, last)
        amount = financing.assistance_allocation(policies(area), first, recipients)
        if amount == 0:
            return Allocation(area, year, recipients, 0, reference, False)
        txn = LedgerTransaction.of(
            "allocation",
            on,
            [
                debit(AccountRef.fund(AccountKind.FISCAL_SUBSIDY_RECEIVABLE, area), amount),
                credit(AccountRef.fund(AccountKind.MEDICAL_ASSISTANCE, area), amount),
            ],
            f"fiscal allocation {year} to the medical assistance fund of {area} "
            f"({recipients} aid recipients)",
            reference,
        )
        try:
            uow.ledger.post(txn)
        except AlreadyExists:
            uow.rollback()
            return Allocation(area, year, recipients, amount, reference, False)
        uow.commit()
    return Allocation(area, year, recipients, amount, reference, True)


OPENING_KIND = "opening_balance"


def personal_balance(uow: UnitOfWork, person_id: int) -> int:
    """The person's personal account balance (个人账户余额, fen; 0 without an account)."""
    account = uow.ledger.account(AccountRef.personal(person_id))
    return max(account.natural_balance, 0) if account is not None else 0


def opening_reference(person_id: int) -> str:
    return f"opening:personal:{person_id}"


def opening_description(label: str) -> str:
    return f"opening balance of the personal account of {label}"


def opening_legs(amount: int) -> Legs:
    """D opening_balance:<area>, C personal:<person> (pure: ``open_personal_balance`` and the
    bulk load of an area post these legs)."""
    return balanced_legs(
        {AccountKind.OPENING_BALANCE: amount, AccountKind.PERSONAL_ACCOUNT: -amount}, OPENING_KIND
    )


def open_personal_balance(
    uow: UnitOfWork, who: str | int, amount: int, on: dt.date, *, area: str | None = None
) -> int:
    """Bring in a personal account's balance from before the system (期初余额): D
    opening_balance:<area>, C personal:<person>, one transaction per person (reference
    ``opening:personal:<id>``; a second one is refused). ``area`` defaults to the pooling area
    of the person's latest enrolment. Returns the transaction id."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise InvalidField("amount", "must be a positive amount in fen", amount)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        if area is None:
            latest = uow.enrolments.latest_for(person.id)
            if latest is None:
                raise InvalidField("area", f"{person.label} was never enrolled: name the area")
            area = latest.pooling_area
        check_area(area)
        txn = LedgerTransaction.of(
            OPENING_KIND,
            on,
            legs_postings(opening_legs(amount), area, person.id),
            opening_description(person.label),
            opening_reference(person.id),
        )
        txn_id = uow.ledger.post(txn)
        uow.commit()
    return txn_id
