"""The contribution repository: contributions paid (缴费记录), one per person, kind and period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yibao.domain.contributions import ContributionKind, ContributionRecord
from yibao.store.models import ContributionRow, EnrolmentRow


def _contribution(row: ContributionRow) -> ContributionRecord:
    return ContributionRecord(
        person_id=row.person_id,
        enrolment_id=row.enrolment_id,
        kind=ContributionKind(row.kind),
        period_start=row.period_start,
        period_end=row.period_end,
        paid_on=row.paid_on,
        transaction_id=row.transaction_id,
        base=row.base,
        employer_part=row.employer_part,
        employee_part=row.employee_part,
        individual=row.individual,
        fiscal_subsidy=row.fiscal_subsidy,
        assistance_paid=row.assistance_paid,
        account_credit=row.account_credit,
        mutual_aid_link_id=row.mutual_aid_link_id,
        id=row.id,
    )


class ContributionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: ContributionRecord) -> ContributionRecord:
        row = ContributionRow(
            person_id=record.person_id,
            enrolment_id=record.enrolment_id,
            kind=record.kind.value,
            period_start=record.period_start,
            period_end=record.period_end,
            base=record.base,
            employer_part=record.employer_part,
            employee_part=record.employee_part,
            individual=record.individual,
            fiscal_subsidy=record.fiscal_subsidy,
            assistance_paid=record.assistance_paid,
            account_credit=record.account_credit,
            paid_on=record.paid_on,
            mutual_aid_link_id=record.mutual_aid_link_id,
            transaction_id=record.transaction_id,
        )
        self.session.add(row)
        self.session.flush()
        return _contribution(row)

    def find(
        self, person_id: int, kind: ContributionKind, period_start: dt.date
    ) -> ContributionRecord | None:
        row = self.session.scalars(
            select(ContributionRow).where(
                ContributionRow.person_id == person_id,
                ContributionRow.kind == kind.value,
                ContributionRow.period_start == period_start,
            )
        ).one_or_none()
        return _contribution(row) if row is not None else None

    def for_person(self, person_id: int) -> list[ContributionRecord]:
        rows = self.session.scalars(
            select(ContributionRow)
            .where(ContributionRow.person_id == person_id)
            .order_by(ContributionRow.period_start, ContributionRow.id)
        )
        return [_contribution(r) for r in rows]

    def count_by_kind(self, enrolment_id: int, kinds: Iterable[ContributionKind]) -> int:
        values: Sequence[str] = [k.value for k in kinds]
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(ContributionRow)
                .where(
                    ContributionRow.enrolment_id == enrolment_id, ContributionRow.kind.in_(values)
                )
            )
            or 0
        )

    def employer_wage_months(self, employer_code: str, year: int) -> tuple[int, int]:
        """The contribution bases summed (fen) and the person-months counted of the employee
        contributions of ``year`` paid under ``employer_code``'s enrolments."""
        row = self.session.execute(
            select(func.sum(ContributionRow.base), func.count(ContributionRow.base))
            .select_from(ContributionRow)
            .join(EnrolmentRow, EnrolmentRow.id == ContributionRow.enrolment_id)
            .where(
                EnrolmentRow.employer_code == employer_code,
                ContributionRow.kind == ContributionKind.EMPLOYEE.value,
                ContributionRow.period_start >= dt.date(year, 1, 1),
                ContributionRow.period_start <= dt.date(year, 12, 31),
            )
        ).one()
        return int(row[0] or 0), int(row[1])
