"""The monthly fund analysis (``yibao funds analysis``) over an area with a year of settlements
on PostgreSQL.

    python bench/funds.py [--insured 1000000] [--admin postgresql://postgres@127.0.0.1:5432/test]

Setup (not timed): a fresh database ``yibao_bench_funds`` is migrated to 0008, its ledger filled
in bulk by SQL (``INSERT ... SELECT`` over ``generate_series``, inside PostgreSQL) in the shape
the services post, rather than through the services (which would take hours at this size):

- 30% of the insured are employees: a personal account each and twelve monthly contributions
  (D cash, C employee_pooling, C large_amount, C personal account);
- 70% are residents: one yearly contribution (D cash, D fiscal_subsidy_receivable,
  C resident_pooling, C critical_illness);
- 5.7 settlements per insured over the year (as ``yibao synth``; 10-110 yuan from the pooling
  fund, one in 50 an inpatient stay of 2,000-5,000 yuan more), each as
  ``services/settlement/write.py`` posts it: D the scheme's pooling fund, some D critical
  illness, large-amount, medical assistance and (employees) the personal account, C cash;
- one settlement in 200 reversed the next day (``settlement_reversal``: the legs negated);
- every person has an enrolment in the area (the personal accounts' area); balances are set
  to the sums of the postings, and the postings' indexes and foreign keys are rebuilt after the
  load (the deferred balance trigger is off during the load; every transaction is checked to
  balance after it by one grouped query); then migration 0007 counts the funds' month totals
  from the stored postings (as on any database that held postings before it; from then on
  the ledger keeps them as it posts), then ``VACUUM ANALYZE``.

Timed: ``services.fund_analysis.analyse`` for the year and the area (the query of the month
totals and the figures built from them), run three times, the first on a new connection; the
last line is the slowest: ``seconds: <number>``. ``--recount`` also times
``FundRepository.recount`` (the same totals grouped from every posting) once and checks that
both agree.
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import time

import psycopg

from yibao.policy import fen_to_yuan
from yibao.services import fund_analysis
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.repositories.funds import FundRepository
from yibao.store.uow import UnitOfWork

AREA, YEAR, NAME = "360100", 2025, "yibao_bench_funds"

FUNDS = {  # account id → kind (fund accounts of the area)
    1: "cash",
    2: "contributions_receivable",
    3: "fiscal_subsidy_receivable",
    4: "employee_pooling",
    5: "resident_pooling",
    6: "critical_illness",
    7: "large_amount",
    8: "medical_assistance",
}
PERSONAL = 100  # personal account id = PERSONAL + person id


def _fill(conn: psycopg.Connection, n: int) -> dict[str, int]:
    """Write the persons, enrolments, accounts, transactions and postings of ``n`` insured."""
    employees = n * 3 // 10
    settlements = n * 57 // 10
    c_emp = employees * 12  # ids: employee contributions 1..c_emp
    c_res = c_emp + (n - employees)  # then resident contributions
    c_set = c_res + settlements  # then settlements, then reversals (every 200th)
    p = {"n": n, "e": employees, "s": settlements, "ce": c_emp, "cr": c_res, "cs": c_set}
    run = conn.execute
    run(
        "INSERT INTO persons (id, national_id, name, sex, birth_date, region) "
        "SELECT g, lpad(g::text, 18, '0'), 'P' || g, CASE WHEN g %% 2 = 0 THEN 'F' ELSE 'M' END, "
        "date '1950-01-01' + (g %% 25000), %(area)s FROM generate_series(1, %(n)s) g",
        {**p, "area": AREA},
    )
    run(
        "INSERT INTO enrolments (id, person_id, scheme, kind, pooling_area, employer_code, "
        "start_date, status) SELECT g, g, CASE WHEN g <= %(e)s THEN 'employee' ELSE 'resident' "
        "END, CASE WHEN g <= %(e)s THEN 'employer' ELSE 'resident' END, %(area)s, "
        "CASE WHEN g <= %(e)s THEN 'E' || (g %% 5000) END, date '2020-01-01', 'active' "
        "FROM generate_series(1, %(n)s) g",
        {**p, "area": AREA},
    )
    for aid, kind in FUNDS.items():
        side = "debit" if aid <= 3 else "credit"
        run(
            "INSERT INTO accounts (id, code, kind, pooling_area, normal_side, balance) "
            "VALUES (%s, %s, %s, %s, %s, 0)",
            (aid, f"{kind}:{AREA}", kind, AREA, side),
        )
    run(
        "INSERT INTO accounts (id, code, kind, person_id, normal_side, balance) "
        f"SELECT {PERSONAL} + g, 'personal:' || g, 'personal_account', g, 'credit', 0 "
        "FROM generate_series(1, %(e)s) g",
        p,
    )
    # transactions
    run(
        "INSERT INTO ledger_transactions (id, kind, occurred_on, description, reference) "
        "SELECT g, 'employee_contribution', "
        "(date '2025-01-15' + ((g - 1) %% 12) * interval '1 month')::date, "
        "'employee contribution of P' || ((g - 1) / 12 + 1), 'contribution:employee:' || g "
        "FROM generate_series(1, %(ce)s) g",
        p,
    )
    run(
        "INSERT INTO ledger_transactions (id, kind, occurred_on, description, reference) "
        "SELECT g, 'resident_contribution', date '2025-01-01' + (g %% 90), "
        "'resident contribution 2025 of P' || (g - %(ce)s + %(e)s), "
        "'contribution:resident:' || g FROM generate_series(%(ce)s + 1, %(cr)s) g",
        p,
    )
    run(
        "INSERT INTO ledger_transactions (id, kind, occurred_on, description, reference) "
        "SELECT g, 'settlement', date '2025-01-01' + (g %% 365), "
        "'settlement S' || g || ' of P' || (1 + (g::bigint * 7919) %% %(n)s) "
        "|| ' at H' || (g %% 800), "
        "'settlement:S' || g FROM generate_series(%(cr)s + 1, %(cs)s) g",
        p,
    )
    run(
        "INSERT INTO ledger_transactions (id, kind, occurred_on, description, reference) "
        "SELECT %(cs)s + (g - %(cr)s) / 200, 'settlement_reversal', "
        "least(date '2025-01-01' + (g %% 365) + 1, date '2025-12-31'), "
        "'reversal of settlement S' || g, 'settlement-reversal:S' || g "
        "FROM generate_series(%(cr)s + 200, %(cs)s, 200) g",
        p,
    )
    # postings: employee contributions (monthly base 5,000-10,000 yuan, 8% in all)
    run(
        "INSERT INTO postings (transaction_id, account_id, amount) "
        "SELECT g, l.account_id, l.amount FROM generate_series(1, %(ce)s) g, "
        "LATERAL (SELECT 500000 + ((g - 1) / 12 * 37) %% 500000 AS base) b, "
        "LATERAL (VALUES (1, b.base * 8 / 100), (4, -(b.base * 5 / 100 - 1000)), (7, -1000), "
        f"({PERSONAL} + (g - 1) / 12 + 1, -(b.base * 8 / 100 - b.base * 5 / 100))) "
        "l(account_id, amount)",
        p,
    )
    run(
        "INSERT INTO postings (transaction_id, account_id, amount) "
        "SELECT g, l.account_id, l.amount FROM generate_series(%(ce)s + 1, %(cr)s) g, "
        "LATERAL (VALUES (1, 40000), (3, 67000), (5, -97000), (6, -10000)) l(account_id, amount)",
        p,
    )
    # settlements: the person, the scheme's pooling fund and the other layers
    run(
        "INSERT INTO postings (transaction_id, account_id, amount) "
        "SELECT g, l.account_id, l.amount FROM generate_series(%(cr)s + 1, %(cs)s) g, "
        "LATERAL (SELECT 1 + (g::bigint * 7919) %% %(n)s AS person) w, "
        "LATERAL (SELECT w.person <= %(e)s AS emp, 1000 + (g::bigint * 7919) %% 10000 "
        "+ CASE WHEN g %% 50 = 0 THEN 200000 + g %% 300000 ELSE 0 END AS pool) x, "
        "LATERAL (SELECT CASE WHEN NOT x.emp AND g %% 10 = 0 THEN 20000 ELSE 0 END AS ci, "
        "CASE WHEN x.emp AND g %% 50 = 0 THEN 50000 ELSE 0 END AS big, "
        "CASE WHEN g %% 33 = 0 THEN 3000 ELSE 0 END AS aid, "
        "CASE WHEN x.emp AND g %% 2 = 0 THEN 5000 + g %% 10000 ELSE 0 END AS acct) y, "
        "LATERAL (VALUES (CASE WHEN x.emp THEN 4 ELSE 5 END, x.pool), (6, y.ci), (7, y.big), "
        f"(8, y.aid), ({PERSONAL} + w.person, y.acct), "
        "(1, -(x.pool + y.ci + y.big + y.aid + y.acct))) l(account_id, amount) "
        "WHERE l.amount <> 0",
        p,
    )
    run(
        "INSERT INTO postings (transaction_id, account_id, amount) "
        "SELECT %(cs)s + (q.transaction_id - %(cr)s) / 200, q.account_id, -q.amount "
        "FROM postings q WHERE q.transaction_id > %(cr)s AND q.transaction_id <= %(cs)s "
        "AND (q.transaction_id - %(cr)s) %% 200 = 0",
        p,
    )
    run(
        "UPDATE accounts a SET balance = s.total FROM (SELECT account_id, SUM(amount) AS total "
        "FROM postings GROUP BY account_id) s WHERE s.account_id = a.id"
    )
    for table in ("persons", "enrolments", "accounts", "ledger_transactions", "postings"):
        run(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    counts = {}
    for table in ("ledger_transactions", "postings"):
        row = run(f"SELECT COUNT(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _without_keys(conn: psycopg.Connection, tables: tuple[str, ...]) -> list[str]:
    """Drop the foreign keys, unique constraints and plain indexes of ``tables`` (not their
    primary keys); returns the statements that put them back."""
    back: list[str] = []
    for table in tables:
        for name, definition in conn.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('f', 'u')",
            (table,),
        ).fetchall():
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            back.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
        for name, definition in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT LIKE 'pk_%%'",
            (table,),
        ).fetchall():
            conn.execute(f"DROP INDEX {name}")
            back.append(definition)
    return back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--insured", type=int, default=1_000_000)
    parser.add_argument("--admin", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", action="store_true", help="time a kept database again")
    parser.add_argument(
        "--recount", action="store_true", help="also time the totals grouped from the postings"
    )
    args = parser.parse_args()
    base = args.admin.rsplit("/", 1)[0]
    url = f"{base}/{NAME}"
    if not args.reuse:
        with psycopg.connect(args.admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{NAME}"')
        upgrade(url, "0008")  # the revision before the funds' month totals
        started = time.perf_counter()
        with psycopg.connect(url) as conn:
            back = _without_keys(conn, ("ledger_transactions", "postings"))
            # the deferred per-row balance check would queue one event per posting: off for
            # the load, and the balance checked below in one grouped query instead
            conn.execute("ALTER TABLE postings DISABLE TRIGGER postings_balanced")
            counts = _fill(conn, args.insured)
            conn.execute("ALTER TABLE postings ENABLE TRIGGER postings_balanced")
            for statement in back:
                conn.execute(statement)
            unbalanced = conn.execute(
                "SELECT COUNT(*) FROM (SELECT transaction_id FROM postings GROUP BY "
                "transaction_id HAVING SUM(amount) <> 0 OR COUNT(*) < 2) u"
            ).fetchone()
            assert unbalanced is not None and unbalanced[0] == 0, "unbalanced transactions"
            conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # the migration's grouped query needs the statistics
        loaded = time.perf_counter()
        upgrade(url)  # 0007 counts the month totals of the postings already stored
        counted = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        print(f"insured: {args.insured:,}")
        print(
            f"ledger: {counts['ledger_transactions']:,} transactions, "
            f"{counts['postings']:,} postings"
        )
        print(
            f"setup: {time.perf_counter() - started:.0f} s (of which the migration counting "
            f"the month totals: {counted - loaded:.0f} s)"
        )
    times = []
    engine = make_engine(url)
    uow = UnitOfWork.for_engine(engine)
    for _ in range(3):
        started = time.perf_counter()
        analysis = fund_analysis.analyse(uow, YEAR, AREA)
        times.append(time.perf_counter() - started)
    for line in analysis.lines:
        last = line.months[-1]
        print(
            f"{line.fund} {line.area or '-'}: income {fen_to_yuan(last.income_to_date)}, "
            f"expenditure {fen_to_yuan(last.expenditure_to_date)}, balance "
            f"{fen_to_yuan(last.balance)}, reserve months {last.reserve_months}"
        )
    print(f"runs: {', '.join(f'{t:.2f}' for t in times)} s")
    if args.recount:
        started = time.perf_counter()
        with uow:
            repo = FundRepository(uow.session)
            recounted, kept = repo.recount(AREA), repo.month_totals(AREA)
        print(f"recount from the postings: {time.perf_counter() - started:.1f} s")
        assert sorted(recounted, key=repr) == sorted(kept, key=repr), "totals differ"
    engine.dispose()
    if not args.keep:
        with psycopg.connect(args.admin, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    print(f"seconds: {max(times):.3f}")


if __name__ == "__main__":
    main()
