"""What was settled, summed: a person's running and settled totals of a year (5206), an
institution's settlements and reversals of a day and their reconciliation against the
institution's own figures (对账, 3201), the same settlements one by one (对明细账, 3202), and who
a settlement belongs to. Amounts in fen.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from yibao.domain.detail_reconciliation import DETAIL_AMOUNTS, DetailRow
from yibao.domain.errors import InvalidField, NotFound
from yibao.kernel.settle import FREE_ADMISSIONS
from yibao.store.models import SettlementRow, VisitRow
from yibao.store.uow import UnitOfWork

#: Amounts summed by 5206 and 3201.
TOTALS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "inscp_scp_amt",
    "hifp_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "fund_pay_sumamt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)

#: The figures an institution may send to be reconciled (``setl_cnt`` a count, others fen).
RECONCILED = ("setl_cnt", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")


@dataclass(frozen=True)
class Totals:
    """A count of settlements and the sum of each of ``TOTALS`` (fen)."""

    count: int
    amounts: dict[str, int]

    def minus(self, other: Totals) -> Totals:
        return Totals(
            self.count - other.count, {a: v - other.amounts[a] for a, v in self.amounts.items()}
        )

    def figure(self, name: str) -> int:
        return self.count if name == "setl_cnt" else self.amounts[name]


@dataclass(frozen=True)
class Difference:
    field: str
    institution: int
    centre: int


@dataclass(frozen=True)
class DayStatement:
    """An institution's day: settled, reversed, the net, and where the institution's figures
    differ from the net."""

    settled: Totals
    reversed: Totals
    net: Totals
    differences: tuple[Difference, ...]


def _sums(uow: UnitOfWork, *where: Any) -> Totals:
    cols = [func.count()] + [func.coalesce(func.sum(getattr(SettlementRow, a)), 0) for a in TOTALS]
    row = uow.session.execute(
        select(*cols)
        .select_from(SettlementRow)
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(*where)
    ).one()
    return Totals(int(row[0]), {a: int(v) for a, v in zip(TOTALS, row[1:], strict=True)})


def cumulative(uow: UnitOfWork, person_id: int, year: int) -> dict[str, int]:
    """The person's running totals of ``year`` (fen; ``admissions`` a count) as the settlement
    kernel keeps them, without its account and mutual-aid bookkeeping."""
    state = uow.settlements.state(person_id, year)
    hidden = ("acct.", "mulaid.", FREE_ADMISSIONS)
    return {k: v for k, v in sorted(state.items()) if not k.startswith(hidden)}


def settled_in_year(uow: UnitOfWork, person_id: int, year: int) -> Totals:
    """The person's settlements of ``year`` still standing (not reversed), summed."""
    return _sums(
        uow,
        SettlementRow.person_id == person_id,
        SettlementRow.year == year,
        SettlementRow.status == "settled",
    )


def day_statement(
    uow: UnitOfWork, institution: str, day: dt.date, claimed: dict[str, int]
) -> DayStatement:
    """Institution ``institution``'s settlements and reversals of ``day``, their net, and the
    differences from the figures it ``claimed`` (any of ``RECONCILED``)."""
    return period_statement(uow, institution, day, day, claimed)


#: The longest period 3201 reconciles at once (days): a year, as a statement period.
MAX_PERIOD_DAYS = 366


def period_statement(
    uow: UnitOfWork,
    institution: str,
    first: dt.date,
    last: dt.date,
    claimed: dict[str, int],
    *,
    scheme: str | None = None,
    area: str | None = None,
) -> DayStatement:
    """``day_statement`` over the days [first, last] (3201's ``stmt_begndate`` ..
    ``stmt_enddate``), optionally of one scheme (``insutype``) and one pooling area
    (``setl_optins``)."""
    where = _period_where(institution, first, last, scheme, area)
    with uow:
        settled = _sums(
            uow, *where, SettlementRow.settled_on >= first, SettlementRow.settled_on <= last
        )
        reversed_ = _sums(
            uow, *where, SettlementRow.reversed_on >= first, SettlementRow.reversed_on <= last
        )
    net = settled.minus(reversed_)
    differences = tuple(
        Difference(name, theirs, net.figure(name))
        for name in RECONCILED
        if (theirs := claimed.get(name)) is not None and theirs != net.figure(name)
    )
    return DayStatement(settled, reversed_, net, differences)


def _period_where(
    institution: str, first: dt.date, last: dt.date, scheme: str | None, area: str | None
) -> list[Any]:
    if last < first:
        raise InvalidField("stmt_enddate", "is before stmt_begndate", last.isoformat())
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise InvalidField("stmt_enddate", f"a period is at most {MAX_PERIOD_DAYS} days")
    where: list[Any] = [VisitRow.fixmedins_code == institution]
    if scheme is not None:
        where.append(SettlementRow.scheme == scheme)
    if area is not None:
        where.append(SettlementRow.pooling_area == area)
    return where


def period_details(
    uow: UnitOfWork,
    institution: str,
    first: dt.date,
    last: dt.date,
    *,
    scheme: str | None = None,
    area: str | None = None,
) -> list[DetailRow]:
    """The centre's side of a detail reconciliation (3202): each settlement of the period as
    a row, and each reversal of the period as a row of its own (``refund``), amounts
    positive."""
    where = _period_where(institution, first, last, scheme, area)
    cols = (
        SettlementRow.setl_id,
        SettlementRow.person_id,
        SettlementRow.settled_on,
        SettlementRow.reversed_on,
        *(getattr(SettlementRow, a) for a in DETAIL_AMOUNTS),
    )
    during = or_(
        SettlementRow.settled_on.between(first, last),
        SettlementRow.reversed_on.between(first, last),
    )
    out: list[DetailRow] = []
    with uow:
        rows = uow.session.execute(
            select(*cols)
            .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
            .where(*where, during)
        )
        for setl_id, person, settled_on, reversed_on, *amounts in rows:
            fen = (int(amounts[0]), int(amounts[1]), int(amounts[2]))
            if first <= settled_on <= last:
                out.append(DetailRow(str(setl_id), str(person), False, fen))
            if reversed_on is not None and first <= reversed_on <= last:
                out.append(DetailRow(str(setl_id), str(person), True, fen))
    return out


def settlement_owner(uow: UnitOfWork, setl_id: str) -> tuple[str, int]:
    """(institution code, person id) of a settlement; ``NotFound`` if there is none."""
    row = uow.session.execute(
        select(VisitRow.fixmedins_code, SettlementRow.person_id)
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(SettlementRow.setl_id == setl_id)
    ).first()
    if row is None:
        raise NotFound("settlement", setl_id)
    return str(row[0]), int(row[1])
