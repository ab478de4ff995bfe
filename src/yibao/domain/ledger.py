"""Double-entry fund accounting: every transaction's postings sum to zero.

Amounts are integer fen, debit positive and credit negative. Asset accounts (cash,
receivables) are debit-normal; funds and personal accounts are credit-normal, so their
stored (signed) balance is negative when they hold money; ``natural_balance`` flips it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from yibao.domain.errors import InvalidField, UnbalancedTransaction
from yibao.policy.vocab import InsuranceScheme
from yibao.rules.funds import province_of as province_of


class AccountKind(StrEnum):
    CASH = "cash"
    CONTRIBUTIONS_RECEIVABLE = "contributions_receivable"
    FISCAL_SUBSIDY_RECEIVABLE = "fiscal_subsidy_receivable"
    EMPLOYEE_POOLING = "employee_pooling"
    RESIDENT_POOLING = "resident_pooling"
    CRITICAL_ILLNESS = "critical_illness"
    LARGE_AMOUNT = "large_amount"
    MEDICAL_ASSISTANCE = "medical_assistance"
    # provincial adjustment fund (省级调剂金), one per scheme: keyed by province code
    EMPLOYEE_ADJUSTMENT = "employee_adjustment"
    RESIDENT_ADJUSTMENT = "resident_adjustment"
    PERSONAL_ACCOUNT = "personal_account"
    # equity counter account of balances brought in from before the system (期初余额), e.g. the
    # personal accounts of a loaded area; credit-normal, so it goes negative as they come in
    OPENING_BALANCE = "opening_balance"
    # a designated institution's account with the funds (定点医药机构往来), keyed by its code:
    # the medical fees of its settlements not yet cleared (credit-normal: what it is owed in
    # all) and the patients' cash it collected at the counter for them (debit-normal: what it
    # already holds); the funds owe it the difference until the month is cleared (清算)
    INSTITUTION_PAYABLE = "institution_payable"
    INSTITUTION_COLLECTED = "institution_collected"
    # cross-region direct settlement (异地就医直接结算), keyed by area: what other areas' funds
    # owe this area for the care its institutions gave their insured, advanced out of this
    # area's cash when it paid its institutions (debit-normal), and what this area's funds owe
    # other areas for the care of its own insured there (credit-normal); the monthly clearing
    # between two areas (``domain.cross_region``) settles both
    CROSS_REGION_RECEIVABLE = "cross_region_receivable"
    CROSS_REGION_PAYABLE = "cross_region_payable"
    # a major epidemic (重大疫情): what the area's funds advanced to designated institutions
    # before settlement and have not cleared yet (debit-normal, keyed by area)
    EPIDEMIC_ADVANCE = "epidemic_advance"
    # supplementary commercial insurance (惠民保), keyed by area: what the insurers owe the area
    # for the commercial part of its settlements (commercial_pay), which the institutions are
    # paid with the rest of their fees (debit-normal); the monthly statement per insurer
    # (``services.commercial.statement``) is what each owes of it
    COMMERCIAL_RECEIVABLE = "commercial_receivable"

    @classmethod
    def pooling(cls, scheme: InsuranceScheme) -> AccountKind:
        """The pooling fund (统筹基金) of a scheme."""
        return _POOLING[scheme]

    @classmethod
    def adjustment(cls, scheme: InsuranceScheme) -> AccountKind:
        """The provincial adjustment fund of a scheme."""
        return _ADJUSTMENT[scheme]

    @property
    def provincial(self) -> bool:
        """Keyed by province (the adjustment funds), not by pooling area."""
        return self in _ADJUSTMENT.values()

    @property
    def debit_normal(self) -> bool:
        return self in _DEBIT_NORMAL

    @property
    def normal_side(self) -> str:
        """``debit`` or ``credit``: the side on which the account holds money."""
        return "debit" if self.debit_normal else "credit"


_DEBIT_NORMAL = frozenset(
    {
        AccountKind.CASH,
        AccountKind.CONTRIBUTIONS_RECEIVABLE,
        AccountKind.FISCAL_SUBSIDY_RECEIVABLE,
        AccountKind.INSTITUTION_COLLECTED,
        AccountKind.CROSS_REGION_RECEIVABLE,
        AccountKind.EPIDEMIC_ADVANCE,
        AccountKind.COMMERCIAL_RECEIVABLE,
    }
)
#: The kinds keyed by a designated institution's code (not by area or person).
INSTITUTION_KINDS = frozenset({AccountKind.INSTITUTION_PAYABLE, AccountKind.INSTITUTION_COLLECTED})


_POOLING = {
    InsuranceScheme.EMPLOYEE: AccountKind.EMPLOYEE_POOLING,
    InsuranceScheme.RESIDENT: AccountKind.RESIDENT_POOLING,
}
_ADJUSTMENT = {
    InsuranceScheme.EMPLOYEE: AccountKind.EMPLOYEE_ADJUSTMENT,
    InsuranceScheme.RESIDENT: AccountKind.RESIDENT_ADJUSTMENT,
}


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    """Names an account: a fund of a pooling area, one person's personal account, or a
    designated institution's account."""

    kind: AccountKind
    pooling_area: str | None = None
    person_id: int | None = None
    institution: str | None = None

    def __post_init__(self) -> None:
        keys = (self.pooling_area, self.person_id, self.institution)
        if self.kind is AccountKind.PERSONAL_ACCOUNT:
            if self.person_id is None or sum(k is not None for k in keys) != 1:
                raise InvalidField("account", "a personal account is keyed by person only")
        elif self.kind in INSTITUTION_KINDS:
            if not self.institution or sum(k is not None for k in keys) != 1:
                raise InvalidField(
                    "account", f"a {self.kind.value} account is keyed by institution only"
                )
        elif self.pooling_area is None or sum(k is not None for k in keys) != 1:
            raise InvalidField("account", f"a {self.kind.value} account is keyed by area only")
        elif self.kind.provincial and province_of(self.pooling_area) != self.pooling_area:
            raise InvalidField("account", f"a {self.kind.value} account is keyed by province")

    @classmethod
    def fund(cls, kind: AccountKind, area: str) -> AccountRef:
        if kind.provincial:
            area = province_of(area)
        return cls(kind, pooling_area=area)

    @classmethod
    def personal(cls, person_id: int) -> AccountRef:
        return cls(AccountKind.PERSONAL_ACCOUNT, person_id=person_id)

    @classmethod
    def of_institution(cls, kind: AccountKind, code: str) -> AccountRef:
        return cls(kind, institution=code)

    @property
    def code(self) -> str:
        if self.kind is AccountKind.PERSONAL_ACCOUNT:
            return f"personal:{self.person_id}"
        if self.kind in INSTITUTION_KINDS:
            return f"{self.kind.value}:{self.institution}"
        return f"{self.kind.value}:{self.pooling_area}"


@dataclass(frozen=True, slots=True)
class Posting:
    account: AccountRef
    amount: int  # fen; debit > 0, credit < 0


def debit(account: AccountRef, fen: int) -> Posting:
    return Posting(account, fen)


def credit(account: AccountRef, fen: int) -> Posting:
    return Posting(account, -fen)


#: The legs of a transaction by kind of account, signed (debit > 0, credit < 0), in posting
#: order: what a builder of the services computes once and both the online services (as
#: postings, ``legs_postings``) and the bulk load of an area (as account columns) write.
Legs = dict[AccountKind, int]


def balanced_legs(legs: Legs, what: str) -> Legs:
    """The legs without the zero ones; refused unless at least two remain and they sum to zero
    (as ``LedgerTransaction`` refuses them)."""
    kept = {kind: fen for kind, fen in legs.items() if fen != 0}
    if len(kept) < 2:
        raise InvalidField("postings", "a transaction has at least two postings")
    total = sum(kept.values())
    if total != 0:
        raise UnbalancedTransaction(what, total)
    return kept


def legs_postings(
    legs: Legs, area: str, person_id: int | None = None, institution: str | None = None
) -> list[Posting]:
    """The postings of ``legs``: a fund leg on the area's account of that kind, the personal
    account leg on ``person_id``'s account, an institution leg on ``institution``'s."""
    out = []
    for kind, fen in legs.items():
        if kind is AccountKind.PERSONAL_ACCOUNT:
            if person_id is None:
                raise InvalidField("account", "a personal account leg names its person")
            out.append(Posting(AccountRef.personal(person_id), fen))
        elif kind in INSTITUTION_KINDS:
            if institution is None:
                raise InvalidField("account", "an institution leg names its institution")
            out.append(Posting(AccountRef.of_institution(kind, institution), fen))
        else:
            out.append(Posting(AccountRef.fund(kind, area), fen))
    return out


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    kind: str
    occurred_on: dt.date
    postings: tuple[Posting, ...]
    description: str = ""
    reference: str | None = None  # unique business key (idempotency), e.g. contribution:42
    #: the pooling area the transaction belongs to, where no leg says it (a settlement paid by
    #: personal account and cash: its legs are keyed by person and institution)
    area: str | None = None

    def __post_init__(self) -> None:
        for p in self.postings:
            if isinstance(p.amount, bool) or not isinstance(p.amount, int) or p.amount == 0:
                raise InvalidField(
                    "amount", f"posting amounts are non-zero integer fen, got {p.amount!r}"
                )
        if len(self.postings) < 2:
            raise InvalidField("postings", "a transaction has at least two postings")
        total = sum(p.amount for p in self.postings)
        if total != 0:
            raise UnbalancedTransaction(self.reference or self.kind, total)

    @classmethod
    def of(
        cls,
        kind: str,
        occurred_on: dt.date,
        postings: Iterable[Posting],
        description: str = "",
        reference: str | None = None,
        area: str | None = None,
    ) -> LedgerTransaction:
        """Build a transaction, dropping zero legs (e.g. a subsidy share of 0)."""
        legs = tuple(p for p in postings if p.amount != 0)
        return cls(kind, occurred_on, legs, description, reference, area)


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    ref: AccountRef
    balance: int  # signed: sum of postings

    @property
    def natural_balance(self) -> int:
        """Positive when the account holds money on its normal side."""
        return self.balance if self.ref.kind.debit_normal else -self.balance
