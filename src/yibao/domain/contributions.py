"""A recorded contribution: what was paid, for whom, for which period, and its ledger entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class ContributionKind(StrEnum):
    EMPLOYEE = "employee"  # monthly, employer + employee parts
    FLEXIBLE = "flexible"  # monthly, flexible worker pays both
    RESIDENT = "resident"  # annual, individual + fiscal subsidy
    REPAIR = "repair"  # back-payment of one lapsed resident year
    RETIREE_CREDIT = "retiree_credit"  # monthly personal-account credit of a retiree


@dataclass(frozen=True, slots=True)
class ContributionRecord:
    person_id: int
    enrolment_id: int
    kind: ContributionKind
    period_start: dt.date
    period_end: dt.date
    paid_on: dt.date
    transaction_id: int
    base: int | None = None
    employer_part: int = 0
    employee_part: int = 0
    individual: int = 0
    fiscal_subsidy: int = 0
    assistance_paid: int = 0
    account_credit: int = 0
    mutual_aid_link_id: int | None = None
    id: int | None = None

    @property
    def total(self) -> int:
        """Money into the funds (the retiree credit moves money inside them: 0)."""
        return self.employer_part + self.employee_part + self.individual + self.fiscal_subsidy
