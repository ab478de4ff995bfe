"""The demo (``yibao demo``): a small synthetic pooling area in an embedded database, and what
``yibao demo --serve`` needs to show the API on it.

On first use the area (``DEMO_PERSONS`` persons of 360100, 2025, a fixed seed) is generated into
the data folder (``$YIBAO_DATA_DIR``, default ``./data/demo``) and loaded into the SQLite database
there (``yibao.sqlite``); later uses reuse both. ``$YIBAO_DEMO_PERSONS`` changes the size of the
area. For the API: a master secret kept in the data folder (``api-secret``, mode 0600) unless
``$YIBAO_API_SECRET`` is set, a demo institution (``DEMO_INSTITUTION``, level 2) and an
administrator account (``admin``, password in ``admin-password``), a demo person out of any
waiting period and the request bodies of a 1101 and a 2207 for them.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from yibao.domain.errors import RecordError
from yibao.domain.registry import Person
from yibao.services import dip_year, ledger
from yibao.services import provider_payment as pp
from yibao.services.area_load import LoadReport, load_area
from yibao.services.area_load.load import Progress
from yibao.services.common import policy_for
from yibao.services.keys import newest_key_id
from yibao.services.person_file import enrolment_on, entitlement, load_file
from yibao.store.db import make_engine
from yibao.store.dip_year import year_cases
from yibao.store.uow import UnitOfWork
from yibao.synth.config import SynthConfig
from yibao.synth.writer import generate, read_manifest

DATA_ENV = "YIBAO_DATA_DIR"
PERSONS_ENV = "YIBAO_DEMO_PERSONS"
SECRET_ENV = "YIBAO_API_SECRET"
DEFAULT_DATA = Path("data") / "demo"
DEMO_REGION, DEMO_YEAR, DEMO_SEED, DEMO_PERSONS = "360100", 2025, 20250101, 5_000
DEMO_INSTITUTION, DEMO_INSTITUTION_NAME, DEMO_LEVEL = "H36010000001", "南昌示范医院 (demo)", 2
DEMO_ADMIN = "admin"
#: The date of the demo claim and of the 1101 query: inside the demo area's year.
DEMO_CLAIM_DATE = dt.date(DEMO_YEAR, 6, 1)


def data_folder() -> Path:
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA)


def demo_config() -> SynthConfig:
    persons = int(os.environ.get(PERSONS_ENV) or DEMO_PERSONS)
    return SynthConfig(DEMO_REGION, persons, DEMO_YEAR, DEMO_SEED)


def _same_area(folder: Path, config: SynthConfig) -> bool:
    if not (folder / "meta.json").exists():
        return False
    meta = read_manifest(folder)
    wanted = (config.region, config.persons, config.year, config.seed, config.chunk_size)
    found = (meta["region"], meta["persons"], meta["year"], meta["seed"], meta["chunk_size"])
    return wanted == found


@dataclass(frozen=True)
class DemoArea:
    folder: Path
    database: Path
    url: str
    report: LoadReport
    #: Seconds spent generating and loading.
    seconds: float


def prepare_area(
    generating: Callable[[SynthConfig, Path], None] | None = None,
    progress: Progress | None = None,
) -> DemoArea:
    """The demo area and its database: generated (``generating`` is told first) and loaded on
    first use, then reused. A folder that holds another area is ``AreaLoadRefused``."""
    folder = data_folder()
    config = demo_config()
    database = folder / "yibao.sqlite"
    url = f"sqlite:///{database}"
    started = time.perf_counter()
    same = _same_area(folder, config)
    if not same or _unsettled(database):
        for stale in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            stale.unlink(missing_ok=True)
    if not same:
        if generating is not None:
            generating(config, folder)
        generate(folder, config)
    report = load_area(folder, url, progress=progress)
    return DemoArea(folder, database, url, report, time.perf_counter() - started)


def _unsettled(database: Path) -> bool:
    """Whether the demo database holds visits and no settlement (loaded before the load settled
    its visits): it is then loaded anew, so that the demo's year-end has stays to settle."""
    if not database.exists():
        return False
    with sqlite3.connect(database) as conn:
        try:
            visits = conn.execute("SELECT EXISTS (SELECT 1 FROM visits)").fetchone()[0]
            settled = conn.execute("SELECT EXISTS (SELECT 1 FROM settlements)").fetchone()[0]
        except sqlite3.Error:  # not migrated yet
            return False
    return bool(visits) and not settled


def area_funds(url: str, area: str) -> tuple[ledger.FundsReport, ledger.ReconciliationReport]:
    """The fund balances of ``area`` and the reconciliation of the whole ledger."""
    uow = UnitOfWork.for_url(url)
    return ledger.funds_report(uow, area), ledger.reconcile(uow)


def dip_year_end(url: str) -> dip_year.YearEnd | None:
    """The DIP year-end of the demo area's year (``yibao dip settle``), run once and reused:
    when no DIP table is in force, one is built from the year's own discharged stays first (a
    demo shortcut: a bureau builds from the three years before). None when the area holds no
    settled discharged stay of the year (the area was loaded without visits or settlements)."""
    found = dip_year.statement(UnitOfWork.for_url(url), DEMO_REGION, DEMO_YEAR)
    if found is not None:
        return found
    with UnitOfWork.for_url(url) as uow:
        stays = year_cases(uow.session, DEMO_REGION, DEMO_YEAR)
    if not stays.mdtrt_id:
        return None
    cases = pp.Cases(
        year=np.full(len(stays.mdtrt_id), DEMO_YEAR, np.int64),
        diagnosis=pa.array(stays.diagnosis, pa.string()),
        procedure=pa.array(stays.procedure, pa.string()),
        diagnoses=pa.array([[d] if d else [] for d in stays.diagnosis], pa.list_(pa.string())),
        cost=np.array(stays.cost, np.int64),
        age=np.full(len(stays.mdtrt_id), -1, np.int64),
        institution=pa.array(stays.institution, pa.string()),
    )
    first = dt.date(DEMO_YEAR, 1, 1)
    in_force, _ = pp.table_in_force(UnitOfWork.for_url(url), "dip", DEMO_REGION, first)
    if in_force is None:
        rows = pp.dip_rows(cases, [DEMO_YEAR], policy_for(DEMO_REGION), first)
        pp.save_built(UnitOfWork.for_url(url), "dip", DEMO_REGION, first, [DEMO_YEAR], rows)
    return dip_year.settle(UnitOfWork.for_url(url), DEMO_REGION, DEMO_YEAR)


# ------------------------------------------------------------------------------- the API


def private_file(path: Path, make: Callable[[], object]) -> tuple[str, bool]:
    """The stripped content of ``path``, or a new value from ``make()`` written there with mode
    0600; and whether it was made now."""
    if path.exists():
        return path.read_text().strip(), False
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value, True


@dataclass(frozen=True)
class DemoSecret:
    value: str
    #: The file it is kept in; None when it comes from ``$YIBAO_API_SECRET``.
    file: Path | None
    #: Generated now (first run).
    made: bool


def demo_secret(folder: Path) -> DemoSecret:
    """The master secret: ``$YIBAO_API_SECRET``, or a random one kept in the data folder."""
    given = os.environ.get(SECRET_ENV)
    if given:
        return DemoSecret(given, None, False)
    path = folder / "api-secret"
    value, made = private_file(path, lambda: secrets.token_hex(32))
    return DemoSecret(value, path, made)


@dataclass(frozen=True)
class DemoPerson:
    psn_no: int
    national_id: str
    scheme: str
    entitled: bool


def _entitled(uow: UnitOfWork, p: Person, on: dt.date) -> bool:
    """Enrolled on ``on`` and out of any waiting period (1101's ``in_waiting_period`` false)."""
    file = load_file(uow, p)
    e = enrolment_on(file.enrolments, on)
    if e is None:
        return False
    try:
        ent = entitlement(file, e, on, policy_for(e.pooling_area))
    except RecordError:
        return False
    return ent.entitled_from is not None and on >= ent.entitled_from


def pick_person(url: str, on: dt.date) -> DemoPerson:
    """The first adult (by person number) with an active enrolment who is out of any waiting
    period on ``on``: residents first, then anyone; failing that the first person."""
    from sqlalchemy import select

    from yibao.store.models import EnrolmentRow

    engine = make_engine(url)
    try:
        with UnitOfWork.for_engine(engine) as uow:
            rows = uow.session.execute(
                select(EnrolmentRow.person_id, EnrolmentRow.scheme)
                .where(EnrolmentRow.status == "active", EnrolmentRow.start_date <= on)
                .order_by((EnrolmentRow.scheme != "resident"), EnrolmentRow.person_id)
                .limit(200)
            ).all()
            first: DemoPerson | None = None
            for person_id, scheme in rows:
                p = uow.persons.get(person_id)
                if p.age_on(on) < 18:
                    continue
                found = DemoPerson(person_id, p.label, scheme, _entitled(uow, p, on))
                if found.entitled:
                    return found
                first = first or found
            if first is not None:
                return first
            return DemoPerson(1, uow.persons.get(1).label, "", False)
    finally:
        engine.dispose()


def demo_bodies(person: DemoPerson, on: dt.date) -> dict[str, dict[str, Any]]:
    """The request bodies of the demo: 1101 (person and coverage) and 2207 (settle an
    inpatient claim at the demo institution's level)."""

    def envelope(infno: str, msgid: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "infno": infno,
            "msgid": msgid,
            "fixmedins_code": DEMO_INSTITUTION,
            "opter": "demo-clerk",
            "inf_time": f"{on.isoformat()} 10:00:00",
            "input": data,
        }

    psn_no = str(person.psn_no)
    return {
        "1101": envelope("1101", f"demo-1101-{psn_no}", {"psn_no": psn_no, "date": on.isoformat()}),
        "2207": envelope(
            "2207",
            f"demo-2207-{psn_no}",
            {
                "psn_no": psn_no,
                "date": on.isoformat(),
                "med_type": "inpatient",
                "total": "20000.00",
                "fully_self_paid": "1000.00",
                "over_limit": "0.00",
                "category_b": "0.00",
            },
        ),
    }


def ensure_institution(url: str, secret: str) -> tuple[str, bool]:
    """The demo institution's key id, and whether it was registered now (level 2, area
    360100) because it was missing."""
    from yibao.services.accounts import NewInstitution, issue_institution

    engine = make_engine(url)
    try:
        key_id = newest_key_id(UnitOfWork.for_engine(engine), DEMO_INSTITUTION)
        if key_id is not None:
            return key_id, False
        issued = issue_institution(
            UnitOfWork.for_engine(engine),
            secret,
            NewInstitution(
                code=DEMO_INSTITUTION,
                name=DEMO_INSTITUTION_NAME,
                level=DEMO_LEVEL,
                area=DEMO_REGION,
            ),
        )
    finally:
        engine.dispose()
    return issued.key_id, True


def ensure_admin(url: str, folder: Path) -> tuple[Path, bool]:
    """The demo administrator account (password in the data folder, mode 0600): the password
    file, and whether the account was created now."""
    from yibao.domain.roles import Role

    return ensure_staff(url, folder, DEMO_ADMIN, Role.ADMINISTRATOR, "admin-password")


#: The demo's staff accounts besides the administrator: (username, role), for the console.
DEMO_STAFF = (("clerk", "enrolment_clerk"), ("auditor", "settlement_auditor"))


def ensure_staff(
    url: str, folder: Path, username: str, role: Any, file_name: str | None = None
) -> tuple[Path, bool]:
    """A demo staff account of ``role`` (password in the data folder, mode 0600): the password
    file, and whether the account was created now."""
    from sqlalchemy.orm import Session

    from yibao.domain.roles import Role
    from yibao.services.accounts import NewStaff, create_staff
    from yibao.store.repositories import ApiRepository

    path = folder / (file_name or f"{username}-password")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            exists = ApiRepository(session).staff_by_name(username) is not None
        if exists:
            return path, False
        password, _ = private_file(path, lambda: secrets.token_urlsafe(18))
        create_staff(
            UnitOfWork.for_engine(engine),
            NewStaff(username=username, role=Role(role), password=password),
        )
    finally:
        engine.dispose()
    return path, True
