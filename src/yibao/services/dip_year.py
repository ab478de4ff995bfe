"""The DIP year-end settlement with institutions (DIP 年终清算) of a pooling area and year.

Every inpatient case of the area's insured discharged in the year, with its settlement in force,
is grouped (per-diem first, ``rules.per_diem``; then ``kernel.dip_groups.assign_groups``) against
the DIP group table in force (``yibao dip build``/``load``) or one given, pointed by the
columnar rules (``kernel.dip``), priced at the year's point value
(``rules.provider_payment.point_value``: the budget ÷ the reimbursement ratio ÷ the total
points), and each institution is settled against what the basic pooling fund advanced during
the year (its settlements' ``hifp_pay``). One ledger transaction per institution, area and year
(``domain.dip_year.dip_postings``); a second run posts nothing and answers the stored year-end.

The budget (``fund_available``) is given (``budget``, fen) or, by default, the year's
advances × ``provider_payment.dip.budget_factor``; the reimbursement ratio is given or, by
default, Σ advances ÷ Σ costs of the year's cases (four places, half up).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.domain.dip_year import (
    dip_payment_postings,
    dip_payment_reference,
    dip_postings,
    dip_reference,
)
from yibao.domain.errors import AlreadyExists, InvalidField, NotFound
from yibao.domain.funds import check_year
from yibao.domain.ledger import LedgerTransaction
from yibao.domain.registry import check_area
from yibao.kernel.dip import (
    PER_DIEM,
    case_fund_due,
    case_points,
    case_standards,
    institution_sums,
    total_points,
)
from yibao.kernel.dip_groups import assign_groups
from yibao.policy import NATIONAL, Policy, fen_to_yuan
from yibao.policy.vocab import InsuranceScheme, InsuredCategory
from yibao.rules.per_diem import per_diem_group
from yibao.rules.provider_payment import (
    POINTS_SCALE,
    RATIO_SCALE,
    long_stay_days,
    outlier_thresholds,
    point_value,
    point_value_text,
    points_text,
)
from yibao.services import clock
from yibao.services.common import policy_for
from yibao.store.clearing import Payment, payments
from yibao.store.dip_year import YearCases, stored_run, stored_settlements, year_cases
from yibao.store.dip_year_models import DipRunRow, DipSettlementRow
from yibao.store.repositories.payment_groups import PaymentGroupRepository
from yibao.store.uow import UnitOfWork

DIP_KIND = "dip_settlement"
#: the ledger kind of paying a year-end balance out of cash (as ``services.clearing`` pays)
DIP_PAYMENT_KIND = "dip_payment"
SCHEMES = tuple(InsuranceScheme)


@dataclass(frozen=True, slots=True)
class Group:
    """A row of the group table: its code, weight (points × 10^4; per-diem: points per day)
    and average cost (fen; unused for per-diem)."""

    code: str
    weight: int
    avg_cost: int
    per_day: bool = False


@dataclass(frozen=True)
class GroupTable:
    """The groups in force and the institutions' coefficients (× 10^4, default 1)."""

    groups: Sequence[Group]
    coefficients: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class InstitutionYear:
    """An institution's year-end (fen; points × 10^4)."""

    institution: str
    cases: int
    per_diem_cases: int
    review_cases: int
    points: int
    cost: int
    patient_share: int
    standard: int
    fund_due: int
    advanced: int
    settlement: int
    transaction_id: int | None

    def as_dict(self, point_value_e6: int) -> dict[str, Any]:
        return {
            "institution": self.institution,
            "cases": self.cases,
            "per_diem_cases": self.per_diem_cases,
            "review_cases": self.review_cases,
            "points": points_text(self.points),
            "point_value": point_value_text(point_value_e6),
            "cost": fen_to_yuan(self.cost),
            "patient_share": fen_to_yuan(self.patient_share),
            "standard": fen_to_yuan(self.standard),
            "fund_due": fen_to_yuan(self.fund_due),
            "advanced": fen_to_yuan(self.advanced),
            "settlement": fen_to_yuan(self.settlement),
            "transaction": self.transaction_id,
        }


@dataclass(frozen=True)
class YearEnd:
    """The year-end of an area: the run's figures and every institution's; ``posted`` False
    when it had been run before (the stored year-end, nothing changed)."""

    area: str
    year: int
    budget: int
    budget_source: str
    reimbursement_ratio: int
    cases: int
    total_points: int
    point_value: int
    runs: int
    posted: bool
    institutions: tuple[InstitutionYear, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "year": self.year,
            "fund_available": fen_to_yuan(self.budget),
            "budget_source": self.budget_source,
            "reimbursement_ratio": str(Decimal(self.reimbursement_ratio).scaleb(-4)),
            "cases": self.cases,
            "total_points": points_text(self.total_points),
            "point_value": point_value_text(self.point_value),
            "runs": self.runs,
            "posted": self.posted,
            "institutions": [i.as_dict(self.point_value) for i in self.institutions],
        }


def _check(area: str, year: int) -> None:
    check_area(area, "area")
    check_year(year)
    last = dt.date(year, 12, 31)
    if clock.today() <= last:
        raise InvalidField("year", f"{year} is not over: settle it after {last}", year)


def statement(uow: UnitOfWork, area: str, year: int) -> YearEnd | None:
    """The stored year-end of ``area`` and ``year``, or None when it has not been run."""
    _check(area, year)
    with uow:
        run = stored_run(uow.session, area, year)
        if run is None:
            return None
        return _stored(uow, run, posted=False)


def _stored(uow: UnitOfWork, run: DipRunRow, posted: bool) -> YearEnd:
    rows = stored_settlements(uow.session, run.id)
    return YearEnd(
        run.area,
        run.year,
        run.budget,
        run.budget_source,
        run.reimbursement_ratio,
        run.cases,
        run.total_points,
        run.point_value,
        run.runs,
        posted,
        tuple(
            InstitutionYear(
                r.institution,
                r.cases,
                r.per_diem_cases,
                r.review_cases,
                r.points,
                r.cost,
                r.patient_share,
                r.standard,
                r.fund_due,
                r.advanced,
                r.settlement,
                r.transaction_id,
            )
            for r in rows
        ),
    )


def settle(
    uow: UnitOfWork,
    area: str,
    year: int,
    table: GroupTable | None = None,
    *,
    budget: int | None = None,
    ratio: Decimal | None = None,
) -> YearEnd:
    """Run the year-end of ``area`` and ``year`` (see the module): compute, store the run and
    the institutions' settlements, post one transaction per institution dated 31 December.
    Run before: nothing is computed or posted, ``runs`` counts the call, the stored year-end is
    answered."""
    _check(area, year)
    if budget is not None and budget < 0:
        raise InvalidField("budget", "must not be negative", budget)
    with uow:
        run = stored_run(uow.session, area, year)
        if run is not None:
            run.runs += 1
            uow.session.flush()
            out = _stored(uow, run, posted=False)
            uow.commit()
            return out
        computed = compute(uow, area, year, table, budget=budget, ratio=ratio)
        out = _store(uow, computed)
        uow.commit()
        return out


@dataclass(frozen=True)
class Computed:
    """A year-end computed, not yet stored: the run's figures and, per institution, its year
    and the settlement by scheme (fen)."""

    area: str
    year: int
    budget: int
    budget_source: str
    ratio: int
    cases: int
    total_points: int
    point_value: int
    institutions: tuple[InstitutionYear, ...]
    by_scheme: dict[str, dict[str, int]]


def compute(
    uow: UnitOfWork,
    area: str,
    year: int,
    table: GroupTable | None = None,
    *,
    budget: int | None = None,
    ratio: Decimal | None = None,
) -> Computed:
    """The year-end of ``area`` and ``year`` from the stored cases (inside ``uow``)."""
    if table is None:
        table = stored_table(uow, area, year)
    policy = policy_for(area)
    on = dt.date(year, 1, 1)
    thresholds = outlier_thresholds(policy, "dip", on)
    long_stay = long_stay_days(policy, on)
    listed = [str(x) for x in policy.get("provider_payment.per_diem.listed_diagnoses", on)]
    cases = year_cases(uow.session, area, year)
    n = len(cases.mdtrt_id)
    if n == 0:
        raise InvalidField("year", f"no discharged inpatient case of area {area} in {year}", year)
    admitted = np.array(cases.admitted, dtype="datetime64[D]")
    discharged = np.array(cases.discharged, dtype="datetime64[D]")
    days = np.maximum((discharged - admitted).astype(np.int64), 1)  # rules.per_diem.bed_days
    groups = list(table.groups)
    group = _assign(cases, days, long_stay, listed, groups, policy, on)
    weight = np.array([g.weight for g in groups], np.int64)[group]
    avg = np.array([max(g.avg_cost, 1) for g in groups], np.int64)[group]
    per_day = np.array([g.per_day for g in groups], np.bool_)[group]
    codes = sorted(set(cases.institution))
    inst_index = {c: i for i, c in enumerate(codes)}
    inst = np.array([inst_index[c] for c in cases.institution], np.int64)
    coef = np.array([table.coefficients.get(c, RATIO_SCALE) for c in codes], np.int64)[inst]
    cost = np.array(cases.cost, np.int64)
    advanced = np.array(cases.advanced, np.int64)
    patient = cost - advanced
    pointed = case_points(cost, weight, avg, per_day, days, coef, thresholds)
    total = total_points(pointed.points)
    advanced_sum = int(advanced.sum())
    if budget is None:
        factor = policy.rate("provider_payment.dip.budget_factor", on)
        budget = int((factor * advanced_sum).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        source = "factor"
    else:
        source = "given"
    if ratio is None:
        cost_sum = int(cost.sum())
        if cost_sum <= 0:
            raise InvalidField("reimbursement_ratio", "the year's cases cost nothing")
        ratio = (Decimal(advanced_sum) / cost_sum).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    if not ratio.is_finite():
        raise InvalidField("reimbursement_ratio", "must be a number", ratio)
    ratio_e4 = int((ratio * RATIO_SCALE).to_integral_value(ROUND_HALF_UP))
    if not 0 < ratio_e4 <= RATIO_SCALE or ratio * RATIO_SCALE != ratio_e4:
        raise InvalidField("reimbursement_ratio", "must be above 0, at most 1, 4 places", ratio)
    value = point_value(budget, Decimal(ratio_e4).scaleb(-4), total)
    standard = case_standards(pointed.points, value)
    due = case_fund_due(standard, patient)
    k = len(codes)
    sums = institution_sums(inst, k, pointed.points, standard, due)

    def per_inst(values: np.ndarray[Any, Any]) -> list[int]:
        out = np.zeros(k, np.int64)
        np.add.at(out, inst, values.astype(np.int64))
        return [int(x) for x in out]

    per_diem_n = per_inst(pointed.kind == PER_DIEM)
    review_n = per_inst(pointed.review)
    cost_i, patient_i, adv_i = per_inst(cost), per_inst(patient), per_inst(advanced)
    # a settlement names the insured category (a retiree's, a flexible worker's: the employee
    # scheme's pooling fund)
    scheme_idx = np.array(
        [SCHEMES.index(InsuredCategory(s).scheme) for s in cases.scheme], np.int64
    )
    diff = np.zeros(k * len(SCHEMES), np.int64)
    np.add.at(diff, inst * len(SCHEMES) + scheme_idx, due - advanced)
    institutions = []
    by_scheme: dict[str, dict[str, int]] = {}
    for j, code in enumerate(codes):
        fund_due = int(sums.fund_due[j])
        institutions.append(
            InstitutionYear(
                code,
                int(sums.cases[j]),
                per_diem_n[j],
                review_n[j],
                int(sums.points[j]),
                cost_i[j],
                patient_i[j],
                int(sums.standard[j]),
                fund_due,
                adv_i[j],
                fund_due - adv_i[j],
                None,
            )
        )
        by_scheme[code] = {s.value: int(diff[j * len(SCHEMES) + m]) for m, s in enumerate(SCHEMES)}
    return Computed(
        area, year, budget, source, ratio_e4, n, total, value, tuple(institutions), by_scheme
    )


def _assign(
    cases: YearCases,
    days: npt.NDArray[np.int64],
    long_stay: int,
    listed: Sequence[str],
    groups: list[Group],
    policy: Policy,
    on: dt.date,
) -> npt.NDArray[np.int64]:
    """Each case's row of ``groups``: a case paid by bed day (``rules.per_diem``) its per-diem
    group (``<prefix>:bed``; a group of ``provider_payment.per_diem.day_points`` per day is
    appended to ``groups`` when the table has none), else its DIP group
    (``kernel.dip_groups.assign_groups``: core, then the chapter's comprehensive group). A case
    without a principal diagnosis or a group is refused naming its visit."""
    index = {g.code: i for i, g in enumerate(groups)}
    n = len(cases.mdtrt_id)
    group = assign_groups(
        pa.array(cases.diagnosis, pa.string()),
        pa.array(cases.procedure, pa.string()),
        [g.code for g in groups],
    )
    long = (days >= long_stay).tolist()
    bed_for: dict[tuple[str | None, bool], int] = {}
    for i in range(n):
        key = (cases.diagnosis[i], long[i])
        hit = bed_for.get(key)
        if hit is None:
            dx = key[0]
            if not dx:
                raise InvalidField(
                    f"visit {cases.mdtrt_id[i]}", "has no principal diagnosis: cannot be grouped"
                )
            bed = per_diem_group(dx, long_stay if key[1] else 0, long_stay, listed)
            hit = -1
            if bed is not None:
                if bed not in index:
                    points = policy.rate("provider_payment.per_diem.day_points", on)
                    groups.append(Group(bed, int(points * POINTS_SCALE), 1, True))
                    index[bed] = len(groups) - 1
                hit = index[bed]
            bed_for[key] = hit
        if hit >= 0:
            group[i] = hit
        elif group[i] < 0:
            raise InvalidField(
                f"visit {cases.mdtrt_id[i]}",
                f"no group for diagnosis {cases.diagnosis[i]} and procedure "
                f"{cases.procedure[i] or '-'}",
            )
    return group


def stored_table(uow: UnitOfWork, area: str, year: int) -> GroupTable:
    """The DIP group table in force on 31 December of ``year`` for ``area`` (else its
    province's, else the national one), as ``yibao dip build`` or ``load`` stored it."""
    on = dt.date(year, 12, 31)
    for region in (area, area[:2] + "0000", NATIONAL):
        repo = PaymentGroupRepository(uow.session)
        found = repo.in_force("dip", region, on)
        rows = repo.rows(found.id) if found is not None else []
        if rows:
            return GroupTable(
                tuple(
                    Group(r.code, r.score or 0, r.avg_cost or 1, r.kind == "per_diem")
                    for r in rows
                    if r.level == "group" and r.score is not None
                )
            )
    raise InvalidField(
        "groups", f"no DIP group table in force for {area} on {on}: build or load one"
    )


def compute_in(
    uow: UnitOfWork,
    area: str,
    year: int,
    table: GroupTable | None = None,
    *,
    budget: int | None = None,
    ratio: Decimal | None = None,
) -> Computed:
    """``compute`` in its own read-only unit of work: what a run would settle."""
    _check(area, year)
    with uow:
        return compute(uow, area, year, table, budget=budget, ratio=ratio)


def _store(uow: UnitOfWork, c: Computed) -> YearEnd:
    session = uow.session
    run = DipRunRow(
        area=c.area,
        year=c.year,
        ran_on=clock.today(),
        budget=c.budget,
        budget_source=c.budget_source,
        reimbursement_ratio=c.ratio,
        cases=c.cases,
        total_points=c.total_points,
        point_value=c.point_value,
        runs=1,
    )
    session.add(run)
    session.flush()
    day = dt.date(c.year, 12, 31)
    txns: list[LedgerTransaction] = []
    posted_for: list[int] = []
    for j, i in enumerate(c.institutions):
        legs = dip_postings(i.institution, c.area, c.by_scheme[i.institution])
        if legs:
            txns.append(
                LedgerTransaction.of(
                    DIP_KIND,
                    day,
                    legs,
                    f"DIP year-end {c.year} of area {c.area} with {i.institution}",
                    dip_reference(i.institution, c.area, c.year),
                )
            )
            posted_for.append(j)
    ids = dict(zip(posted_for, uow.ledger.post_many(txns), strict=True))
    done = [replace(i, transaction_id=ids.get(j)) for j, i in enumerate(c.institutions)]
    session.add_all(
        DipSettlementRow(
            run_id=run.id,
            institution=i.institution,
            cases=i.cases,
            per_diem_cases=i.per_diem_cases,
            review_cases=i.review_cases,
            points=i.points,
            cost=i.cost,
            patient_share=i.patient_share,
            standard=i.standard,
            fund_due=i.fund_due,
            advanced=i.advanced,
            settlement=i.settlement,
            transaction_id=i.transaction_id,
        )
        for i in done
    )
    session.flush()
    return YearEnd(
        c.area,
        c.year,
        c.budget,
        c.budget_source,
        c.ratio,
        c.cases,
        c.total_points,
        c.point_value,
        1,
        True,
        tuple(done),
    )


@dataclass(frozen=True)
class Paid:
    """Paying out one institution's year-end balance: ``posted`` False when it was paid
    before (``payment`` is that payment) or there was nothing to pay."""

    institution: str
    settlement: int  # fen: what the year-end posted to the institution (negative: reclaimed)
    payment: Payment | None
    posted: bool

    def as_dict(self) -> dict[str, Any]:
        p = self.payment
        return {
            "institution": self.institution,
            "settlement": fen_to_yuan(self.settlement),
            "reference": p.reference if p is not None else None,
            "paid": None
            if p is None
            else {
                "transaction": p.transaction_id,
                "paid_on": p.paid_on.isoformat(),
                "amount": fen_to_yuan(p.amount),
            },
            "posted": self.posted,
        }


def pay(
    uow: UnitOfWork,
    area: str,
    year: int,
    institution: str | None = None,
    *,
    on: dt.date | None = None,
) -> list[Paid]:
    """Pay out the stored year-end of ``area`` and ``year`` (``settle``) to every institution
    (or to ``institution``): per institution one transaction ``dip-payment:<code>:<area>:<year>``
    (``domain.dip_year.dip_payment_postings``: D ``institution_payable``, C ``cash:<area>``;
    reversed when the fund reclaims), dated ``on`` (default today), after the year and not
    after today. An institution paid before is not paid again; one whose year-end posted
    nothing gets nothing. A year-end not run is ``NotFound``."""
    _check(area, year)
    day = on or clock.today()
    today = clock.today()
    if day > today:
        raise InvalidField("on", f"{day.isoformat()} is after today ({today.isoformat()})", day)
    if day <= dt.date(year, 12, 31):
        raise InvalidField("on", f"{day.isoformat()} is within {year}: pay after the year", day)
    with uow:  # read and paid in one database transaction
        run = stored_run(uow.session, area, year)
        if run is None:
            raise NotFound("DIP year-end", f"{area} {year}")
        rows = [
            r
            for r in stored_settlements(uow.session, run.id)
            if institution is None or r.institution == institution
        ]
        if institution is not None and not rows:
            raise NotFound("institution in the DIP year-end", institution)
        refs = {r.institution: dip_payment_reference(r.institution, area, year) for r in rows}
        done = payments(uow.session, list(refs.values()))
        out: list[Paid] = []
        for r in rows:
            ref = refs[r.institution]
            legs = dip_payment_postings(r.institution, area, r.settlement)
            found = done.get(ref)
            if found is not None or not legs or r.transaction_id is None:
                out.append(Paid(r.institution, r.settlement, found, False))
                continue
            txn = LedgerTransaction.of(
                DIP_PAYMENT_KIND,
                day,
                legs,
                f"DIP year-end {year} of area {area}: balance paid with {r.institution}",
                ref,
            )
            try:
                txn_id = uow.ledger.post(txn)
            except AlreadyExists:  # paid meanwhile by another run: keep its payment
                again = payments(uow.session, [ref]).get(ref)
                out.append(Paid(r.institution, r.settlement, again, False))
                continue
            out.append(
                Paid(r.institution, r.settlement, Payment(ref, txn_id, day, r.settlement), True)
            )
        uow.commit()
    return out
