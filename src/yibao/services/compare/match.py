"""Exact matching by national ID, the findings and coverage, columnar in DuckDB over Arrow.

Every department row whose ID (validated, 15 digits upgraded) is a registry person's is
matched; the rest are the unmatched records (``unmatched``: the input of record linkage), unless
``linked`` (``source``, ``row_no``, ``person``: linkage's accepted pairs) names their person.

The findings (``KINDS``; docs/compare.md says each one's rule), on the day compared ``on``:

- ``uninsured``: a living person of the household registry with a valid ID, not in the
  registry or with no enrolment in force on ``on``
- ``two_schemes``: enrolled as a resident while the tax/employment file shows months of work
  in the year, or two enrolments in force in different schemes; ``two_areas``: two enrolments
  in force in different areas; ``two_records``: two registry persons with the same name, sex
  and birth date, one of whose IDs the household registry knows and the other not (the other
  is the suspected second record)
- ``dead_enrolled``: dead (death file) with an enrolment in force after the date of death;
  ``settled_after_death``: a settlement or claim dated after the date of death
- ``aid_missing``: an aid recipient (aid file, valid on ``on``) without an aid class in the
  registry; ``aid_wrong_class``: with another class
- ``newborn_late``: born at most a year before ``on`` and more than the newborn window
  (``resident.waiting.newborn_window_days``) before it, and not enrolled, or enrolled more than
  the window after birth
- ``student_unenrolled``: a student (education file) not in the registry or not enrolled
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from yibao.domain.identity import id_keys
from yibao.services.compare.files import DepartmentFile
from yibao.services.compare.registry import Registry

KINDS = (
    "uninsured",
    "two_schemes",
    "two_areas",
    "two_records",
    "dead_enrolled",
    "settled_after_death",
    "aid_missing",
    "aid_wrong_class",
    "newborn_late",
    "student_unenrolled",
)
FINDINGS = pa.schema(
    [
        ("kind", pa.string()),
        ("person", pa.int64()),
        ("id_no", pa.string()),
        ("name", pa.string()),
        ("source", pa.string()),
        ("row_no", pa.int64()),
        ("on_date", pa.date32()),
        ("detail", pa.string()),
    ]
)
UNMATCHED = pa.schema(
    [
        ("source", pa.string()),
        ("row_no", pa.int64()),
        ("id_no", pa.string()),
        ("name", pa.string()),
        ("sex", pa.string()),
        ("birth_date", pa.date32()),
        ("address", pa.string()),
        ("reason", pa.string()),
    ]
)
LINKED = pa.schema([("source", pa.string()), ("row_no", pa.int64()), ("person", pa.int64())])
AGE_BANDS = ((0, 6), (7, 17), (18, 34), (35, 59), (60, 79), (80, 200))
LOW_INCOME = "low_income"


@dataclass
class Comparison:
    """What one comparison found: matches per source, unmatched records, findings, coverage."""

    on: dt.date
    matched: dict[str, int]
    rows: dict[str, int]
    unmatched: pa.Table
    findings: pa.Table
    coverage: pa.Table
    errors: pa.Table
    seconds: dict[str, float] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        kinds = self.findings["kind"].to_pylist()
        return {k: kinds.count(k) for k in KINDS if k in kinds}


def _empty(kind: str) -> pa.Table:
    from yibao.services.compare.files import schema

    return schema(kind).empty_table()


def _band_sql(column: str) -> str:
    cases = " ".join(
        f"WHEN {column} BETWEEN {lo} AND {hi} THEN '{lo}-{hi}'"
        if hi < 200
        else f"WHEN {column} >= {lo} THEN '{lo}+'"
        for lo, hi in AGE_BANDS
    )
    return f"CASE {cases} END"


def compare(
    files: dict[str, DepartmentFile],
    registry: Registry,
    on: dt.date,
    *,
    area: str,
    newborn_window_days: int,
    linked: pa.Table | None = None,
    threads: int | None = None,
) -> Comparison:
    """Match ``files`` against ``registry`` by ID and find what ``match`` says, on ``on``."""
    import time

    con = duckdb.connect()
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    for kind in ("household", "aid", "death", "employment", "education"):
        con.register(f"raw_{kind}", files[kind].rows if kind in files else _empty(kind))
    people = registry.persons
    keys = id_keys(people["id_no"])
    con.register("persons", people.append_column("id_key", pa.array(keys, mask=keys < 0)))
    con.register("enrolments", registry.enrolments)
    con.register("linked", linked if linked is not None else LINKED.empty_table())
    con.execute(
        "CREATE TEMP TABLE active AS SELECT * FROM enrolments "
        "WHERE start_date <= $on AND (end_date IS NULL OR end_date >= $on)",
        {"on": on},
    )
    con.execute("CREATE TEMP TABLE insured AS SELECT DISTINCT person FROM active")
    for kind in ("household", "aid", "death", "employment", "education"):
        con.execute(
            f"""CREATE TEMP TABLE {kind} AS
            SELECT d.*, coalesce(p.person, l.person) AS person,
                   CASE WHEN p.person IS NOT NULL THEN 'id'
                        WHEN l.person IS NOT NULL THEN 'linked' END AS matched_by
            FROM raw_{kind} d
            LEFT JOIN persons p ON p.id_key = d.id_key
            LEFT JOIN linked l ON l.source = '{kind}' AND l.row_no = d.row_no"""
        )
    seconds["match"] = time.perf_counter() - started
    matched = {
        k: int(con.execute(f"SELECT count(person) FROM {k}").fetchone()[0])  # type: ignore[index]
        for k in ("household", "aid", "death", "employment", "education")
    }
    rows = {k: files[k].rows.num_rows for k in files}
    unmatched = _unmatched(con)
    findings = _findings(con, registry, on, newborn_window_days)
    coverage = _coverage(con, on, area)
    seconds["total"] = time.perf_counter() - started
    errors = [f.errors for f in files.values()]
    con.close()
    from yibao.services.compare.files import ERROR_SCHEMA

    return Comparison(
        on=on,
        matched=matched,
        rows=rows,
        unmatched=unmatched,
        findings=findings,
        coverage=coverage,
        errors=pa.concat_tables(errors) if errors else ERROR_SCHEMA.empty_table(),
        seconds=seconds,
    )


def _unmatched(con: duckdb.DuckDBPyConnection) -> pa.Table:
    reason = (
        "CASE WHEN id_reason = 1 THEN 'id missing' WHEN id_reason > 0 THEN 'id malformed' "
        "ELSE 'id not in the registry' END"
    )
    parts = []
    for kind in ("household", "aid", "death", "employment", "education"):
        sex = "sex" if kind == "household" else "NULL"
        birth = "birth_date" if kind in ("household", "education") else "NULL"
        address = "address" if kind == "household" else "NULL"
        parts.append(
            f"SELECT '{kind}' AS source, row_no, id_raw AS id_no, name, {sex} AS sex, "
            f"CAST({birth} AS DATE) AS birth_date, {address} AS address, {reason} AS reason "
            f"FROM {kind} WHERE person IS NULL"
        )
    sql = " UNION ALL ".join(parts) + " ORDER BY source, row_no"
    return con.execute(sql).to_arrow_table().cast(UNMATCHED)


def _findings(
    con: duckdb.DuckDBPyConnection, registry: Registry, on: dt.date, window: int
) -> pa.Table:
    year_start = dt.date(on.year, 1, 1)
    params: dict[str, Any] = {"on": on, "window": window, "year": on.year, "y0": year_start}
    # the dead first: their settlements after death come from the registry's source
    dead = con.execute("SELECT DISTINCT person FROM death WHERE person IS NOT NULL").fetchall()
    con.register("settlements", registry.settlements([int(r[0]) for r in dead]))
    queries = [
        # not insured anywhere: alive, valid ID, unknown or without an enrolment in force
        """SELECT 'uninsured' AS kind, h.person, h.id_no, h.name, 'household' AS source,
                  h.row_no, NULL::DATE AS on_date,
                  CASE WHEN h.person IS NULL THEN 'not in the registry'
                       ELSE 'no enrolment in force' END AS detail
           FROM household h
           WHERE (h.person IS NOT NULL OR h.id_no IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM insured i WHERE i.person = h.person)
             AND NOT EXISTS (SELECT 1 FROM death d WHERE d.id_no = h.id_no)
             AND NOT EXISTS (SELECT 1 FROM death d WHERE d.person = h.person)""",
        # employed, insured as a resident
        """SELECT 'two_schemes', e.person, e.id_no, e.name, 'employment', e.row_no, NULL,
                  'employed ' || e.months || ' months in ' || e.year || ' by ' || e.employer
                  || ', enrolled as a resident in ' || a.area
           FROM employment e JOIN active a ON a.person = e.person
           WHERE a.category = 'resident' AND e.year = $year
             AND NOT EXISTS (SELECT 1 FROM active b WHERE b.person = e.person
                             AND b.category <> 'resident')""",
        # two enrolments in force at once
        """SELECT CASE WHEN a.area <> b.area THEN 'two_areas' ELSE 'two_schemes' END,
                  a.person, p.id_no, p.name, 'registry', NULL, NULL,
                  a.category || ' in ' || a.area || ' from ' || a.start_date || ' and '
                  || b.category || ' in ' || b.area || ' from ' || b.start_date
           FROM active a JOIN active b ON a.person = b.person
             AND (a.start_date, a.category, a.area) < (b.start_date, b.category, b.area)
           JOIN persons p ON p.person = a.person
           WHERE a.area <> b.area OR
                 (a.category = 'resident') <> (b.category = 'resident')""",
        # the same person under two records
        """WITH twins AS (
             SELECT p.*, count(*) OVER (PARTITION BY name, sex, birth_date) AS n
             FROM persons p),
           known AS (
             SELECT t.*, EXISTS (SELECT 1 FROM household h WHERE h.person = t.person) AS seen
             FROM twins t WHERE n > 1)
           SELECT 'two_records', k.person, k.id_no, k.name, 'household', h.row_no, NULL,
                  'same name, sex and birth date as person ' || o.person || ' (ID '
                  || o.id_no || ', in the household registry); this ID is not'
           FROM known k JOIN known o ON o.name = k.name AND o.sex = k.sex
             AND o.birth_date = k.birth_date AND o.seen AND NOT k.seen
           JOIN household h ON h.person = o.person
           WHERE EXISTS (SELECT 1 FROM insured i WHERE i.person = k.person)""",
        # dead but enrolled
        """SELECT 'dead_enrolled', d.person, d.id_no, d.name, 'death', d.row_no,
                  d.death_date, a.category || ' enrolment in ' || a.area || ' from '
                  || a.start_date || CASE WHEN a.end_date IS NULL THEN ', open'
                  ELSE ' to ' || a.end_date END
           FROM death d JOIN enrolments a ON a.person = d.person
           WHERE a.end_date IS NULL OR a.end_date > d.death_date""",
        """SELECT 'settled_after_death', d.person, d.id_no, d.name, 'death', d.row_no,
                  d.death_date, count(*) || ' settled after death: '
                  || string_agg(s.ref || ' on ' || s.date, ', ' ORDER BY s.date, s.ref)
           FROM death d JOIN settlements s ON s.person = d.person AND s.date > d.death_date
           GROUP BY d.person, d.id_no, d.name, d.row_no, d.death_date""",
        # aid recipients
        """SELECT CASE WHEN p.aid_class IS NULL THEN 'aid_missing' ELSE 'aid_wrong_class' END,
                  x.person, x.id_no, x.name, 'aid', x.row_no, x.valid_from,
                  'civil affairs: ' || x.aid_class || ' from ' || x.valid_from || '; registry: '
                  || coalesce(p.aid_class, 'no aid class')
                  || CASE WHEN NOT EXISTS (SELECT 1 FROM insured i WHERE i.person = x.person)
                     THEN ', not enrolled' ELSE '' END
           FROM aid x JOIN persons p ON p.person = x.person
           WHERE x.valid_from <= $on AND (x.valid_to IS NULL OR x.valid_to >= $on)
             AND p.aid_class IS DISTINCT FROM x.aid_class""",
        # newborns
        """SELECT 'newborn_late', h.person, h.id_no, h.name, 'household', h.row_no,
                  h.birth_date,
                  CASE WHEN h.person IS NULL THEN 'born ' || h.birth_date
                       || ', not in the registry'
                       WHEN e.first IS NULL THEN 'born ' || h.birth_date || ', not enrolled'
                       ELSE 'born ' || h.birth_date || ', enrolled ' || e.first || ' ('
                       || date_diff('day', h.birth_date, e.first) || ' days)' END
           FROM household h
           LEFT JOIN (SELECT person, min(start_date) AS first FROM enrolments GROUP BY person)
             e ON e.person = h.person
           WHERE h.birth_date > $on - INTERVAL 1 YEAR
             AND h.birth_date <= $on - $window * INTERVAL 1 DAY
             AND (h.person IS NOT NULL OR h.id_no IS NOT NULL)
             AND (e.first IS NULL OR e.first > h.birth_date + $window * INTERVAL 1 DAY)""",
        # students
        """SELECT 'student_unenrolled', s.person, s.id_no, s.name, 'education', s.row_no,
                  NULL, s.school || CASE WHEN s.person IS NULL THEN ', not in the registry'
                  ELSE ', no enrolment in force' END
           FROM education s
           WHERE (s.person IS NOT NULL OR s.id_no IS NOT NULL)
             AND NOT EXISTS (SELECT 1 FROM insured i WHERE i.person = s.person)""",
    ]
    sql = " UNION ALL ".join(f"({q})" for q in queries)
    # one finding per (kind, row, person): a row that fires twice (two enrolments past a
    # death, two resident enrolments beside a job) lists both in its detail
    names = ", ".join(FINDINGS.names[:7])
    table = con.execute(
        f"SELECT {names}, string_agg(DISTINCT detail, '; ' ORDER BY detail) AS detail "
        f"FROM ({sql}) f({', '.join(FINDINGS.names)}) GROUP BY {names} "
        "ORDER BY 1, 5, 6 NULLS LAST, 2 NULLS LAST, 3",
        {k: v for k, v in params.items() if k in ("on", "window", "year")},
    ).to_arrow_table()
    return table.rename_columns(FINDINGS.names).cast(FINDINGS)


def _coverage(con: duckdb.DuckDBPyConnection, on: dt.date, area: str) -> pa.Table:
    """Insured share of the household registry's living people (matched or not; records
    whose ID is missing or malformed and not linked are left out: unknown), by dimension."""
    band = _band_sql("age")
    con.execute(
        f"""CREATE TEMP TABLE population AS
        SELECT coalesce(p.area, $area) AS area,
               {band} AS age_band,
               coalesce(p.sex, h.sex) AS sex,
               coalesce(x.aid_class, p.aid_class, 'none') AS grp,
               EXISTS (SELECT 1 FROM insured i WHERE i.person = h.person) AS insured
        FROM (SELECT *, year($on::DATE) - year(birth_date)
                  - CASE WHEN month(birth_date) * 100 + day(birth_date)
                              > month($on::DATE) * 100 + day($on::DATE)
                    THEN 1 ELSE 0 END AS age FROM household) h
        LEFT JOIN persons p ON p.person = h.person
        LEFT JOIN (SELECT person, min(aid_class) AS aid_class FROM aid
                   WHERE person IS NOT NULL AND valid_from <= $on
                     AND (valid_to IS NULL OR valid_to >= $on)
                   GROUP BY person) x ON x.person = h.person
        WHERE (h.person IS NOT NULL OR h.id_no IS NOT NULL)
          AND NOT EXISTS (SELECT 1 FROM death d WHERE d.id_no = h.id_no)
          AND NOT EXISTS (SELECT 1 FROM death d WHERE d.person = h.person)
        """,
        {"on": on, "area": area},
    )
    sql = """
        SELECT 'overall' AS dimension, 'all' AS value, count(*) AS population,
               count(*) FILTER (insured) AS insured FROM population
        UNION ALL SELECT 'group', 'low_income', count(*), count(*) FILTER (insured)
               FROM population WHERE grp <> 'none'
        UNION ALL SELECT 'area', area, count(*), count(*) FILTER (insured)
               FROM population GROUP BY area
        UNION ALL SELECT 'age_band', age_band, count(*), count(*) FILTER (insured)
               FROM population GROUP BY age_band
        UNION ALL SELECT 'sex', sex, count(*), count(*) FILTER (insured)
               FROM population GROUP BY sex
        UNION ALL SELECT 'group', grp, count(*), count(*) FILTER (insured)
               FROM population GROUP BY grp
    """
    table = con.execute(sql).to_arrow_table()
    return table.cast(
        pa.schema(
            [
                ("dimension", pa.string()),
                ("value", pa.string()),
                ("population", pa.int64()),
                ("insured", pa.int64()),
            ]
        )
    )
