"""What a settlement reads of its persons' files (参保档案), for many persons at once: enrolments
with their first payments, coverage years with what the funds paid in them, special groups,
mutual-aid links, certified chronic diseases, commercial purchases, and the epidemics declared
for the areas the persons are enrolled in; for a settlement round, once its states and visits
are locked, the settlements of its request ids and of its visits and the visits' line sums with
them. On PostgreSQL one statement (``JsonRead``: each read's rows a JSON array); elsewhere a
read per table. Both decode the rows with the repositories' own functions, so the objects are
the same."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from yibao.domain.contributions import ContributionKind
from yibao.domain.enrolment import CoverageYear, Enrolment
from yibao.domain.fees import LineSums
from yibao.domain.registry import MutualAidLink, SpecialGroup
from yibao.rules.chronic import Certification
from yibao.rules.commercial import Cover
from yibao.rules.epidemics import EpidemicTerms
from yibao.store import epidemics
from yibao.store.models import EnrolmentRow
from yibao.store.repositories import (
    chronic,
    commercial,
    coverage,
    enrolments,
    fees,
    persons,
    settlements,
)
from yibao.store.repositories.settlement_records import StoredSettlement
from yibao.store.sql import BulkRead, InKeys, JsonRead, pg_in

_ENROLMENTS = cast(Table, EnrolmentRow.__table__)


@dataclass(frozen=True)
class FileRows:
    """The persons' files, table by table, by person id (``first_paid`` by enrolment id)."""

    enrolments: dict[int, list[Enrolment]]
    first_paid: dict[int, dt.date]  # enrolment id -> its first payment of the kinds asked for
    coverage: dict[int, list[CoverageYear]]
    fund_paid: dict[int, dict[int, int]]  # person id -> {year: what settlements in force paid}
    groups: dict[int, list[SpecialGroup]]
    links: dict[int, list[MutualAidLink]]
    certifications: dict[int, list[Certification]]
    covers: dict[int, list[Cover]]
    #: the epidemics declared for any area the persons have an enrolment in (empty when not
    #: asked for)
    epidemics: list[EpidemicTerms]


@dataclass(frozen=True)
class RoundRows:
    """What a settlement round reads once its persons' states and its visits are locked."""

    files: FileRows  # with the epidemics
    stored: dict[str, StoredSettlement]  # request id -> the settlement stored under it
    settled: dict[int, str]  # visit id -> the setl_id of its settlement in force
    sums: dict[int, LineSums]  # visit id -> its live lines summed (visits with live lines)


def _enrolled_areas(column: ColumnElement[Any], _: str) -> ColumnElement[bool]:
    """``column IN`` the areas of the enrolments of the persons (PostgreSQL)."""
    persons = bindparam("persons", type_=ARRAY(_ENROLMENTS.c.person_id.type))
    return column.in_(
        select(_ENROLMENTS.c.pooling_area)
        .where(_ENROLMENTS.c.person_id == any_(persons))
        .correlate(None)
    )


_PARTS: list[tuple[BulkRead[*tuple[Any, ...]], InKeys]] = [
    (enrolments.HISTORIES, pg_in()),  # keyed by persons and kinds
    (coverage.HISTORIES, pg_in()),  # by persons
    (persons.GROUPS_OF, pg_in(keys="persons")),
    (persons.LINKS_FOR, pg_in(keys="persons")),
    (chronic.OF_PERSONS, pg_in(keys="certified")),
    (commercial.IN_FORCE, pg_in(keys="persons")),
]
#: the files in one statement (PostgreSQL), without and with the epidemics
_FILES = JsonRead(_PARTS)
_FILES_EPIDEMICS = JsonRead([*_PARTS, (epidemics.TERMS, _enrolled_areas)])
#: ... and a round's
_ROUND = JsonRead(
    [
        *_PARTS,
        (epidemics.TERMS, _enrolled_areas),
        (settlements.SETTLED_ON_VISITS, pg_in(keys="visits")),
        (fees.SUMS, pg_in(keys="visits")),
        (settlements.BY_REQUESTS, pg_in(keys="requests")),
    ]
)


class PersonFileRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of(
        self,
        person_ids: Sequence[int],
        *,
        paid: Iterable[ContributionKind],
        before: int | None = None,
        certified: Sequence[int] | None = None,
        with_epidemics: bool = False,
    ) -> FileRows:
        """The files of ``person_ids``: ``paid``, the contribution kinds whose first payment is
        read; ``before``, the year before which the settlements' fund payments are summed
        (``CoverageRepository.histories``); ``certified``, the persons whose certifications are
        read (None: all of them); ``with_epidemics``: the epidemics of the persons' areas too."""
        ids = list(person_ids)
        kinds = [k.value for k in paid]
        chronic_ids = ids if certified is None else list(certified)
        if not ids:
            return _file_rows([[]] * (len(_PARTS) + with_epidemics))
        if self.session.get_bind().dialect.name != "postgresql":
            return self._table_by_table(ids, kinds, before, chronic_ids, with_epidemics)
        read = _FILES_EPIDEMICS if with_epidemics else _FILES
        parts = read.rows(
            self.session,
            persons=ids,
            kinds=kinds,
            before=coverage.NO_YEAR if before is None else before,
            certified=chronic_ids,
        )
        return _file_rows(parts)

    def for_round(
        self,
        person_ids: Sequence[int],
        *,
        paid: Iterable[ContributionKind],
        before: int | None,
        certified: Sequence[int],
        visit_ids: Sequence[int],
        request_ids: Sequence[str],
    ) -> RoundRows:
        """``of`` the persons with their epidemics, the settlements stored under
        ``request_ids``, and of ``visit_ids`` the settlements in force and the live lines
        summed. Read after the round's locks (persons' states, then visits), in one statement
        on PostgreSQL: begun after the locks were granted, it sees what the transactions it
        waited for committed (a row lock taken inside a statement would not refresh the other
        tables it reads)."""
        ids, visits, requests = list(person_ids), sorted(set(visit_ids)), sorted(set(request_ids))
        kinds = [k.value for k in paid]
        if self.session.get_bind().dialect.name != "postgresql":
            s, repo = self.session, settlements.SettlementRepository(self.session)
            return RoundRows(
                self.of(ids, paid=paid, before=before, certified=certified, with_epidemics=True),
                repo.by_requests(requests),
                repo.settled_on_visits(visits),
                fees.sums_of(fees.SUMS.rows(s, keys=visits)) if visits else {},
            )
        parts = _ROUND.rows(
            self.session,
            persons=ids,
            kinds=kinds,
            before=coverage.NO_YEAR if before is None else before,
            certified=list(certified),
            visits=visits,
            requests=requests,
        )
        return RoundRows(
            _file_rows(parts[:7]),
            settlements.stored_by_request(parts[9]),
            settlements.settled_of(parts[7]),
            fees.sums_of(parts[8]),
        )

    def _table_by_table(
        self,
        ids: list[int],
        kinds: list[str],
        before: int | None,
        chronic_ids: list[int],
        with_epidemics: bool,
    ) -> FileRows:
        s = self.session
        found = enrolments.HISTORIES.rows(s, persons=ids, kinds=kinds)
        parts = [
            found,
            coverage.HISTORIES.rows(
                s, persons=ids, before=coverage.NO_YEAR if before is None else before
            ),
            persons.GROUPS_OF.rows(s, keys=ids),
            persons.LINKS_FOR.rows(s, keys=ids),
            chronic.OF_PERSONS.rows(s, keys=chronic_ids) if chronic_ids else [],
            commercial.IN_FORCE.rows(s, keys=ids) if ids else [],
        ]
        if with_epidemics:
            areas = sorted({r.pooling_area for r in found})
            parts.append(epidemics.TERMS.rows(s, keys=areas) if areas else [])
        return _file_rows(parts)


def _file_rows(parts: Sequence[Sequence[Any]]) -> FileRows:
    """The parts' rows (in the order of ``_PARTS``, then the epidemics' if read) decoded."""
    enrolled, first_paid = enrolments.histories_of(parts[0])
    years, fund_paid = coverage.histories_of(parts[1])
    return FileRows(
        enrolments=enrolled,
        first_paid=first_paid,
        coverage=years,
        fund_paid=fund_paid,
        groups=persons.groups_by_person(parts[2]),
        links=persons.links_by_relative(parts[3]),
        certifications=chronic.certifications_of(parts[4]),
        covers=commercial.covers_of(parts[5]),
        epidemics=epidemics.terms_of(parts[6]) if len(parts) > 6 else [],
    )
