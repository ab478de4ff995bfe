"""Year-end close (年终结算 of the registry): coverage years, continuity, zero-claim years."""

from __future__ import annotations

from yibao.domain.errors import InvalidField
from yibao.services.common import find_person
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
        assert person.id is not None
        uow.coverage.add_fund_paid(person.id, year, fen)
        uow.commit()
