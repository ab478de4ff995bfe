"""Bulk writes of rows built in Python (the load of a generated area): ids reserved up front
(``next_ids``) so the rows that refer to each other are complete before they are written, then
copied (``store.sql.copy_rows``: PostgreSQL ``COPY ... FROM STDIN``, SQLite one
``executemany``), inside the caller's transaction. Rows that share most of their values are
given as templates and expanded by the database (``copy_expanded``, ``copy_postings``). Dates
are given as ISO strings (both databases read them as dates).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, text

from yibao.domain.enrolment import OPEN_STATUSES
from yibao.domain.ledger import AccountRef
from yibao.store.bulk import STAGE
from yibao.store.sql import copy_rows, driver_of


def prepare(conn: Connection) -> None:
    """Ready the connection for bulk writes: SQLite gets a page cache that holds the indexes
    being filled (64 MB instead of 2 MB)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -65536")


def next_ids(conn: Connection, table: str, n: int) -> list[int]:
    """``n`` new ids of ``table`` (PostgreSQL: from its sequence; SQLite, whose writer holds
    the database: after the largest one). ``store.sql.reserve_ids`` is the ORM session's
    counterpart (several tables at once, PostgreSQL only)."""
    if n <= 0:
        return []
    if conn.dialect.name == "postgresql":
        ids = conn.execute(
            text(
                f"SELECT ARRAY(SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, :n))"
            ),
            {"n": n},
        ).scalar_one()
        return [int(i) for i in ids]
    top = int(conn.execute(text(f"SELECT COALESCE(MAX(id), 0) FROM {table}")).scalar_one())
    return list(range(top + 1, top + n + 1))


#: rows of an Arrow table turned into CSV (PostgreSQL) or tuples (SQLite) at a time
ARROW_BATCH = 50_000
ARROW_STAGE = "yibao_arrow_rows"


def copy_arrow(conn: Connection, table: str, rows: pa.Table) -> None:
    """Write an Arrow table's rows into ``table`` (its column names are the table's), in
    columns: on PostgreSQL ``COPY ... FROM STDIN (FORMAT csv)`` of the CSV Arrow writes (no
    Python per row), elsewhere one executemany of the columns zipped (dates as ISO text) into
    a temporary table, then one ``INSERT ... SELECT``."""
    if not rows.num_rows:
        return
    cols = ", ".join(rows.column_names)
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table} ({cols}) FROM STDIN (FORMAT csv)"
        options = pa_csv.WriteOptions(include_header=False)
        with driver_of(conn, sql) as driver, driver.cursor() as cursor, cursor.copy(sql) as copy:
            for batch in rows.to_batches(ARROW_BATCH):
                sink = pa.BufferOutputStream()
                pa_csv.write_csv(pa.Table.from_batches([batch]), sink, options)
                copy.write(sink.getvalue().to_pybytes())
        return
    as_text = [
        pc.cast(c, pa.string()) if pa.types.is_date(c.type) else c for c in rows.itercolumns()
    ]
    plain = pa.table(as_text, names=rows.column_names)
    # staged in a temporary table without constraints, then one INSERT ... SELECT: half the
    # time of an executemany into a table with checks, foreign keys and a second index
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {ARROW_STAGE}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {ARROW_STAGE} ({cols})")
    for batch in plain.to_batches(ARROW_BATCH):
        columns = (c.to_pylist() for c in batch.columns)
        copy_rows(conn, ARROW_STAGE, rows.column_names, zip(*columns, strict=True))
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {ARROW_STAGE} ORDER BY rowid"
    )
    conn.exec_driver_sql(f"DROP TABLE {ARROW_STAGE}")


SHARED = "yibao_shared_values"
OWN = "yibao_own_values"


def copy_expanded(
    conn: Connection,
    table: str,
    own: Sequence[str],
    shared: Sequence[str],
    templates: Sequence[Sequence[Any]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Write rows of ``table`` that share most of their values: ``templates`` are (template,
    *values of the ``shared`` columns), one or more rows each; each of ``rows`` (template,
    *values of the ``own`` columns) stands for one row of ``table`` per row of its template,
    in order. SQLite joins them in SQL (the shared values bound once per template, not once
    per row: most of an executemany's cost is its binding); PostgreSQL copies them expanded."""
    if not rows:
        return
    columns = (*own, *shared)
    if conn.dialect.name == "postgresql":
        by: dict[Any, list[Sequence[Any]]] = {}
        for t in templates:
            by.setdefault(t[0], []).append(t[1:])
        copy_rows(conn, table, columns, ((*r[1:], *v) for r in rows for v in by[r[0]]))
        return
    s_cols = [f"s{i}" for i in range(len(shared))]
    o_cols = [f"o{i}" for i in range(len(own))]
    for temp in (SHARED, OWN):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {SHARED} (template, {', '.join(s_cols)})")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {OWN} (template, {', '.join(o_cols)})")
    copy_rows(conn, SHARED, ("template", *s_cols), templates)
    conn.exec_driver_sql(f"CREATE INDEX ix_{SHARED} ON {SHARED} (template)")
    copy_rows(conn, OWN, ("template", *o_cols), rows)
    picked = ", ".join([*(f"o.{c}" for c in o_cols), *(f"s.{c}" for c in s_cols)])
    conn.exec_driver_sql(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {picked} FROM {OWN} o "
        f"JOIN {SHARED} s ON s.template = o.template ORDER BY o.rowid, s.rowid"
    )
    for temp in (SHARED, OWN):
        conn.exec_driver_sql(f"DROP TABLE {temp}")


TEMPLATES = "yibao_leg_templates"
LEGS = "yibao_transaction_legs"


def copy_postings(
    conn: Connection, templates: Sequence[Sequence[Any]], legs: Sequence[Sequence[Any]]
) -> int:
    """Write the postings of many transactions that share a few sets of legs: ``templates``
    (template, account id or 0 for the transaction's personal account, amount) and ``legs``
    (transaction id, template, personal account id). Returns the postings written."""
    if not legs:
        return 0
    for table in (TEMPLATES, LEGS):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {TEMPLATES} (template integer, account_id bigint, amount bigint)"
    )
    conn.exec_driver_sql(
        f"CREATE TEMP TABLE {LEGS} (transaction_id bigint, template integer, personal bigint)"
    )
    copy_rows(conn, TEMPLATES, ("template", "account_id", "amount"), templates)
    copy_rows(conn, LEGS, ("transaction_id", "template", "personal"), legs)
    n = conn.execute(
        text(
            "INSERT INTO postings (transaction_id, account_id, amount) "
            "SELECT l.transaction_id, CASE WHEN t.account_id = 0 THEN l.personal "
            f"ELSE t.account_id END, t.amount FROM {LEGS} l JOIN {TEMPLATES} t "
            "ON t.template = l.template ORDER BY l.transaction_id"
        )
    ).rowcount
    for table in (TEMPLATES, LEGS):
        conn.exec_driver_sql(f"DROP TABLE {table}")
    return int(n or 0)


def staged_person_ids(conn: Connection) -> dict[str, int]:
    """National ID → person id of the persons staged by ``store.bulk.stage_persons``."""
    rows = conn.execute(
        text(
            f"SELECT s.national_id, p.id FROM {STAGE} s "
            "JOIN persons p ON p.national_id = s.national_id"
        )
    )
    return {str(nid): int(pid) for nid, pid in rows}


def staged_enrolled(conn: Connection) -> int:
    """How many of the staged persons are registered with an open enrolment."""
    return int(
        conn.execute(
            text(
                f"SELECT COUNT(*) FROM {STAGE} s JOIN persons p ON p.national_id = s.national_id "
                "JOIN enrolments e ON e.person_id = p.id AND e.status IN ("
                + ", ".join(f"'{s.value}'" for s in OPEN_STATUSES)
                + ")"
            )
        ).scalar_one()
    )


def fund_account_id(conn: Connection, ref: AccountRef) -> int:
    """The id of a fund account (or of any account a reference names: an institution's, a
    person's), opened on first use."""
    conn.execute(
        text(
            "INSERT INTO accounts (code, kind, pooling_area, person_id, institution, "
            "normal_side, balance) "
            "VALUES (:code, :kind, :area, :person, :inst, :side, 0) ON CONFLICT (code) DO NOTHING"
        ),
        {
            "code": ref.code,
            "kind": ref.kind.value,
            "area": ref.pooling_area,
            "person": ref.person_id,
            "inst": ref.institution,
            "side": ref.kind.normal_side,
        },
    )
    return int(
        conn.execute(text("SELECT id FROM accounts WHERE code = :c"), {"c": ref.code}).scalar_one()
    )


def move_balances(conn: Connection, moves: dict[int, int]) -> None:
    """Add each signed amount to its account's stored balance (in one lock order)."""
    for account, amount in sorted(moves.items()):
        if amount:
            conn.execute(
                text("UPDATE accounts SET balance = balance + :d WHERE id = :id"),
                {"d": amount, "id": account},
            )


def unbalanced_between(conn: Connection, first: int, last: int) -> tuple[int, int] | None:
    """A transaction with id in [first, last] whose postings do not sum to zero or that has
    fewer than two: (its id, its sum); None when they all balance."""
    row = conn.execute(
        text(
            "SELECT t.id, COALESCE(SUM(p.amount), 0) FROM ledger_transactions t "
            "LEFT JOIN postings p ON p.transaction_id = t.id WHERE t.id BETWEEN :a AND :b "
            "GROUP BY t.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2"
        ),
        {"a": first, "b": last},
    ).first()
    return (int(row[0]), int(row[1])) if row is not None else None
