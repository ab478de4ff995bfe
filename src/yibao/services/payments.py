"""What a contribution writes, computed once (pure: no session, no SQL): the record's amounts,
the legs of its balanced ledger transaction, its kind, reference and description.

``services.contributions`` posts them one payment at a time; the bulk load of an area
(``services.area_load``) writes the same rows by the hundred thousand. Amounts are computed by
``yibao.rules.contributions`` and the fund financing by ``yibao.rules.financing``.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from yibao.domain.contributions import ContributionKind, ContributionRecord
from yibao.domain.ledger import AccountKind, Legs, balanced_legs
from yibao.policy import Policy
from yibao.rules import contributions as rules
from yibao.rules import financing

#: the ledger transaction kind of each contribution kind (a resident year paid from a
#: relative's personal account is a ``MUTUAL_AID`` one)
TRANSACTION_KIND = {
    ContributionKind.EMPLOYEE: "contribution",
    ContributionKind.FLEXIBLE: "contribution",
    ContributionKind.RESIDENT: "contribution",
    ContributionKind.RETIREE_CREDIT: "retiree_credit",
    ContributionKind.REPAIR: "repair",
}
MUTUAL_AID = "mutual_aid_contribution"


def month_bounds(month: dt.date) -> tuple[dt.date, dt.date]:
    first = month.replace(day=1)
    return first, first.replace(day=calendar.monthrange(first.year, first.month)[1])


def contribution_reference(kind: ContributionKind, person_id: int, period_start: dt.date) -> str:
    """The transaction's business key: one contribution of a kind per person and period."""
    return f"contribution:{kind.value}:{person_id}:{period_start.isoformat()}"


def monthly_description(
    kind: ContributionKind, first: dt.date, label: str, employer_code: str | None = None
) -> str:
    month = first.isoformat()[:7]  # YYYY-MM
    if kind is ContributionKind.EMPLOYEE:
        return f"employee contribution {month} of {label} (employer {employer_code})"
    if kind is ContributionKind.FLEXIBLE:
        return f"flexible-worker contribution {month} of {label}"
    return f"retiree personal-account credit {month} of {label}"


def resident_description(
    year: int, label: str, assistance_class: str | None, from_relative: bool = False
) -> str:
    return (
        f"resident contribution {year} of {label}"
        + (f" (assistance class {assistance_class})" if assistance_class else "")
        + (" from a relative's personal account" if from_relative else "")
    )


@dataclass(frozen=True, slots=True)
class MonthlyPayment:
    """One month of the employee scheme (in service, flexible, a retiree's credit): the
    record's amounts and the legs of its transaction."""

    kind: ContributionKind
    base: int | None
    employer_part: int
    employee_part: int
    account_credit: int
    legs: Legs

    @property
    def transaction_kind(self) -> str:
        return TRANSACTION_KIND[self.kind]

    def record(
        self,
        person_id: int,
        enrolment_id: int,
        first: dt.date,
        paid_on: dt.date,
        transaction_id: int,
    ) -> ContributionRecord:
        return ContributionRecord(
            person_id=person_id,
            enrolment_id=enrolment_id,
            kind=self.kind,
            period_start=first,
            period_end=month_bounds(first)[1],
            paid_on=paid_on,
            transaction_id=transaction_id,
            base=self.base,
            employer_part=self.employer_part,
            employee_part=self.employee_part,
            account_credit=self.account_credit,
        )


def _paid_month(
    kind: ContributionKind, total: int, pooling_part: int, large: int, account_credit: int
) -> Legs:
    """Cash → employee pooling fund + large-amount fund (its financing, from the pooling part)
    + personal account."""
    return balanced_legs(
        {
            AccountKind.CASH: total,
            AccountKind.EMPLOYEE_POOLING: -(pooling_part - large),
            AccountKind.LARGE_AMOUNT: -large,
            AccountKind.PERSONAL_ACCOUNT: -account_credit,
        },
        kind.value,
    )


def employee_month(policy: Policy, first: dt.date, wage: int) -> MonthlyPayment:
    """An employer-enrolled employee's month on ``wage``: employer part + employee part."""
    c = rules.employee_monthly(policy, first, wage)
    large = financing.large_amount_share(policy, first, c.pooling_part)
    kind = ContributionKind.EMPLOYEE
    return MonthlyPayment(
        kind,
        c.base,
        c.employer_part,
        c.employee_part,
        c.account_credit,
        _paid_month(kind, c.total, c.pooling_part, large, c.account_credit),
    )


def flexible_month(policy: Policy, first: dt.date, base: int) -> MonthlyPayment:
    """A flexible worker's month on a base inside the range: they pay both parts."""
    c = rules.flexible_monthly(policy, first, base)
    large = financing.large_amount_share(policy, first, c.pooling_part)
    kind = ContributionKind.FLEXIBLE
    return MonthlyPayment(
        kind,
        c.base,
        0,
        c.total,
        c.account_credit,
        _paid_month(kind, c.total, c.pooling_part, large, c.account_credit),
    )


def retiree_month(policy: Policy, first: dt.date) -> MonthlyPayment:
    """A retiree's personal-account credit from the employee pooling fund, with the month's
    large-amount financing (also from the pooling fund: retirees pay nothing)."""
    amount = rules.account_credit_retiree(policy, first)
    large = financing.large_amount_share(policy, first)
    kind = ContributionKind.RETIREE_CREDIT
    legs = {
        AccountKind.EMPLOYEE_POOLING: amount + large,
        AccountKind.PERSONAL_ACCOUNT: -amount,
        AccountKind.LARGE_AMOUNT: -large,
    }
    return MonthlyPayment(kind, None, 0, 0, amount, balanced_legs(legs, kind.value))


@dataclass(frozen=True, slots=True)
class ResidentPayment:
    """A resident's contribution year: individual part (less what medical assistance pays)
    + fiscal subsidy, into the resident pooling fund and the critical illness fund."""

    contribution: rules.ResidentContribution
    critical: int  # the critical illness fund's share

    def legs(self, payer: AccountKind = AccountKind.CASH) -> Legs:
        """``payer`` pays the person's part: cash, or (mutual aid) a relative's personal
        account."""
        c = self.contribution
        return balanced_legs(
            {
                payer: c.person_pays,
                AccountKind.MEDICAL_ASSISTANCE: c.assistance_paid,
                AccountKind.FISCAL_SUBSIDY_RECEIVABLE: c.fiscal_subsidy,
                AccountKind.RESIDENT_POOLING: -(c.total - self.critical),
                AccountKind.CRITICAL_ILLNESS: -self.critical,
            },
            ContributionKind.RESIDENT.value,
        )

    def record(
        self,
        person_id: int,
        enrolment_id: int,
        paid_on: dt.date,
        transaction_id: int,
        mutual_aid_link_id: int | None = None,
    ) -> ContributionRecord:
        c = self.contribution
        first, last = resident_period(c.on.year)
        return ContributionRecord(
            person_id=person_id,
            enrolment_id=enrolment_id,
            kind=ContributionKind.RESIDENT,
            period_start=first,
            period_end=last,
            paid_on=paid_on,
            transaction_id=transaction_id,
            individual=c.individual,
            fiscal_subsidy=c.fiscal_subsidy,
            assistance_paid=c.assistance_paid,
            mutual_aid_link_id=mutual_aid_link_id,
        )


def resident_period(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def resident_year(policy: Policy, year: int, classes: Iterable[str]) -> ResidentPayment:
    """The contribution for coverage year ``year`` of a resident in the assistance ``classes``
    and its critical illness financing."""
    first = resident_period(year)[0]
    c = rules.resident_annual(policy, first, list(classes))
    return ResidentPayment(c, financing.critical_illness_share(policy, first, c.total))
