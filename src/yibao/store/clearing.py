"""Queries of the monthly settlement with institutions (``services.clearing``) and between areas
(``services.cross_region``): the month's settlements and reversals of each institution, with
the treating area of a cross-region one, and the clearing payments already posted.

The treating area of a settlement is its institution's registered area (``institutions.area``)
when its visit is cross-region and that area is known and not the insured's pooling area;
otherwise there is none (the insured area treats and pays)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, and_, case, func, select
from sqlalchemy.orm import Session

from yibao.domain.clearing import CLEARED_AMOUNTS
from yibao.domain.ledger import AccountKind
from yibao.policy.vocab import CrossRegion
from yibao.store.api_models import InstitutionRow
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
    cross_region: str = CrossRegion.NONE.value
    treating_area: str | None = None


def treating_area(cross_region: str, institution_area: str | None, pooling_area: str) -> str | None:
    """The area that treated a settlement and advances its payment, when it is another area
    than the insured's: a cross-region visit at an institution registered in another area."""
    if cross_region == CrossRegion.NONE.value or not institution_area:
        return None
    return None if institution_area == pooling_area else institution_area


_CROSS = VisitRow.cross_region != CrossRegion.NONE.value


def _scoped(
    stmt: Select[Any], institution: str | None, cross_only: bool, area: str | None
) -> Select[Any]:
    stmt = stmt.join(VisitRow, VisitRow.id == SettlementRow.visit_id).outerjoin(
        InstitutionRow, InstitutionRow.code == VisitRow.fixmedins_code
    )
    if institution is not None:
        stmt = stmt.where(VisitRow.fixmedins_code == institution)
    if cross_only:  # a cross-region visit at an institution registered in another area
        stmt = stmt.where(
            _CROSS,
            InstitutionRow.area.is_not(None),
            InstitutionRow.area != SettlementRow.pooling_area,
        )
    if area is not None:  # insured there or treated there
        stmt = stmt.where(
            (SettlementRow.pooling_area == area) | and_(_CROSS, InstitutionRow.area == area)
        )
    return stmt


def _lines(rows: Sequence[Row[Any]], sign: int) -> list[MonthLine]:
    out = []
    for r in rows:
        code, day, setl_id, mdtrt_id, person_id, area, scheme, cross, where, *amounts = tuple(r)
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
                cross_region=str(cross),
                treating_area=treating_area(str(cross), where, str(area)),
            )
        )
    return out


def month_lines(
    session: Session,
    first: dt.date,
    last: dt.date,
    institution: str | None = None,
    *,
    cross_only: bool = False,
    area: str | None = None,
) -> list[MonthLine]:
    """The settlements dated in [first, last] and the reversals dated in it, of one institution
    or of all (``cross_only``: the cross-region ones treated in another area; ``area``: those of
    the area's insured or treated there), in (institution, date, kind, setl_id) order."""
    out: list[MonthLine] = []
    for sign, day in ((1, SettlementRow.settled_on), (-1, SettlementRow.reversed_on)):
        stmt = select(
            VisitRow.fixmedins_code,
            day,
            SettlementRow.setl_id,
            VisitRow.mdtrt_id,
            SettlementRow.person_id,
            SettlementRow.pooling_area,
            SettlementRow.scheme,
            VisitRow.cross_region,
            InstitutionRow.area,
            *(getattr(SettlementRow, a) for a in CLEARED_AMOUNTS),
        ).where(day >= first, day <= last)
        stmt = _scoped(stmt, institution, cross_only, area)
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
    treating_area: str | None = None


def month_groups(
    session: Session,
    first: dt.date,
    last: dt.date,
    institution: str | None = None,
    *,
    cross_only: bool = False,
    area: str | None = None,
) -> list[MonthGroup]:
    """``month_lines`` summed in the database by institution, pooling area and treating area."""
    sums: dict[tuple[str, int, str, str | None], list[int]] = {}
    for sign, day in ((1, SettlementRow.settled_on), (-1, SettlementRow.reversed_on)):
        stmt = (
            select(
                VisitRow.fixmedins_code,
                SettlementRow.pooling_area,
                VisitRow.cross_region,
                InstitutionRow.area,
                func.count(),
                *(func.sum(getattr(SettlementRow, a)) for a in CLEARED_AMOUNTS),
            )
            .where(day >= first, day <= last)
            .group_by(
                VisitRow.fixmedins_code,
                SettlementRow.pooling_area,
                VisitRow.cross_region,
                InstitutionRow.area,
            )
        )
        stmt = _scoped(stmt, institution, cross_only, area)
        for code, home, cross, where, count, *amounts in session.execute(stmt).all():
            key = (str(code), sign, str(home), treating_area(str(cross), where, str(home)))
            acc = sums.setdefault(key, [0] * (1 + len(CLEARED_AMOUNTS)))
            acc[0] += int(count)
            for k, v in enumerate(amounts, start=1):
                acc[k] += int(v or 0)
    out = [
        MonthGroup(
            code, sign, acc[0], home, dict(zip(CLEARED_AMOUNTS, acc[1:], strict=True)), where
        )
        for (code, sign, home, where), acc in sums.items()
    ]
    out.sort(key=lambda g: (g.institution, g.pooling_area, g.treating_area or "", -g.sign))
    return out


@dataclass(frozen=True, slots=True)
class Payment:
    """A posted clearing payment: its transaction, date and what it paid out of cash (fen)."""

    reference: str
    transaction_id: int
    paid_on: dt.date
    amount: int


def payments(
    session: Session,
    references: Sequence[str],
    measured_on: AccountKind = AccountKind.CASH,
    sign: int = -1,
) -> dict[str, Payment]:
    """The clearing payments among ``references`` already on the ledger, each amount ``sign`` ×
    the sum of its postings on accounts of kind ``measured_on`` (by default what it paid out
    of cash; a pair of areas' clearing: what it debited to the insured area's payable)."""
    out: dict[str, Payment] = {}
    cash = case((AccountRow.kind == measured_on.value, PostingRow.amount), else_=0)
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
            out[str(ref)] = Payment(str(ref), int(txn_id), on, sign * int(cash_sum))
    return out
