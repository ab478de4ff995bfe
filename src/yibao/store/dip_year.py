"""Queries of the DIP year-end (``services.dip_year``): the year's discharged inpatient cases of
a pooling area with their principal diagnosis, main procedure, stay and amounts, and the stored
runs and institution settlements."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from yibao.policy.vocab import MedType
from yibao.store.dip_year_models import DipRunRow, DipSettlementRow
from yibao.store.fee_models import VisitDiagnosisRow, VisitProcedureRow
from yibao.store.models import SettlementRow, VisitRow

#: The stays DIP pays: inpatient care and childbirth in hospital (as ``yibao dip build`` reads).
STAY_TYPES = (MedType.INPATIENT.value, MedType.MATERNITY.value)


@dataclass(frozen=True, slots=True)
class YearCases:
    """The year's cases, one list entry per case: visit (``mdtrt_id``), institution, scheme,
    principal diagnosis (None when the visit has none), main procedure, admission and
    discharge dates, total cost and the basic pooling fund's payment (fen)."""

    mdtrt_id: list[str]
    institution: list[str]
    scheme: list[str]
    diagnosis: list[str | None]
    procedure: list[str | None]
    admitted: list[dt.date]
    discharged: list[dt.date]
    cost: list[int]
    advanced: list[int]


def year_cases(session: Session, area: str, year: int) -> YearCases:
    """Every inpatient (or maternity) visit of ``area``'s insured discharged (2402: a discharge
    way) in ``year`` (``end_date``) whose settlement is in force, in visit order."""
    stmt = (
        select(
            VisitRow.mdtrt_id,
            VisitRow.fixmedins_code,
            SettlementRow.scheme,
            VisitDiagnosisRow.code,
            VisitProcedureRow.code,
            VisitRow.begin_date,
            VisitRow.end_date,
            SettlementRow.medfee_sumamt,
            SettlementRow.hifp_pay,
        )
        .join(VisitRow, VisitRow.id == SettlementRow.visit_id)
        .outerjoin(
            VisitDiagnosisRow,
            and_(VisitDiagnosisRow.visit_id == VisitRow.id, VisitDiagnosisRow.seq == 1),
        )
        .outerjoin(
            VisitProcedureRow,
            and_(VisitProcedureRow.visit_id == VisitRow.id, VisitProcedureRow.seq == 1),
        )
        .where(
            SettlementRow.status == "settled",
            SettlementRow.pooling_area == area,
            VisitRow.med_type.in_(STAY_TYPES),
            VisitRow.discharge_way.is_not(None),
            VisitRow.end_date >= dt.date(year, 1, 1),
            VisitRow.end_date <= dt.date(year, 12, 31),
        )
        .order_by(VisitRow.id)
    )
    rows = session.execute(stmt).all()
    cols: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [()] * 9
    return YearCases(
        mdtrt_id=list(cols[0]),
        institution=list(cols[1]),
        scheme=list(cols[2]),
        diagnosis=list(cols[3]),
        procedure=list(cols[4]),
        admitted=list(cols[5]),
        discharged=list(cols[6]),
        cost=[int(x) for x in cols[7]],
        advanced=[int(x) for x in cols[8]],
    )


def stored_run(session: Session, area: str, year: int) -> DipRunRow | None:
    return session.execute(
        select(DipRunRow).where(DipRunRow.area == area, DipRunRow.year == year)
    ).scalar_one_or_none()


def stored_settlements(session: Session, run_id: int) -> list[DipSettlementRow]:
    return list(
        session.execute(
            select(DipSettlementRow)
            .where(DipSettlementRow.run_id == run_id)
            .order_by(DipSettlementRow.institution)
        ).scalars()
    )
