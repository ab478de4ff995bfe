"""The funds a fund manager watches (基金运行分析) and their yearly budgets (基金预算).

A fund is a credit-normal kind of ledger account: the pooling funds of an area, the personal
accounts of its insured (kept per person, counted together), and the province's adjustment fund of
each scheme (keyed by the province's code). Amounts are integer fen.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind
from yibao.domain.registry import check_area

#: The funds analysed, in report order (rules.md §7).
FUNDS: tuple[AccountKind, ...] = (
    AccountKind.EMPLOYEE_POOLING,
    AccountKind.PERSONAL_ACCOUNT,
    AccountKind.RESIDENT_POOLING,
    AccountKind.CRITICAL_ILLNESS,
    AccountKind.LARGE_AMOUNT,
    AccountKind.MEDICAL_ASSISTANCE,
    AccountKind.EMPLOYEE_ADJUSTMENT,
    AccountKind.RESIDENT_ADJUSTMENT,
)
FUND_NAMES: tuple[str, ...] = tuple(f.value for f in FUNDS)

#: Funds whose balance is a pooled reserve judged in months of spending (back-office.md §2):
#: not the personal accounts (each person's own money) nor the adjustment fund (whose size is
#: ruled by the pause line of the adjustment, not by months of its own spending).
RESERVE_FUNDS: frozenset[AccountKind] = frozenset(
    f for f in FUNDS if f is not AccountKind.PERSONAL_ACCOUNT and not f.provincial
)

#: Transaction kinds that undo an earlier expenditure: their postings count against the
#: fund's expenditure (negative), not as income.
REVERSAL_KINDS: tuple[str, ...] = ("settlement_reversal", "maternity_allowance_reversal")
#: Transaction kinds that bring in balances from before the system: they move the balance but
#: are neither income nor expenditure of the month.
TRANSFER_KINDS: tuple[str, ...] = ("opening_balance",)

#: How a posting moves a fund: a credit (income), a debit (expenditure), a posting of a
#: reversal (reduces expenditure), a transfer of a balance from before the system (neither).
CREDIT, DEBIT, REVERSAL, TRANSFER = "credit", "debit", "reversal", "transfer"
PARTS: tuple[str, ...] = (CREDIT, DEBIT, REVERSAL, TRANSFER)

#: A fund's month total: (fund, area or "" when unknown, year, month, part).
MonthKey = tuple[str, str, int, int, str]

FIRST_YEAR, LAST_YEAR = 1990, 2200


def part_of(transaction_kind: str, amount: int) -> str:
    """How a posting of ``amount`` (debit > 0) in a transaction of that kind moves its fund."""
    if transaction_kind in REVERSAL_KINDS:
        return REVERSAL
    if transaction_kind in TRANSFER_KINDS:
        return TRANSFER
    return CREDIT if amount < 0 else DEBIT


def month_moves(
    transaction_kind: str,
    occurred_on: dt.date,
    legs: Iterable[tuple[AccountKind, str | None, int]],
    area: str | None = None,
) -> dict[MonthKey, int]:
    """What a transaction adds to the funds' month totals: its fund legs (kind, area, signed
    amount) summed by fund, area, month and part. A personal account leg (keyed by person) is
    counted in the transaction's area: ``area`` when the transaction names it, else that of its
    other legs (a settlement's, a contribution's pooling area)."""
    legs = list(legs)
    if area is None:
        area = next((a for k, a, _ in legs if a is not None and not k.provincial), "")
    out: dict[MonthKey, int] = defaultdict(int)
    for kind, leg_area, amount in legs:
        if kind in FUNDS and amount:
            key = (
                kind.value,
                leg_area if leg_area is not None else area,
                occurred_on.year,
                occurred_on.month,
                part_of(transaction_kind, amount),
            )
            out[key] += amount
    return dict(out)


def check_year(year: int, field: str = "year") -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidField(field, f"must be a year from {FIRST_YEAR} to {LAST_YEAR}", year)
    return year


def fund_of(name: str, field: str = "fund") -> AccountKind:
    """The fund named ``name`` (an account kind of ``FUNDS``), or a clear refusal."""
    for fund in FUNDS:
        if fund.value == name:
            return fund
    raise InvalidField(field, f"{name!r} is not a fund (one of {', '.join(FUND_NAMES)})")


@dataclass(frozen=True, slots=True)
class Budget:
    """A fund's budget for a year in an area: its income and expenditure lines (fen)."""

    year: int
    area: str
    fund: AccountKind
    income: int
    expenditure: int

    def __post_init__(self) -> None:
        check_year(self.year)
        check_area(self.area)
        if self.fund not in FUNDS:
            raise InvalidField("fund", f"{self.fund.value} is not a fund")
        for name in ("income", "expenditure"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidField(name, "must be a non-negative amount in fen", value)
