"""The reads a settlement round makes after its locks, on SQLite and PostgreSQL: the person files
read at once (``PersonFileRepository.of``: one statement on PostgreSQL) equal the files read
table by table through each repository, for persons with every kind of file row; the visits'
settlements, line sums and stored requests read with the files for a round equal each read
alone."""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.test_store_settlement import AREA, employee, inpatient, resident
from yibao.domain.fees import FeeLine, FeeLineClass
from yibao.policy.vocab import ItemClass, LineReason
from yibao.services import epidemics, registry, settlement
from yibao.services.person_file import FIRST_PAID, load_files, read_files
from yibao.store import epidemics as epidemic_store
from yibao.store.models import SettlementRow
from yibao.store.repositories import FileRows
from yibao.store.uow import UnitOfWork


def _everything(uow: UnitOfWork) -> tuple[str, str]:
    """An employee who pays for a resident (mutual aid); the resident has a special group, a
    certified chronic disease, a commercial purchase, two coverage years, a settlement in
    force; an epidemic is declared for their area."""
    owner = employee(uow, 1, months=12)
    who = resident(uow, 2)
    registry.add_relation(uow, owner, who, "child")
    registry.authorise_mutual_aid(uow, owner, who, dt.date(2025, 1, 1))
    registry.add_group(uow, who, "dibao", dt.date(2024, 1, 1))
    epidemics.declare(uow, AREA, "COVID-19", dt.date(2025, 1, 1), ["U07"], ["student"])
    with uow:
        pid = uow.persons.require(who).id
        assert pid is not None
        uow.chronic.add(pid, AREA, "I10", dt.date(2025, 1, 1), dt.date(2026, 12, 31))
        uow.commercial.add(pid, AREA, "P1", "INS1", 2025, dt.date(2024, 12, 1), dt.date(2025, 1, 1))
        uow.coverage.mark_repaired(pid, 2024, AREA, uow.enrolments.history(pid)[0].scheme)
        uow.commit()
    settlement.settle(uow, inpatient(who, 500_000))
    return owner, who


def _table_by_table(uow: UnitOfWork, ids: list[int], before: int) -> FileRows:
    enrolled, first_paid = uow.enrolments.histories(ids, FIRST_PAID)
    years, fund_paid = uow.coverage.histories(ids, before)
    areas = {e.pooling_area for es in enrolled.values() for e in es}
    return FileRows(
        enrolments=enrolled,
        first_paid=first_paid,
        coverage=years,
        fund_paid=fund_paid,
        groups=uow.persons.groups_of(ids),
        links=uow.persons.links_for(ids),
        certifications=uow.chronic.of_persons(ids),
        covers=uow.commercial.in_force(ids),
        epidemics=epidemic_store.terms(uow.session, areas),
    )


def test_the_files_read_at_once_equal_the_files_read_table_by_table(uow: UnitOfWork) -> None:
    owner, who = _everything(uow)
    with uow:
        ids = sorted(p.id or 0 for p in (uow.persons.require(owner), uow.persons.require(who)))
        at_once = uow.person_files.of(ids, paid=FIRST_PAID, before=2026, with_epidemics=True)
        alone = _table_by_table(uow, ids, 2026)
    assert at_once == alone
    for name, value in vars(at_once).items():  # every kind of row is there
        assert value, name
    assert alone.fund_paid[ids[1]][2025] > 0 and ids[1] in alone.links
    assert {y.year for y in alone.coverage[ids[1]]} == {2024, 2025}


def test_the_read_limits_and_the_files_it_builds(uow: UnitOfWork) -> None:
    owner, who = _everything(uow)
    with uow:
        people = [uow.persons.require(owner), uow.persons.require(who)]
        ids = sorted(p.id or 0 for p in people)
        # no certification read but the chronic claimants', no fund paid summed from 2025 on
        limited = uow.person_files.of(ids, paid=FIRST_PAID, before=2025, certified=[ids[0]])
        assert limited.certifications == {} and limited.epidemics == []
        assert limited.fund_paid == {}
        assert limited.coverage == _table_by_table(uow, ids, 2025).coverage
        assert uow.person_files.of([], paid=FIRST_PAID, with_epidemics=True) == FileRows(
            {}, {}, {}, {}, {}, {}, {}, {}, []
        )
        files, terms = read_files(uow, people, {ids[1]: 2026})
        assert files == load_files(uow, people, {ids[1]: 2026})
        assert [t.area for t in terms] == [AREA]
        assert files[ids[1]].certifications and files[ids[1]].covers and files[ids[1]].links


def test_a_rounds_read_equals_its_reads_one_by_one(uow: UnitOfWork) -> None:
    owner, who = _everything(uow)
    visit = settlement.register_visit(uow, who, "H1", "outpatient", 1, dt.date(2025, 5, 1))
    line = FeeLine(
        "1", "XC03", 1, 1000, 1000, dt.date(2025, 5, 1),
        classes=FeeLineClass(ItemClass.A, 0, 0, 1000, 0, LineReason.CLASS_A),
    )  # fmt: skip
    with uow:
        assert visit.id is not None
        uow.fees.add_lines(visit.id, [line, dataclasses.replace(line, feedetl_sn="2")])
        uow.commit()
    with uow:
        ids = sorted(p.id or 0 for p in (uow.persons.require(owner), uow.persons.require(who)))
        [stored] = uow.session.scalars(select(SettlementRow.request_id)).all()
        visits = [*uow.settlements.settled_on_visits(range(1, visit.id + 1)), visit.id, 999_999]
        requests = [stored, "R-none"]
        read = uow.person_files.for_round(
            ids,
            paid=FIRST_PAID,
            before=2026,
            certified=ids[1:],
            visit_ids=visits,
            request_ids=requests,
        )
        assert read.files == _table_by_table(uow, ids, 2026)
        assert read.stored == uow.settlements.by_requests(requests) and read.stored
        assert read.settled == uow.settlements.settled_on_visits(visits) and read.settled
        sums = uow.fees.sums(visits)
        assert read.sums == sums and read.sums[visit.id].amount == 2000
        # (the rules' line counts and the last day are not compared by ``==``)
        got, alone = read.sums[visit.id], sums[visit.id]
        assert (got.rule_lines, got.last_day) == (alone.rule_lines, alone.last_day)
        assert got.last_day == dt.date(2025, 5, 1) and got.rule_lines
        empty = uow.person_files.for_round(
            [], paid=FIRST_PAID, before=None, certified=[], visit_ids=[], request_ids=[]
        )
        assert (empty.stored, empty.settled, empty.sums) == ({}, {}, {})
