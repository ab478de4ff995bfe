"""Monthly settlement with designated institutions (清算): the rules of what the funds owe an
institution for a month and the balanced transaction that pays it. Pure: amounts in fen.

A settlement posts the institution's medical fees (``medfee_sumamt``) to
``institution_payable:<code>`` (credit) and the patient's counter cash (``psn_cash_pay``) to
``institution_collected:<code>`` (debit); a reversal (2208) posts the negation. The month's
clearing closes exactly what the month's settlements and reversals posted there, and pays the
difference out of each pooling area's cash. A cross-region settlement (异地就医直接结算: the
visit is cross-region and the institution is registered in another area than the insured's) is
paid out of the treating area's cash in advance: that area's receivable and the insured area's
payable record it until the two areas clear the month (``domain.cross_region``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, Posting, credit, debit

#: The amounts of a settlement a statement sums (fen), as the national platform names them.
CLEARED_AMOUNTS = (
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str, field: str = "month") -> dt.date:
    """``YYYY-MM`` → the month's first day; anything else is refused naming ``field``."""
    found = _MONTH.match(text)
    if found is None:
        raise InvalidField(field, "must be a month as YYYY-MM", text)
    year = int(found.group(1))
    if not 1990 <= year <= 2200:
        raise InvalidField(field, "year out of range (1990-2200)", text)
    return dt.date(year, int(found.group(2)), 1)


def month_end(first: dt.date) -> dt.date:
    """The last day of ``first``'s month."""
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def owed_to_institution(amounts: Mapping[str, int]) -> int:
    """What the funds owe an institution for a settlement (应付医疗机构): ``medfee_sumamt −
    psn_cash_pay`` (the patient paid the cash at the counter), what the funds, the personal
    accounts and the person's supplementary commercial product (惠民保, paid by the area and
    owed to it by the insurer: ``commercial_receivable``) paid."""
    return amounts["medfee_sumamt"] - amounts["psn_cash_pay"]


def clearing_reference(institution: str, first: dt.date) -> str:
    """The business key of the payment of ``institution``'s month: one per institution and
    month (``clearing:<code>:<YYYY-MM>``)."""
    return f"clearing:{institution}:{first:%Y-%m}"


@dataclass(frozen=True, slots=True)
class MonthTotals:
    """An institution's month, net of reversals: the settlements and reversals counted, each of
    ``CLEARED_AMOUNTS`` and what the funds owe, by pooling area; of that, what the treating
    area advances for cross-region settlements, by (insured area, treating area)."""

    settled: int
    reversed: int
    amounts: dict[str, int]
    owed_by_area: dict[str, int]
    advanced: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """``fixmedins_setl_cnt``: the settlements of the month less the reversals in it."""
        return self.settled - self.reversed

    @property
    def owed(self) -> int:
        return sum(self.owed_by_area.values())


#: A group of a month's settlements (sign +1) or reversals (−1): the sign, how many, the insured's
#: pooling area, the treating area when it is another (a cross-region settlement) else None, and
#: the sum of the settlements' amounts.
LineGroup = tuple[int, int, str, str | None, Mapping[str, int]]


def month_totals(groups: Iterable[LineGroup]) -> MonthTotals:
    """Sum ``(sign, count, pooling area, treating area, amounts)`` groups: ``count`` settlements
    of the month (sign +1) or reversals in the month (−1) and the sum of their settlements'
    amounts; what a treating area other than the pooling area advances, by pair."""
    settled = reversed_ = 0
    amounts = dict.fromkeys(CLEARED_AMOUNTS, 0)
    by_area: dict[str, int] = {}
    advanced: dict[tuple[str, str], int] = {}
    for sign, count, area, treating, a in groups:
        if sign > 0:
            settled += count
        else:
            reversed_ += count
        for name in CLEARED_AMOUNTS:
            amounts[name] += sign * a[name]
        owed = sign * owed_to_institution(a)
        by_area[area] = by_area.get(area, 0) + owed
        if treating is not None and treating != area:
            advanced[area, treating] = advanced.get((area, treating), 0) + owed
    return MonthTotals(
        settled, reversed_, amounts, dict(sorted(by_area.items())), dict(sorted(advanced.items()))
    )


def clearing_postings(institution: str, totals: MonthTotals) -> list[Posting]:
    """The payment of an institution's month: D ``institution_payable:<code>`` (the month's
    medical fees), C ``institution_collected:<code>`` (the month's counter cash, set against
    them), C ``cash:<area>`` (what each area's funds owe, paid out: medfee − cash). Balanced
    by construction. A month whose reversals
    outweigh its settlements gives the signs reversed (the institution pays back).

    What is owed for cross-region settlements is paid out of the treating area's cash instead,
    with D ``cross_region_receivable:<treating area>`` and C ``cross_region_payable:<insured
    area>`` (so each area's own legs still balance), until the two areas clear the month."""
    legs = [
        debit(
            AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, institution),
            totals.amounts["medfee_sumamt"],
        ),
        credit(
            AccountRef.of_institution(AccountKind.INSTITUTION_COLLECTED, institution),
            totals.amounts["psn_cash_pay"],
        ),
    ]
    paid_by = dict(totals.owed_by_area)
    receivable: dict[str, int] = {}
    payable: dict[str, int] = {}
    for (home, treating), fen in totals.advanced.items():
        paid_by[home] -= fen
        paid_by[treating] = paid_by.get(treating, 0) + fen
        receivable[treating] = receivable.get(treating, 0) + fen
        payable[home] = payable.get(home, 0) + fen
    legs += [
        credit(AccountRef.fund(AccountKind.CASH, area), fen)
        for area, fen in sorted(paid_by.items())
    ]
    legs += [
        debit(AccountRef.fund(AccountKind.CROSS_REGION_RECEIVABLE, area), fen)
        for area, fen in sorted(receivable.items())
    ]
    legs += [
        credit(AccountRef.fund(AccountKind.CROSS_REGION_PAYABLE, area), fen)
        for area, fen in sorted(payable.items())
    ]
    return [p for p in legs if p.amount != 0]
