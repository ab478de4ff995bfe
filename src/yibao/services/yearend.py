"""Year-end close (年终结算 of the registry): coverage years, continuity, zero-claim years; and
coverage history taken over from before the system."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yibao.domain.enrolment import CoverageStatus, CoverageYear, Scheme
from yibao.domain.errors import InvalidField
from yibao.domain.ids import NotStored
from yibao.domain.registry import check_area
from yibao.domain.year_end import continuous_years
from yibao.services.common import find_person
from yibao.store.opening import add_coverage_rows
from yibao.store.repositories import YearCloseCounts
from yibao.store.uow import UnitOfWork


def close_year(uow: UnitOfWork, year: int) -> YearCloseCounts:
    """Close ``year``:

    1. every person with an enrolment overlapping the year but no coverage row for it gets a
       ``lapsed`` row (an active retiree an ``insured`` one: retirees pay nothing);
    2. each row of the year gets ``continuous_years`` (1 + last year's, if insured; else 0),
       ``zero_claim`` (insured, ``fund_paid`` = 0 and no settlement in force in which the funds
       paid anything that year: the settlements table is the source of what the funds paid)
       and ``closed``;
    3. rows already present for next year (paid in the collection period) get their
       ``continuous_years`` recomputed from this year's.

    Every step is recomputed from the same inputs, so running it twice changes nothing
    (``year_closes.runs`` counts the runs).
    """
    if not 1900 < year < 3000:
        raise InvalidField("year", "not a plausible year", year)
    with uow:
        counts = uow.coverage.close_year(year)
        uow.commit()
    return counts


def add_fund_paid(uow: UnitOfWork, who: str | int, year: int, fen: int) -> None:
    """Record what the funds paid for a person in a year outside the settlement service (e.g.
    history taken over from an earlier system). Settlements are read directly by the year-end
    and by the incentive rule; they do not go through this hook."""
    if fen < 0:
        raise InvalidField("fund_paid", "must not be negative", fen)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        uow.coverage.add_fund_paid(person.id, year, fen)
        uow.commit()


@dataclass(frozen=True, slots=True)
class PastYear:
    """A coverage year from before the system (history taken over from an earlier one)."""

    year: int
    insured: bool
    scheme: Scheme
    repaired: bool = False  # a lapsed year paid back
    zero_claim: bool = False  # an insured year in which the funds paid nothing
    fund_paid: int = 0  # fen the funds paid for the person that year (0 in a zero-claim year)


def past_rows(
    person_id: int, area: str, years: Sequence[PastYear], continuous_before: int = 0
) -> list[CoverageYear]:
    """The closed coverage rows of consecutive past ``years`` (oldest first), with
    ``continuous_years`` run on from ``continuous_before`` (the insured years just before the
    first one) as the year-end runs it. Pure: ``record_history`` and ``yibao synth load`` both
    write these rows."""
    if isinstance(continuous_before, bool) or continuous_before < 0:
        raise InvalidField("continuous_before", "must be a non-negative count", continuous_before)
    rows: list[CoverageYear] = []
    run = continuous_before
    for i, y in enumerate(years):
        if i and y.year != years[i - 1].year + 1:
            raise InvalidField("years", "must be consecutive, oldest first", y.year)
        if y.repaired and y.insured:
            raise InvalidField("repaired", f"{y.year} was insured: only a lapsed year is repaired")
        if y.zero_claim and (not y.insured or y.fund_paid):
            raise InvalidField("zero_claim", f"{y.year}: only an insured year without payments")
        if y.fund_paid < 0 or (y.fund_paid and not y.insured):
            raise InvalidField("fund_paid", f"{y.year}: not an amount the funds paid", y.fund_paid)
        run = continuous_years(y.insured, run)
        rows.append(
            CoverageYear(
                person_id=person_id,
                year=y.year,
                status=CoverageStatus.INSURED if y.insured else CoverageStatus.LAPSED,
                scheme=y.scheme,
                pooling_area=area,
                repaired=y.repaired,
                fund_paid=y.fund_paid,
                continuous_years=run,
                zero_claim=y.zero_claim,
                closed=True,
            )
        )
    return rows


def record_history(
    uow: UnitOfWork,
    who: str | int,
    area: str,
    years: Sequence[PastYear],
    continuous_before: int = 0,
) -> list[CoverageYear]:
    """Record a person's coverage years from before the system (closed rows, see
    ``past_rows``). They must come before every coverage year already recorded for the person,
    so continuity runs on into the years the system keeps."""
    check_area(area)
    years = sorted(years, key=lambda y: y.year)
    with uow:
        person = find_person(uow, who)
        if person.id is None:
            raise NotStored("person")
        rows = past_rows(person.id, area, years, continuous_before)
        if not rows:
            return []
        known = uow.coverage.history(person.id)
        if known and min(c.year for c in known) <= rows[-1].year:
            raise InvalidField(
                "years",
                f"must be before {min(c.year for c in known)}, the first year recorded for "
                f"{person.label}",
                rows[-1].year,
            )
        if rows[0].year < person.birth_date.year:
            raise InvalidField("years", f"{rows[0].year} is before the person's birth")
        add_coverage_rows(uow.session, rows)
        uow.commit()
    return rows
