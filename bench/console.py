"""The staff console's page time: search and the person's file over a large registry.

    python bench/console.py --db postgresql://postgres@127.0.0.1/DB [--persons 1000000]
                            [--files 20000] [--requests 200]

Fills the database when it holds fewer persons than asked: a generated area of ``--files``
persons with full files (enrolments, coverage years, contributions, personal accounts and their
ledger postings; ``yibao synth load``), then the rest of ``--persons`` as registry entries
(``bench/registry_import.py``'s population). Then serves the application in-process, signs in as
a settlement auditor (masked identities, settlements shown) and times ``--requests`` pages of
each kind: a search by national ID, by person number and by name (its beginning), and the file
of a random person of the area. Prints the p50/p95 of each; last line: ``p95 ms: <number>``, the
p95 over all pages. A database already filled is reused as it is.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from registry_import import population
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from yibao.api.http.app import create_app
from yibao.api.http.settings import Settings
from yibao.domain.roles import Role
from yibao.services.accounts import NewStaff, create_staff
from yibao.services.area_load import load_area
from yibao.store.bulk import import_persons
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.models import PersonRow
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

SECRET = "console-bench-secret-0123456789"
PASSWORD = "console-bench-pw-0123"


def fill(url: str, persons: int, files: int) -> None:
    engine = make_engine(url)
    with Session(engine) as s:
        have = s.scalar(select(func.count()).select_from(PersonRow)) or 0
    with tempfile.TemporaryDirectory(prefix="yibao_console_") as tmp:
        if have == 0:
            started = time.perf_counter()
            area = Path(tmp) / "area"
            generate(area, SynthConfig("360100", files, 2025, 1, 200_000))
            load_area(area, url, migrate=False)
            have = files
            print(f"area of {files:,} persons loaded in {time.perf_counter() - started:.0f} s")
        if have < persons:
            started = time.perf_counter()
            path = Path(tmp) / "registry.parquet"
            import pyarrow.parquet as pq

            pq.write_table(population(persons - have, 7), path)
            import_persons(engine, path)
            print(f"{persons - have:,} registry persons in {time.perf_counter() - started:.0f} s")
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    upgrade(args.db)
    fill(args.db, args.persons, min(args.files, args.persons))
    engine = make_engine(args.db)
    with Session(engine) as s:
        total = s.scalar(select(func.count()).select_from(PersonRow)) or 0
        rows = s.execute(select(PersonRow.id, PersonRow.national_id, PersonRow.name)).all()
    area = [r for r in rows if r.national_id.startswith("36")] or rows
    rng = random.Random(args.seed)
    name = f"bench-{time.time_ns()}"
    auditor = NewStaff(username=name, role=Role.SETTLEMENT_AUDITOR, password=PASSWORD)
    create_staff(UnitOfWork.for_engine(engine), auditor)
    settings = Settings(api_secret=SECRET, database_url=args.db)  # type: ignore[call-arg]
    app = create_app(settings, engine=engine)
    client = TestClient(app)
    page = client.get("/console/signin").text
    pre = re.search(r'name="pre" value="([^"]+)"', page)
    assert pre is not None
    client.post("/console/signin",
                data={"username": name, "password": PASSWORD, "pre": pre.group(1)})  # fmt: skip
    kinds = {
        "search by national ID": lambda: f"/console/persons?q={rng.choice(rows).national_id}",
        "search by person number": lambda: f"/console/persons?q={rng.choice(rows).id}",
        "search by name": lambda: f"/console/persons?q={rng.choice(rows).name[:-1]}",
        "person's file": lambda: f"/console/persons/{rng.choice(area).id}",
    }
    for make in kinds.values():  # warm up
        for _ in range(10):
            assert client.get(make()).status_code == 200
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(args.requests):
        for kind, make in kinds.items():
            path = make()
            started = time.perf_counter()
            r = client.get(path)
            times[kind].append((time.perf_counter() - started) * 1000)
            assert r.status_code == 200, (path, r.status_code)
    print(f"database: {engine.dialect.name}, {total:,} persons ({len(area):,} with full files)")
    for kind, ms in times.items():
        print(f"{kind}: p50 {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms")
    every = [t for ms in times.values() for t in ms]
    print(f"p95 ms: {percentile(every, 0.95):.0f}")


if __name__ == "__main__":
    main()
