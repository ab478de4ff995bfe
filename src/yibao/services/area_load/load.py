"""Load a generated pooling area into the registry database (SQLite or PostgreSQL).

``load_area(folder, db)`` reads ``folder/persons/part-*.parquet`` one part at a time and writes,
in one database transaction per part:

- persons and households, through the bulk import of ``yibao.store.bulk`` (validated IDs,
  staging table, set-based insert); the region of residence is the area's code;
- close relations (both directions): the head and each member, as the ``relation`` column
  says; the head's spouse and the head's children and grandchildren; the head's children among
  themselves (siblings);
- special groups: ``newborn`` (from birth to the day before the first birthday), ``student``
  (the calendar year), the aid classes (tekun, dibao, ...: from 1 January of the year before,
  or birth, open-ended, so they are in force in the collection period);
- one active enrolment per person in the area (employee in service: kind ``employer`` with a
  synthetic employer code; ``flexible``; ``retiree``; ``resident``) starting on
  ``enrolled_on``, and its ``enrol`` event (a generated retiree has no contribution history
  and is taken as reaching the minimum years: deemed, no back-payment);
- the coverage years before the year (``generated.past_years``, closed as the year-end closes
  them);
- the year's contributions, by ``services.payments`` with the area's policy
  (``services.common.policy_for``), as balanced ledger transactions: 12 employee, flexible or
  retiree-credit months (from the month of enrolment for those who joined during the year,
  paid on the 20th or on the day of enrolment if later), one resident year (paid on
  ``enrolled_on`` for those enrolled from 1 September of the year before, else on a day of the
  collection period, 1 September .. 31 December, drawn from ``psn_no``); and the coverage year
  marked insured. The same transactions carry the financing of the critical illness fund (with
  each resident contribution) and of the large-amount fund (with each month);
- the personal accounts' opening balances (``services.ledger.opening_legs``);
- the part's claims as visits (``claims/part-*.parquet``), with their diagnoses, procedures and
  discharge, and their fee lines (``lines/part-*.parquet``) classified against the area's
  catalogue as 2204 classifies them (``visits``; not the lines with ``lines=False``);
- the visits settled (2207) through the kernel, each person's in date order with the
  year-to-date state carried, and stored with their layers, their balanced ledger
  transactions, the accounts' balances and the funds' month totals (``settle``; not with
  ``settle=False``);
- after the last part, the year's fiscal allocation to the medical assistance fund, by the
  service itself (``services.ledger.allocate_assistance``; posted once per area and year).

The rows are those the services (``services.enrolment.enrol``, ``services.contributions.pay_*``,
``credit_retiree``, ``services.ledger.open_personal_balance``) write for the same calls, built by
the same builders (``build``) and copied in bulk (``write``; a test compares them with the
services). Each part is checked before commit like ``UnitOfWork.commit``: every transaction
written has at least two postings summing to zero (PostgreSQL's deferred trigger checks again at
COMMIT).

Loading is idempotent per part: a part whose persons are all registered and enrolled is
skipped; a part none of whose persons is registered is loaded; anything in between (persons
registered by another route) is refused with ``AreaLoadRefused``. Memory is bounded by the part
size (the generator's chunk size), not by the number of persons.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

from yibao.kernel.classify import CatalogueTable
from yibao.kernel.tables import Tables
from yibao.services import ledger
from yibao.services.area_load import settle, visits, write, year_rules
from yibao.services.area_load.read import (
    open_area,
    part_rows,
    persons_of,
    read_part,
    registry_batch,
)
from yibao.services.area_load.report import AreaLoadRefused, LoadReport
from yibao.services.common import policy_for
from yibao.services.fees import source
from yibao.services.settlement.compute import tables_for
from yibao.store import bulk, bulk_write
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

#: called after each part with (persons done, persons in all)
Progress = Callable[[int, int], None]
#: persons whose rows are built and written at a time (bounds the memory of a large part)
SLICE = 20_000


@contextmanager
def _without_cycle_collector() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a part is built and written: the rows
    are hundreds of thousands of tuples (no cycles), and each collection of the older
    generations walks all of them again (~10% of a load on SQLite). Reference counting still
    frees them; memory stays bounded by the part."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_part(
    conn: Connection,
    path: Path,
    report: LoadReport,
    rules: year_rules.Rules,
    max_errors: int,
    catalogue: CatalogueTable | None,
    tables: Tables | None,
) -> int:
    """Load one persons part inside the caller's transaction; returns the persons inserted,
    or -1 when the part was already loaded."""
    bulk_write.prepare(conn)
    table = read_part(path)
    checked = bulk.ImportReport(path=str(path), format="parquet")
    rows = bulk.validate_batch(registry_batch(table, report.region), 1, checked, max_errors)
    report.invalid += checked.invalid
    for e in checked.errors[: max(max_errors - len(report.errors), 0)]:
        report.errors.append(
            {"part": path.name, "row": e.row, "field": e.field, "reason": e.reason}
        )
    bulk.stage_persons(conn, rows)
    present = bulk.staged_already_registered(conn)
    if present:
        enrolled = bulk_write.staged_enrolled(conn)
        if present == len(rows) and enrolled == len(rows):
            return -1
        raise AreaLoadRefused(
            f"{path.name}: {present} of its {len(rows)} persons are already registered "
            f"({enrolled} enrolled); load into a database without them"
        )
    households, inserted = bulk.insert_staged(conn)
    report.households += households
    registered = bulk_write.staged_person_ids(conn)
    people = persons_of(table)
    del table
    person_ids = {
        p.psn_no: registered[p.national_id] for p in people if p.national_id in registered
    }
    part = write.Part(conn, report.region, report.persons, rules, report)
    write.write_registry(part, people, person_ids)
    for start in range(0, len(people), SLICE):
        write.write_slice(part, people[start : start + SLICE], person_ids)
    del people
    written = visits.write_visits(conn, path, person_ids, report.region, report.year, catalogue)
    report.add_visits(written)
    if tables is not None and written.to_settle is not None:
        done = settle.settle_part(
            conn,
            written.to_settle,
            settle.part_persons(path),
            report.region,
            report.year,
            tables,
        )
        report.add_settled(done)
    return inserted


def load_area(
    folder: str | Path,
    db: str | Engine | None = None,
    *,
    progress: Progress | None = None,
    migrate: bool = True,
    max_errors: int = 100,
    lines: bool = True,
    settlements: bool = True,
) -> LoadReport:
    """Load the generated area in ``folder`` into the database ``db`` (URL or engine; default
    ``YIBAO_DATABASE_URL``, else ``./yibao.sqlite``). With ``migrate`` the schema is brought to
    the latest migration first. Without ``lines`` the visits are loaded with their diagnoses
    and procedures but without their fee lines; without ``settlements`` the visits are not
    settled."""
    area = open_area(folder)
    engine = db if isinstance(db, Engine) else make_engine(db)
    url = engine.url.render_as_string(hide_password=False)
    if migrate:
        upgrade(url)
    report = LoadReport(
        folder=str(area.folder),
        database=make_url(url).render_as_string(hide_password=True),
        region=area.region,
        year=area.year,
        persons=area.persons,
        parts=len(area.parts),
    )
    rules = year_rules.Rules(policy_for(area.region), area.year)
    tables = tables_for(policy_for(area.region), area.year) if settlements else None
    catalogue = None
    if lines:  # the catalogue 2204 classifies the area's lines against
        uow = UnitOfWork.for_engine(engine)
        with uow:
            catalogue = source.catalogue_for(uow, area.region)
    started = time.perf_counter()
    done = 0
    try:
        with engine.connect() as conn:
            for path in area.parts:
                n = part_rows(path)
                with _without_cycle_collector(), conn.begin():
                    inserted = _load_part(conn, path, report, rules, max_errors, catalogue, tables)
                if inserted < 0:
                    report.parts_skipped += 1
                else:
                    report.parts_loaded += 1
                    report.persons_inserted += inserted
                done += n
                if progress is not None:
                    progress(done, area.persons)
            if report.parts_loaded and engine.dialect.name == "postgresql":
                # fresh statistics for the planner: the store's supervision run and the console
                # read the loaded tables at once, before autovacuum would have analysed them
                with conn.begin():
                    conn.execute(text("ANALYZE"))
        allocation = ledger.allocate_assistance(
            UnitOfWork.for_engine(engine), area.region, area.year
        )
        report.assistance_allocation = allocation.amount
        if allocation.posted:
            report.transactions += 1
            report.postings += 2
    finally:
        if not isinstance(db, Engine):
            engine.dispose()
    report.seconds = time.perf_counter() - started
    return report
