"""The DIP year-end end to end on PostgreSQL: ``--cases N`` discharged inpatient cases of one
pooling area and year (settled, with a principal diagnosis and, for most, a main procedure, at
200 institutions) are written straight into a fresh database with ``INSERT ... SELECT
generate_series``; then ``services.dip_year.settle`` is timed: reading the cases, grouping
(per-diem first), pointing (``kernel.dip``), the point value, the institutions' settlements,
storing the run and posting one transaction per institution.

    python bench/dip_year.py [--cases 1000000] [--admin postgresql://postgres@127.0.0.1:5432/postgres]

Last line: ``seconds: <number>`` (the settle call alone; writing the cases is not timed).
"""

from __future__ import annotations

import argparse
import secrets
import time
from decimal import Decimal

from sqlalchemy import create_engine, text

from yibao.kernel.dip_groups import chapter_of, comprehensive_code
from yibao.services import dip_year
from yibao.services.dip_year import Group, GroupTable
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

AREA, YEAR, INSTITUTIONS = "360100", 2025, 200
DIAGNOSES = [f"{c}{n:02d}.{d}" for c in "IJKN" for n in range(10, 35) for d in range(3)]
PROCEDURES = [f"{n:02d}.{d}" for n in range(30, 60) for d in range(5)]


def table() -> GroupTable:
    groups = [Group(f"{dx}:{p}", 1500_0000, 2_000_000) for dx in DIAGNOSES for p in PROCEDURES[:2]]
    groups += [Group(f"{dx}:-", 800_0000, 900_000) for dx in DIAGNOSES[::2]]
    chapters = sorted({chapter_of(dx) or "" for dx in DIAGNOSES} - {""})
    groups += [Group(comprehensive_code(c), 700_0000, 800_000) for c in chapters]
    groups += [Group(f"{dx[:3]}:bed", 30_0000, 1, True) for dx in DIAGNOSES[::3]]
    return GroupTable(tuple(groups))


def fill(url: str, n: int) -> None:
    upgrade(url)
    nd, npr = len(DIAGNOSES), 3
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO persons (id, national_id, name, sex, birth_date) "
                "VALUES (1, '360426199101010071', 'bench', 'M', '1991-01-01')"
            )
        )
        c.execute(
            text(
                "INSERT INTO visits (id, mdtrt_id, person_id, fixmedins_code, med_type, level,"
                " cross_region, begin_date, end_date, status, discharge_way)"
                " SELECT g, 'B' || g, 1, 'H' || (g % :k), 'inpatient', 2, 'none',"
                " date '2025-01-01' + (g % 300), date '2025-01-01' + (g % 300) + 1 + (g % 23)"
                " + CASE WHEN g % 97 = 0 THEN 60 ELSE 0 END, 'registered', '1'"
                " FROM generate_series(1, :n) g"
            ),
            {"n": n, "k": INSTITUTIONS},
        )
        c.execute(
            text(
                "INSERT INTO settlements (id, setl_id, request_id, request_digest, visit_id,"
                " person_id, pooling_area, year, settled_on, scheme, status, medfee_sumamt,"
                " fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt, inscp_scp_amt,"
                " cross_prepay, act_pay_dedc, hifp_pay, hifmi_pay, hifob_pay, maf_pay,"
                " fund_pay_sumamt, psn_part_amt, acct_pay, acct_mulaid_pay, psn_cash_pay,"
                " admission_no, reasons, response, state_delta)"
                " SELECT g, 'S' || g, 'R' || g, 'd', g, 1, :area, 2025,"
                " date '2025-01-01' + (g % 300), CASE WHEN g % 3 = 0 THEN 'employee'"
                " ELSE 'resident' END, 'settled', m, 0, 0, 0, m, 0, 0, f, 0, 0, 0, f, m - f,"
                " 0, 0, m - f, 1, 0, '{}', '{}'"
                " FROM (SELECT g, 300000 + (g::bigint * 7919) % 4000000 AS m,"
                " (300000 + (g::bigint * 7919) % 4000000) * 7 / 10 AS f"
                " FROM generate_series(1, :n) g) x"
            ),
            {"n": n, "area": AREA},
        )
        c.execute(
            text(
                "INSERT INTO visit_diagnoses (visit_id, seq, code, diag_type)"
                " SELECT g, 1, (CAST(:dx AS text[]))[1 + g % :nd], '1'"
                " FROM generate_series(1, :n) g"
            ),
            {"n": n, "dx": DIAGNOSES, "nd": nd},
        )
        c.execute(
            text(
                "INSERT INTO visit_procedures (visit_id, seq, code, performed_on, main)"
                " SELECT g, 1, (CAST(:pr AS text[]))[1 + g % :np], NULL, true"
                " FROM generate_series(1, :n) g WHERE g % 4 <> 0"
            ),
            {"n": n, "pr": PROCEDURES[:npr], "np": npr},
        )
        for t in ("persons", "visits", "settlements"):
            c.execute(text(f"SELECT setval('{t}_id_seq', (SELECT max(id) FROM {t}))"))
        c.execute(text("ANALYZE"))
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--admin", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    name = f"yibao_bench_dip_{secrets.token_hex(4)}"
    admin = create_engine(args.admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        t0 = time.perf_counter()
        fill(url, args.cases)
        print(f"cases written: {args.cases} in {time.perf_counter() - t0:.1f} s")
        engine = make_engine(url)
        t0 = time.perf_counter()
        done = dip_year.settle(
            UnitOfWork.for_engine(engine), AREA, YEAR, table(), ratio=Decimal("0.7")
        )
        seconds = time.perf_counter() - t0
        print(
            f"{done.cases} cases, {len(done.institutions)} institutions, "
            f"point value {done.as_dict()['point_value']}, posted {done.posted}"
        )
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    print(f"seconds: {seconds:.1f}")


if __name__ == "__main__":
    main()
