"""Queries of the capitation reconciliation (``services.capitation``): the year's primary-care
and chronic outpatient settlements in force of a pooling area's insured, by person, scheme and
institution, and which year-end references are already on the ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.policy.vocab import MedType
from yibao.store.models import LedgerTransactionRow, SettlementRow, VisitRow

#: The care capitation pays for: primary care (普通门诊) and chronic outpatient care (门诊慢特病).
CAPITATION_MED_TYPES = (MedType.OUTPATIENT.value, MedType.CHRONIC.value)


@dataclass(frozen=True, slots=True)
class OutpatientCare:
    """A person's outpatient settlements of the year under one scheme at one institution: how
    many, and what the basic pooling fund paid for them (fen)."""

    person_id: int
    scheme: str
    institution: str
    visits: int
    fund_paid: int


def outpatient_care(session: Session, area: str, year: int) -> list[OutpatientCare]:
    """The year's (``settled_on``) outpatient and chronic settlements in force of ``area``."""
    stmt = (
        select(
            SettlementRow.person_id,
            SettlementRow.scheme,
            VisitRow.fixmedins_code,
            func.count(),
            func.coalesce(func.sum(SettlementRow.hifp_pay), 0),
        )
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .where(
            SettlementRow.status == "settled",
            SettlementRow.pooling_area == area,
            VisitRow.med_type.in_(CAPITATION_MED_TYPES),
            SettlementRow.settled_on >= dt.date(year, 1, 1),
            SettlementRow.settled_on <= dt.date(year, 12, 31),
        )
        .group_by(SettlementRow.person_id, SettlementRow.scheme, VisitRow.fixmedins_code)
        .order_by(SettlementRow.person_id, SettlementRow.scheme, VisitRow.fixmedins_code)
    )
    return [
        OutpatientCare(int(p), str(s), str(c), int(n), int(paid))
        for p, s, c, n, paid in session.execute(stmt).all()
    ]


def posted_references(session: Session, references: Sequence[str]) -> dict[str, int]:
    """The transactions (id by reference) among ``references`` already on the ledger."""
    out: dict[str, int] = {}
    for i in range(0, len(references), 500):
        chunk = list(references[i : i + 500])
        rows = session.execute(
            select(LedgerTransactionRow.reference, LedgerTransactionRow.id).where(
                LedgerTransactionRow.reference.in_(chunk)
            )
        ).all()
        out.update({str(r): int(t) for r, t in rows})
    return out
