"""Queries of the monthly settlement with institutions (``services.clearing``): the month's
settlements and reversals of each institution, and the clearing payments already posted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, case, func, select
from sqlalchemy.orm import Session

from yibao.domain.clearing import CLEARED_AMOUNTS
from yibao.domain.ledger import AccountKind
from yibao.store.models import (
    AccountRow,
    LedgerTransactionRow,
    PostingRow,
    SettlementRow,
    VisitRow,
)


@dataclass(frozen=True, slots=True)
class MonthLine:
    """A settlement of the month (``sign`` +1, on ``settled_on``) or the reversal in the month
    of a settlement (−1, on ``reversed_on``), with the settlement's amounts (fen)."""

    institution: str
    sign: int
    day: dt.date
    setl_id: str
    mdtrt_id: str
    person_id: int
    pooling_area: str
    scheme: str
    amounts: dict[str, int]


def _lines(rows: Sequence[Row[Any]], sign: int) -> list[MonthLine]:
    out = []
    for r in rows:
        code, day, setl_id, mdtrt_id, person_id, area, scheme, *amounts = tuple(r)
        out.append(
            MonthLine(
                institution=str(code),
                sign=sign,
                day=day,
                setl_id=str(setl_id),
                mdtrt_id=str(mdtrt_id),
                person_id=int(person_id),
                pooling_area=str(area),
                scheme=str(scheme),
                amounts={a: int(v) for a, v in zip(CLEARED_AMOUNTS, amounts, strict=True)},
            )
        )
    return out


def month_lines(
    session: Session, first: dt.date, last: dt.date, institution: str | None = None
) -> list[MonthLine]:
    """The settlements dated in [first, last] and the reversals dated in it, of one institution
    or of all, in (institution, date, kind, setl_id) order."""
    out: list[MonthLine] = []
    for sign, day in ((1, SettlementRow.settled_on), (-1, SettlementRow.reversed_on)):
        stmt = (
            select(
                VisitRow.fixmedins_code,
                day,
                SettlementRow.setl_id,
                VisitRow.mdtrt_id,
                SettlementRow.person_id,
                SettlementRow.pooling_area,
                SettlementRow.scheme,
                *(getattr(SettlementRow, a) for a in CLEARED_AMOUNTS),
            )
            .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
            .where(day >= first, day <= last)
        )
        if institution is not None:
            stmt = stmt.where(VisitRow.fixmedins_code == institution)
        out += _lines(session.execute(stmt).all(), sign)
    out.sort(key=lambda x: (x.institution, x.day, -x.sign, x.setl_id))
    return out


@dataclass(frozen=True, slots=True)
class MonthGroup:
    """The settlements of the month (``sign`` +1) or the reversals in it (−1) of one
    institution and pooling area: how many, and their settlements' amounts summed (fen)."""

    institution: str
    sign: int
    count: int
    pooling_area: str
    amounts: dict[str, int]


def month_groups(
    session: Session, first: dt.date, last: dt.date, institution: str | None = None
) -> list[MonthGroup]:
    """``month_lines`` summed in the database by institution and pooling area."""
    out: list[MonthGroup] = []
    for sign, day in ((1, SettlementRow.settled_on), (-1, SettlementRow.reversed_on)):
        stmt = (
            select(
                VisitRow.fixmedins_code,
                SettlementRow.pooling_area,
                func.count(),
                *(func.sum(getattr(SettlementRow, a)) for a in CLEARED_AMOUNTS),
            )
            .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
            .where(day >= first, day <= last)
            .group_by(VisitRow.fixmedins_code, SettlementRow.pooling_area)
        )
        if institution is not None:
            stmt = stmt.where(VisitRow.fixmedins_code == institution)
        for code, area, count, *sums in session.execute(stmt).all():
            amounts = {a: int(v or 0) for a, v in zip(CLEARED_AMOUNTS, sums, strict=True)}
            out.append(MonthGroup(str(code), sign, int(count), str(area), amounts))
    out.sort(key=lambda g: (g.institution, g.pooling_area, -g.sign))
    return out


@dataclass(frozen=True, slots=True)
class Payment:
    """A posted clearing payment: its transaction, date and what it paid out of cash (fen)."""

    reference: str
    transaction_id: int
    paid_on: dt.date
    amount: int


def payments(session: Session, references: Sequence[str]) -> dict[str, Payment]:
    """The clearing payments among ``references`` already on the ledger."""
    out: dict[str, Payment] = {}
    cash = case((AccountRow.kind == AccountKind.CASH.value, PostingRow.amount), else_=0)
    for i in range(0, len(references), 500):
        chunk = list(references[i : i + 500])
        rows = session.execute(
            select(
                LedgerTransactionRow.reference,
                LedgerTransactionRow.id,
                LedgerTransactionRow.occurred_on,
                func.coalesce(func.sum(cash), 0),
            )
            .join(PostingRow, PostingRow.transaction_id == LedgerTransactionRow.id)
            .join(AccountRow, AccountRow.id == PostingRow.account_id)
            .where(LedgerTransactionRow.reference.in_(chunk))
            .group_by(
                LedgerTransactionRow.reference,
                LedgerTransactionRow.id,
                LedgerTransactionRow.occurred_on,
            )
        ).all()
        for ref, txn_id, on, cash_sum in rows:
            out[str(ref)] = Payment(str(ref), int(txn_id), on, -int(cash_sum))
    return out
