"""SQL machinery shared by the repositories: dialect-aware inserts, ids taken from the
sequences, ``COPY`` on PostgreSQL, ``column IN (...)`` as one statement text, ``BulkRead``
(a read of many keys built once) and ``JsonRead`` (several of them in one statement). No table
or business rule here."""

from __future__ import annotations

import datetime as dt
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, Generic, NamedTuple, TypeVarTuple, cast

import orjson
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    DateTime,
    Numeric,
    Row,
    Select,
    String,
    Table,
    Text,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import QueryableAttribute, Session


def dialect_insert(session: Session, table: Any) -> Any:
    """``INSERT`` of the session's dialect (PostgreSQL or SQLite), for ``ON CONFLICT``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def reserve_ids(
    session: Session,
    counts: Sequence[tuple[Table, int]],
    existing: tuple[Table, str, Sequence[str]] | None = None,
    at_least: int = 2,
) -> tuple[list[list[int]], dict[str, int]] | None:
    """New ids for several tables from their sequences, in one statement (PostgreSQL, and only
    when some table takes ``at_least`` rows: by default a single row is one ``INSERT ...
    RETURNING``, but rows gathered into one statement (``gathered``) need their ids first);
    None otherwise. ``existing`` (table, a unique text column, keys): the ids of that table's
    rows with those keys are read in the same statement, {key: id} of those found (a read the
    batch would otherwise send on its own)."""
    if session.get_bind().dialect.name != "postgresql" or max(n for _, n in counts) < at_least:
        return None
    lookup = existing if existing is not None and existing[2] else None
    names = tuple(t.name for t, _ in counts)
    shape = (names, None if lookup is None else (lookup[0].name, lookup[1]))
    sql = _RESERVE.get(shape)
    if sql is None:
        columns = ", ".join(  # each sequence looked up once, not once a value (~5 µs each)
            f"ARRAY(SELECT nextval((SELECT pg_get_serial_sequence('{name}', 'id')::regclass))"
            f" FROM generate_series(1, %(n{i})s::int))"
            for i, name in enumerate(names)
        )
        if lookup is not None:  # the two aggregates of one query see the rows in one order
            table, key = lookup[0].name, lookup[1]
            columns += (
                f", k.keys, k.ids FROM (SELECT array_agg({key}), array_agg(id) FROM {table}"
                f" WHERE {key} = ANY(%(keys)s::text[])) AS k(keys, ids)"
            )
        sql = _RESERVE[shape] = "SELECT " + columns
    params: dict[str, Any] = {f"n{i}": n for i, (_, n) in enumerate(counts)}
    if lookup is not None:
        params["keys"] = list(lookup[2])
    conn = session.connection()
    with driver_of(conn, sql) as driver, driver.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    ids = [[int(i) for i in row[k]] for k in range(len(names))]
    found: dict[str, int] = {}
    if lookup is not None and row[len(names)] is not None:
        found = dict(zip(row[len(names)], map(int, row[len(names) + 1]), strict=True))
    return ids, found


#: (table names, (table, key column) of the ids read with them) -> the SQL reserving their ids,
#: run on the psycopg connection
_RESERVE: dict[tuple[tuple[str, ...], tuple[str, str] | None], str] = {}


def insert_returning_ids(
    session: Session, table: Table, rows: list[dict[str, Any]], ids: list[int] | None = None
) -> list[int]:
    """Insert ``rows`` and return their new ids, in order. With ``ids`` (from ``reserve_ids``)
    the rows go as one pipelined executemany of one prepared statement (a multi-row
    ``INSERT ... RETURNING`` is a new statement text for every batch size, parsed anew each
    time); otherwise ``INSERT ... RETURNING``."""
    if not rows:
        return []
    conn = session.connection()
    if ids is not None:
        insert_rows(session, table, [{**r, "id": i} for r, i in zip(rows, ids, strict=True)])
        return ids
    if len(rows) == 1:  # one statement, the same text every time
        return [int(conn.execute(insert(table).returning(table.c.id), rows[0]).scalar_one())]
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys), values bound as their columns' types bind
    them. On PostgreSQL one ``COPY ... FROM STDIN`` (no statement executed per row: about half
    the client's CPU per row of an executemany, and less of the server's); elsewhere one
    executemany. A refused row fails the statement as an executemany would
    (``sqlalchemy.exc.IntegrityError`` and the like). COPY applies the server's column defaults
    only, so a table with a Python-side default for a column not given is refused."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    names = tuple(rows[0])
    binds = _binds(conn, table, names)
    copy_rows(
        conn,
        table.name,
        names,
        ([row[n] if bind is None else bind(row[n]) for n, bind in binds] for row in rows),
    )


def insert_tuples(
    session: Session,
    table: Table,
    names: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    text: str | None = None,
) -> None:
    """``insert_rows`` of rows given as sequences in the order of ``names``: no dict per row,
    and on PostgreSQL no list per row either when no column's type processes its values.
    ``text``: a row in COPY's text format as a ``%`` format of its values (``%d`` for an
    integer, ``%s`` for a text or a date: ``copy_text``), for rows without None."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    binds = _binds(conn, table, names)
    if all(bind is None for _, bind in binds):
        copied = None if text is None else copy_text(text, rows, len(names))
        if copied is not None:
            copy_rows(conn, table.name, names, (), copied)
        else:
            copy_rows(conn, table.name, names, rows)
        return
    copy_rows(
        conn,
        table.name,
        names,
        (
            [v if bind is None else bind(v) for v, (_, bind) in zip(row, binds, strict=True)]
            for row in rows
        ),
    )


def _binds(conn: Connection, table: Table, names: tuple[str, ...]) -> list[tuple[str, Any]]:
    """(column, its type's bind processor or None) of ``names``, kept per (table, names); a
    table with a Python-side default for a column not given is refused (COPY would skip it)."""
    binds = _COPY_BINDS.get((table, names))
    if binds is None:
        python_defaults = [c.name for c in table.c if c.name not in names and c.default is not None]
        if python_defaults:
            raise ValueError(f"{table.name}: COPY would skip the defaults of {python_defaults}")
        binds = _COPY_BINDS[(table, names)] = [
            (n, table.c[n].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
            for n in names
        ]
    return binds


def copy_text(row: str, rows: Sequence[Sequence[Any]], columns: int) -> str | None:
    """``rows`` in COPY's text format, each formatted by ``row`` (``%d`` for an integer, ``%s``
    for a text or a date, a tab between columns, a newline after each row): one ``%`` a row
    and one write of the whole, about a third less of the client's CPU than psycopg's
    ``write_row`` a row. None when a value would need COPY's escaping (a backslash, a tab, a
    newline or a carriage return in a text: the tabs and newlines are then not one a column
    and one a row), the rows then written by ``write_row``."""
    text = "".join([row % tuple(values) for values in rows])
    clean = (
        text.count("\t") == len(rows) * (columns - 1)
        and text.count("\n") == len(rows)
        and "\\" not in text
        and "\r" not in text
    )
    return text if clean else None


def copy_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    text: str = "",
) -> None:
    """Write ``rows`` (sequences in the order of ``columns``, values as the driver takes them:
    no type's bind processing) into ``table``: on PostgreSQL one ``COPY ... FROM STDIN``,
    elsewhere one executemany on the driver's cursor. On PostgreSQL ``text``: more rows in
    COPY's text format (``copy_text``), written as they are. Errors are raised as
    SQLAlchemy's."""
    cols = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        sql = f"COPY {table} ({cols}) FROM STDIN"
        with driver_of(conn, sql) as driver, driver.cursor() as cursor, cursor.copy(sql) as copy:
            if text:
                copy.write(text)
            for row in rows:
                copy.write_row(row)
        return
    sql = f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' for _ in columns)})"
    with driver_of(conn, sql) as driver:
        cursor = driver.cursor()
        try:
            cursor.executemany(sql, rows)
        finally:
            cursor.close()


class Writes:
    """Inserts and updates of several tables gathered and sent as one statement (PostgreSQL):
    each part a writable CTE over ``json_populate_recordset`` of one JSON parameter, the rows
    read by the table's own row type. A document is dumped by orjson in C at once: no value
    dumped in Python one at a time (COPY's rows, a statement's parameters, arrays). The rows
    must be complete, ids included (``reserve_ids``): no part reads another's output, so the
    order in which PostgreSQL runs them does not matter. Foreign keys are checked at the end
    of the statement (a row may refer to one another part writes); deferred constraints at
    COMMIT, as for any statement. Values go as orjson writes them: dates as ISO text, a JSON
    column's value as a nested document, no column type's bind processing."""

    def __init__(self) -> None:
        self._parts: list[tuple[str, Sequence[Mapping[str, Any]]]] = []

    def insert(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (mappings with the same keys, in the same order) into ``table``."""
        if rows:
            cols = ", ".join(rows[0])
            self._parts.append(
                (
                    f"INSERT INTO {table.name} ({cols}) SELECT {cols}"
                    f" FROM json_populate_recordset(NULL::{table.name}, {{rows}})",
                    rows,
                )
            )

    def statement(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Any data-modifying statement over ``rows``: ``sql`` reads them where it says
        ``{rows}`` (a JSON array of objects: ``json_populate_recordset(NULL::t, {rows})``)."""
        if rows:
            self._parts.append((sql, rows))

    def run(self, session: Session) -> None:
        """Send what was gathered (nothing if nothing was), and forget it."""
        parts, self._parts = self._parts, []
        if not parts:
            return
        shape = tuple(sql for sql, _ in parts)
        text = _WRITES.get(shape)
        if text is None:
            *ctes, last = (sql.replace("{rows}", f"%(p{i})s::json") for i, sql in enumerate(shape))
            with_ = ", ".join(f"w{i} AS ({c})" for i, c in enumerate(ctes))
            text = _WRITES[shape] = f"WITH {with_} {last}" if ctes else last
        params = {f"p{i}": orjson.dumps(rows).decode() for i, (_, rows) in enumerate(parts)}
        with driver_of(session.connection(), text) as driver, driver.cursor() as cursor:
            cursor.execute(text, params)


#: the statement text of each shape of ``Writes`` (the parts' SQL, in order)
_WRITES: dict[tuple[str, ...], str] = {}
_GATHERING = "yibao.writes"


@contextmanager
def gathered(session: Session) -> Iterator[Writes | None]:
    """Inside the block the repositories gather into one ``Writes`` the rows they would write
    (those that support it, when their ids are reserved: ``gathering``); at its end, unless it
    raises, they are sent as one statement. A block raising writes nothing of what it gathered.
    PostgreSQL only: elsewhere each writes as it goes (and the block yields None)."""
    if session.get_bind().dialect.name != "postgresql":
        yield None
        return
    if _GATHERING in session.info:
        raise RuntimeError("already gathering writes on this session")
    writes = session.info[_GATHERING] = Writes()
    try:
        yield writes
    finally:
        del session.info[_GATHERING]
    writes.run(session)


def gathering(session: Session) -> Writes | None:
    """The ``Writes`` the session's writes go into (``gathered``), None outside such a block."""
    found = session.info.get(_GATHERING)
    return found if isinstance(found, Writes) else None


def insert_gathered(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``rows`` into ``table``: into the session's gathered writes if it gathers them
    (``gathered``: plain values, no column type's bind processing), else ``insert_rows`` at
    once."""
    into = gathering(session)
    if into is not None:
        into.insert(table, rows)
    else:
        insert_rows(session, table, rows)


@contextmanager
def driver_of(conn: Connection, sql: str) -> Iterator[Any]:
    """The connection's driver connection (psycopg, sqlite3), for what SQLAlchemy would only
    slow down (COPY, executemany of ready tuples, the bulk reads); its errors raised as
    SQLAlchemy's (``IntegrityError``, ``OperationalError``...), as from any statement."""
    driver = conn.connection.driver_connection
    if driver is None:  # a closed or detached connection
        raise RuntimeError(f"no driver connection to run {sql!r} on")
    try:
        yield driver
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from exc


#: (table, columns) → each column's bind processor on PostgreSQL (``insert_rows``).
_COPY_BINDS: dict[tuple[Table, tuple[str, ...]], list[tuple[str, Any]]] = {}


def any_of(
    session: Session, column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """``column IN (values)``, for a statement built on the spot; a bulk read run often is a
    ``BulkRead``. On PostgreSQL ``column = ANY(:array)``: one statement text whatever the number
    of values, so psycopg parses and prepares it once (an expanded IN list is a new text for
    every length)."""
    wanted = sorted(set(values))
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(wanted, _array_of(column)))
    return column.in_(wanted)


def _array_of(column: ColumnElement[Any] | QueryableAttribute[Any]) -> ARRAY[Any]:
    """The array type of a key parameter: text for text columns, whatever their length (a cast
    to ``VARCHAR(n)[]`` would cut a longer key short, and it could then match another row)."""
    return ARRAY(Text() if isinstance(column.type, String) else column.type)


_Ts = TypeVarTuple("_Ts")

#: ``in_(column, name)``: the condition ``column IN (:name)`` (``BulkRead``).
InKeys = Callable[[ColumnElement[Any], str], ColumnElement[bool]]


def _in_keys(dialect: str, column: ColumnElement[Any], name: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=_array_of(column)))
    return column.in_(bindparam(name, expanding=True))


class BulkRead(Generic[*_Ts]):
    """A read of many keys at once, built once per dialect and run with its keys as parameters:
    ``build(in_)`` makes the statement, ``in_(column, name)`` the condition ``column IN
    (:name)`` (``column = ANY(:name)`` on PostgreSQL, an expanding ``IN`` elsewhere). Building
    a statement and its cache key anew for every read cost ~0.2 ms of CPU, about what running
    it costs; on PostgreSQL it is also compiled once, its constants written into the text
    (``_with_constants``: a generic plan can then use a partial index), and run on the psycopg
    connection, past SQLAlchemy's execution step, ~0.1 ms more (docs/benchmarks-service.md
    §4)."""

    def __init__(self, build: Callable[[InKeys], Select[*_Ts]]) -> None:
        self._build = build
        self._built: dict[str, Select[*_Ts]] = {}
        self._compiled: str | None = None  # PostgreSQL: its SQL, constants in the text

    def statement(self, dialect: str) -> Select[*_Ts]:
        stmt = self._built.get(dialect)
        if stmt is None:
            stmt = self._built[dialect] = self.statement_with(partial(_in_keys, dialect))
        return stmt

    def statement_with(self, in_: InKeys) -> Select[*_Ts]:
        """The statement built with ``in_`` (to derive another read from this one)."""
        return self._build(in_)

    def rows(self, session: Session, **params: Any) -> Sequence[Row[*_Ts]]:
        """The rows, their columns as attributes and in order (Core rows through the
        connection: no ORM step, the session holds nothing to flush here); the keys of each
        ``in_`` given as a list."""
        conn = session.connection()
        if conn.dialect.name != "postgresql":
            return conn.execute(self.statement(conn.dialect.name), params).all()
        if self._compiled is None:  # one PostgreSQL dialect per process
            self._compiled = _with_constants(self.statement("postgresql"), conn)
        sql = self._compiled
        with driver_of(conn, sql) as driver, driver.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(sql, params)
            return cast(Sequence[Row[*_Ts]], cursor.fetchall())


def _with_constants(stmt: Select[*tuple[Any, ...]], conn: Connection) -> str:
    """``stmt`` compiled for PostgreSQL with its constants written into the text (a key, a
    parameter without a value, stays a parameter: one left out is then an error, not
    ``= ANY(NULL)``). PostgreSQL plans a prepared statement once (a generic plan) only if that
    plan is no costlier than planning it for its parameters, and a constant that is a parameter
    (``status = $1``) cannot use a partial index (the settlements' on settled rows): such a
    statement was planned anew at every run (~1 ms of the database)."""
    compiled = stmt.compile(dialect=conn.dialect)
    sql = compiled.string
    for name, value in compiled.params.items():
        if value is not None:  # a constant (the keys have none)
            text = compiled.render_literal_value(value, compiled.binds[name].type)
            sql = sql.replace(f"%({name})s", text.replace("%", "%%"))  # psycopg's escape
    return sql


def pg_in(**names: str) -> InKeys:
    """An ``in_`` for ``BulkRead.statement_with`` on PostgreSQL with the read's keys renamed
    (``keys="persons"``: its keys are the parameter ``persons``; a name not given is kept), for
    reads sharing their keys in a ``JsonRead``."""
    return lambda column, name: _in_keys("postgresql", column, names.get(name, name))


class JsonRead:
    """Several ``BulkRead``s in one statement, on PostgreSQL: each read's rows (its statement
    built with the ``in_`` given beside it) as one JSON array of arrays in the read's order
    (``json_agg(json_build_array(...) ORDER BY ...)``), the parts one JSON text decoded by
    orjson. Each read sent alone costs a statement (~35-100 µs of the server's Python and
    100-300 µs of the database's); the JSON costs less. ``rows`` gives each part's rows as
    ``BulkRead.rows`` does (named tuples, dates and timestamps parsed: JSON has neither), so
    the same decoding serves both. Compiled once, run on the psycopg connection, its constants
    written into the text, as a ``BulkRead``'s (``_with_constants``)."""

    def __init__(self, parts: Sequence[tuple[BulkRead[*tuple[Any, ...]], InKeys]]) -> None:
        self._parts = parts
        self._compiled: tuple[str, list[_JsonPart]] | None = None

    def _compile(self, conn: Connection) -> tuple[str, list[_JsonPart]]:
        if self._compiled is None:  # one PostgreSQL dialect per process
            stmts = [read.statement_with(in_) for read, in_ in self._parts]
            stmt = select(sql_cast(func.json_build_array(*map(_json_rows, stmts)), Text))
            self._compiled = (_with_constants(stmt, conn), [_JsonPart.of(s) for s in stmts])
        return self._compiled

    def rows(self, session: Session, **params: Any) -> list[list[Any]]:
        """Each part's rows, in the order of the parts; ``params``: every key the parts name."""
        conn = session.connection()
        sql, parts = self._compile(conn)
        with driver_of(conn, sql) as driver, driver.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        return [part.rows(found) for part, found in zip(parts, orjson.loads(row[0]), strict=True)]


def _json_rows(stmt: Select[*tuple[Any, ...]]) -> Any:
    """``stmt``'s rows as one JSON array of arrays in its order (NULL for none): a scalar
    subquery of its FROM and WHERE, or over it as a subquery when it groups its rows."""
    order = stmt._order_by_clauses  # no public accessor; the aggregate takes the read's order
    if stmt._group_by_clauses:
        if order:
            raise ValueError("a grouped read in a JsonRead has no order")
        grouped_rows = stmt.subquery()
        return select(func.json_agg(func.json_build_array(*grouped_rows.c))).scalar_subquery()
    row = func.json_build_array(*stmt.selected_columns)
    rows = func.json_agg(aggregate_order_by(row, *order) if order else row)
    return stmt.with_only_columns(rows, maintain_column_froms=True).order_by(None).scalar_subquery()


#: ``namedtuple``, called with names known at run time only (a part's columns)
_ROW_TYPE: Any = namedtuple


class _JsonPart(NamedTuple):
    """How one part of a ``JsonRead`` is decoded: its row type, the columns to parse."""

    row: Callable[..., Any]
    dates: tuple[int, ...]
    stamps: tuple[int, ...]

    @classmethod
    def of(cls, stmt: Select[*tuple[Any, ...]]) -> _JsonPart:
        columns = list(stmt.selected_columns)
        decimals = [c.key for c in columns if isinstance(c.type, Numeric)]
        if decimals:  # JSON would give them as floats, the driver as Decimal
            raise ValueError(f"a JsonRead reads no decimal column: {decimals}")
        row = _ROW_TYPE("JsonRow", list(stmt.selected_columns.keys()), rename=True)
        return cls(
            row._make,
            tuple(i for i, c in enumerate(columns) if isinstance(c.type, Date)),
            tuple(i for i, c in enumerate(columns) if isinstance(c.type, DateTime)),
        )

    def rows(self, found: list[list[Any]] | None) -> list[Any]:
        if not found:
            return []
        if self.dates or self.stamps:
            for values in found:
                for i in self.dates:
                    if values[i] is not None:
                        values[i] = dt.date.fromisoformat(values[i])
                for i in self.stamps:
                    if values[i] is not None:
                        values[i] = dt.datetime.fromisoformat(values[i])
        return [self.row(values) for values in found]


def grouped(pairs: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    """{key: [values in the given order]} of (key, value) pairs (bulk reads, one query)."""
    out: dict[int, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out
