"""Repositories: translate between domain objects and rows, inside one session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVarTuple, cast

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    Row,
    Select,
    String,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import QueryableAttribute, Session, aliased

from yibao.domain.contributions import ContributionKind, ContributionRecord
from yibao.domain.enrolment import (
    OPEN_STATUSES,
    CoverageStatus,
    CoverageYear,
    Enrolment,
    EnrolmentEvent,
    EnrolmentKind,
    Scheme,
    Status,
)
from yibao.domain.errors import (
    AlreadyExists,
    DuplicateEnrolment,
    InvalidField,
    NotFound,
    UnbalancedTransaction,
)
from yibao.domain.identity import NationalId, Sex
from yibao.domain.ledger import Account, AccountKind, AccountRef, LedgerTransaction, Posting
from yibao.domain.registry import (
    GroupKind,
    Household,
    MutualAidLink,
    Person,
    Relation,
    RelationKind,
    SpecialGroup,
)
from yibao.domain.settlement import SettlementStatus
from yibao.store.models import (
    AccountRow,
    ContributionRow,
    CoverageYearRow,
    EnrolmentEventRow,
    EnrolmentRow,
    HouseholdRow,
    LedgerTransactionRow,
    MutualAidLinkRow,
    PersonRow,
    PostingRow,
    RelationRow,
    SettlementRow,
    SpecialGroupRow,
    YearCloseRow,
)

_OPEN = [s.value for s in OPEN_STATUSES]


def _dialect_insert(session: Session, table: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


# Read statements built once (run for every settlement): executed with their parameters, so
# no statement object or cache key is built per call.
_PERSONS = cast(Table, PersonRow.__table__)
_FIND_PERSON = select(PersonRow).where(PersonRow.national_id == bindparam("p_nid"))
_ALL_GROUPS = (
    select(SpecialGroupRow)
    .where(SpecialGroupRow.person_id == bindparam("p_person"))
    .order_by(SpecialGroupRow.id)
)
_ENROLMENT_HISTORY = (
    select(EnrolmentRow)
    .where(EnrolmentRow.person_id == bindparam("p_person"))
    .order_by(EnrolmentRow.start_date, EnrolmentRow.id)
)
_COVERAGE_HISTORY = (
    select(CoverageYearRow)
    .where(CoverageYearRow.person_id == bindparam("p_person"))
    .order_by(CoverageYearRow.year)
)


def reserve_ids(session: Session, counts: Sequence[tuple[Table, int]]) -> list[list[int]] | None:
    """New ids for several tables from their sequences, in one statement (PostgreSQL, and only
    when some table takes more than one row: a single row is one ``INSERT ... RETURNING``);
    None otherwise."""
    if session.get_bind().dialect.name != "postgresql" or max(n for _, n in counts) < 2:
        return None
    names = tuple(t.name for t, _ in counts)
    stmt = _RESERVE.get(names)
    if stmt is None:
        stmt = _RESERVE[names] = text(
            "SELECT "
            + ", ".join(
                f"ARRAY(SELECT nextval(pg_get_serial_sequence('{name}', 'id'))"
                f" FROM generate_series(1, :n{i}))"
                for i, name in enumerate(names)
            )
        )
    row = session.connection().execute(stmt, {f"n{i}": n for i, (_, n) in enumerate(counts)})
    return [[int(i) for i in ids] for ids in row.one()]


_RESERVE: dict[tuple[str, ...], Any] = {}


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
    binds = _COPY_BINDS.get((table, names))
    if binds is None:
        python_defaults = [c.name for c in table.c if c.name not in names and c.default is not None]
        if python_defaults:
            raise ValueError(f"{table.name}: COPY would skip the defaults of {python_defaults}")
        binds = _COPY_BINDS[(table, names)] = [
            (n, table.c[n].type.dialect_impl(conn.dialect).bind_processor(conn.dialect))
            for n in names
        ]
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    with _driver(conn, sql) as driver, driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([row[n] if bind is None else bind(row[n]) for n, bind in binds])


@contextmanager
def _driver(conn: Connection, sql: str) -> Iterator[Any]:
    """The connection's psycopg connection, for what SQLAlchemy would only slow down (COPY, the
    bulk reads); its errors raised as SQLAlchemy's (``IntegrityError``, ``OperationalError``...),
    as from any statement."""
    driver = conn.connection.driver_connection
    assert driver is not None
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
    it costs; on PostgreSQL it is also compiled once and run on the psycopg connection, past
    SQLAlchemy's execution step, ~0.1 ms more (docs/benchmarks-service.md §4)."""

    def __init__(self, build: Callable[[InKeys], Select[*_Ts]]) -> None:
        self._build = build
        self._built: dict[str, Select[*_Ts]] = {}
        self._compiled: tuple[str, dict[str, Any]] | None = None  # PostgreSQL: SQL, parameters

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
            compiled = self.statement("postgresql").compile(dialect=conn.dialect)
            # the constants only: a key left out is then an error, not = ANY(NULL)
            fixed = {k: v for k, v in compiled.params.items() if v is not None}
            self._compiled = (compiled.string, fixed)
        sql, fixed = self._compiled
        with _driver(conn, sql) as driver, driver.cursor(row_factory=namedtuple_row) as cursor:
            cursor.execute(sql, {**fixed, **params})
            return cast(Sequence[Row[*_Ts]], cursor.fetchall())


_SPECIAL_GROUPS = cast(Table, SpecialGroupRow.__table__)
_LINKS = cast(Table, MutualAidLinkRow.__table__)
_ENROLMENTS = cast(Table, EnrolmentRow.__table__)
_COVERAGE = cast(Table, CoverageYearRow.__table__)
_ACCOUNTS = cast(Table, AccountRow.__table__)
_CONTRIBUTIONS = cast(Table, ContributionRow.__table__)

# The bulk reads of a settlement batch, built once (``BulkRead``).
_PERSONS_BY_NID = BulkRead(lambda in_: select(_PERSONS).where(in_(_PERSONS.c.national_id, "keys")))
_PERSONS_BY_ID = BulkRead(lambda in_: select(_PERSONS).where(in_(_PERSONS.c.id, "keys")))
_GROUPS_OF = BulkRead(
    lambda in_: (
        select(_SPECIAL_GROUPS)
        .where(in_(_SPECIAL_GROUPS.c.person_id, "keys"))
        .order_by(_SPECIAL_GROUPS.c.id)
    )
)
_LINKS_FOR = BulkRead(
    lambda in_: select(_LINKS).where(in_(_LINKS.c.relative_id, "keys")).order_by(_LINKS.c.id)
)
_SETTLEMENTS = cast(Table, SettlementRow.__table__)
#: A year after every settlement (``CoverageRepository.histories`` without a limit).
NO_YEAR = 10_000
# Each enrolment with its first payment of the contribution kinds asked for.
_ENROLMENT_HISTORIES = BulkRead(
    lambda in_: (
        select(
            _ENROLMENTS,
            select(func.min(_CONTRIBUTIONS.c.paid_on))
            .where(
                _CONTRIBUTIONS.c.enrolment_id == _ENROLMENTS.c.id,
                in_(_CONTRIBUTIONS.c.kind, "kinds"),
                _CONTRIBUTIONS.c.paid_on.is_not(None),
            )
            .scalar_subquery()
            .label("first_paid"),
        )
        .where(in_(_ENROLMENTS.c.person_id, "persons"))
        .order_by(_ENROLMENTS.c.start_date, _ENROLMENTS.c.id)
    )
)
# Each coverage year with, before a year, what the funds paid by the settlements in force (the
# status filtered in the sum, not the WHERE: the (person, year) index alone finds the rows,
# whatever the planner thinks of the partial index on settled rows).
_COVERAGE_HISTORIES = BulkRead(
    lambda in_: (
        select(
            _COVERAGE,
            case(
                (
                    _COVERAGE.c.year < bindparam("before"),
                    select(
                        func.sum(
                            case(
                                (
                                    _SETTLEMENTS.c.status == SettlementStatus.SETTLED.value,
                                    _SETTLEMENTS.c.fund_pay_sumamt,
                                ),
                                else_=0,
                            )
                        )
                    )
                    .where(
                        _SETTLEMENTS.c.person_id == _COVERAGE.c.person_id,
                        _SETTLEMENTS.c.year == _COVERAGE.c.year,
                    )
                    .scalar_subquery(),
                ),
                else_=None,
            ).label("settled_fund_paid"),
        )
        .where(in_(_COVERAGE.c.person_id, "persons"))
        .order_by(_COVERAGE.c.year)
    )
)
_ACCOUNT_IDS = BulkRead(
    lambda in_: select(_ACCOUNTS.c.code, _ACCOUNTS.c.id).where(in_(_ACCOUNTS.c.code, "keys"))
)
_BALANCES = BulkRead(
    lambda in_: (
        select(_ACCOUNTS.c.code, _ACCOUNTS.c.id, _ACCOUNTS.c.balance)
        .where(in_(_ACCOUNTS.c.code, "keys"))
        .order_by(_ACCOUNTS.c.id)
    )
)
_BALANCES_LOCKED = BulkRead(lambda in_: _BALANCES.statement_with(in_).with_for_update())


def _grouped(pairs: Iterable[tuple[int, Any]]) -> dict[int, list[Any]]:
    """{key: [values in the given order]} of (key, value) pairs (bulk reads, one query)."""
    out: dict[int, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


# --------------------------------------------------------------------------------- registry


def _person(row: PersonRow | Row[Any]) -> Person:
    return Person(
        id=row.id,
        national_id=NationalId(row.national_id, row.birth_date, Sex(row.sex)),
        name=row.name,
        phone=row.phone,
        household_id=row.household_id,
        region=row.region,
    )


def _household(row: HouseholdRow) -> Household:
    return Household(id=row.id, code=row.code, address=row.address, region=row.region)


def _group(row: SpecialGroupRow | Row[Any]) -> SpecialGroup:
    return SpecialGroup(
        person_id=row.person_id,
        kind=GroupKind(row.kind),
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        id=row.id,
    )


def _link(row: MutualAidLinkRow | Row[Any]) -> MutualAidLink:
    return MutualAidLink(
        owner_id=row.owner_id,
        relative_id=row.relative_id,
        authorised_on=row.authorised_on,
        revoked_on=row.revoked_on,
        id=row.id,
    )


class PersonRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, person: Person) -> Person:
        if self.find(person.national_id.number) is not None:
            raise AlreadyExists("person", person.national_id.number)
        row = PersonRow(
            national_id=person.national_id.number,
            name=person.name,
            sex=person.sex.value,
            birth_date=person.birth_date,
            phone=person.phone,
            household_id=person.household_id,
            region=person.region,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists("person", person.national_id.number) from exc
        return _person(row)

    def get(self, person_id: int) -> Person:
        row = self.session.get(PersonRow, person_id)
        if row is None:
            raise NotFound("person", person_id)
        return _person(row)

    def find(self, national_id: str) -> Person | None:
        row = self.session.scalars(
            _FIND_PERSON, {"p_nid": national_id.strip().upper()}
        ).one_or_none()
        return _person(row) if row is not None else None

    def require(self, national_id: str) -> Person:
        person = self.find(national_id)
        if person is None:
            raise NotFound("person", national_id)
        return person

    def find_many(self, national_ids: Iterable[str]) -> dict[str, Person]:
        """{national ID (as stored): person} of those found, in one query."""
        wanted = {n.strip().upper() for n in national_ids}
        if not wanted:
            return {}
        rows = _PERSONS_BY_NID.rows(self.session, keys=sorted(wanted))
        return {r.national_id: _person(r) for r in rows}

    def get_many(self, person_ids: Iterable[int]) -> dict[int, Person]:
        wanted = set(person_ids)
        if not wanted:
            return {}
        rows = _PERSONS_BY_ID.rows(self.session, keys=sorted(wanted))
        return {r.id: _person(r) for r in rows}

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(PersonRow)) or 0)

    # households

    def household(self, code: str) -> Household | None:
        row = self.session.scalars(
            select(HouseholdRow).where(HouseholdRow.code == code)
        ).one_or_none()
        return _household(row) if row is not None else None

    def household_of(self, household_id: int) -> Household:
        row = self.session.get(HouseholdRow, household_id)
        if row is None:
            raise NotFound("household", household_id)
        return _household(row)

    def get_or_add_household(
        self, code: str, address: str | None = None, region: str | None = None
    ) -> Household:
        stmt = (
            _dialect_insert(self.session, HouseholdRow)
            .values(code=code, address=address, region=region)
            .on_conflict_do_nothing(index_elements=["code"])
        )
        self.session.execute(stmt)
        found = self.household(code)
        assert found is not None
        return found

    def members(self, household_id: int) -> list[Person]:
        rows = self.session.scalars(
            select(PersonRow).where(PersonRow.household_id == household_id).order_by(PersonRow.id)
        )
        return [_person(r) for r in rows]

    # relatives

    def relation(self, person_id: int, relative_id: int) -> RelationKind | None:
        row = self.session.get(RelationRow, (person_id, relative_id))
        return RelationKind(row.kind) if row is not None else None

    def add_relation(self, person_id: int, relative_id: int, kind: RelationKind) -> Relation:
        """Record ``relative`` as the person's ``kind``, and the reciprocal."""
        if person_id == relative_id:
            raise InvalidField("relative", "a person is not their own relative")
        existing = self.relation(person_id, relative_id)
        if existing is not None and existing is not kind:
            raise InvalidField(
                "kind", f"already recorded as {existing.value}, not {kind.value}", kind.value
            )
        if existing is None:
            self.session.add(RelationRow(person_id=person_id, relative_id=relative_id, kind=kind))
            self.session.add(
                RelationRow(person_id=relative_id, relative_id=person_id, kind=kind.reciprocal)
            )
            self.session.flush()
        return Relation(person_id, relative_id, kind)

    def relatives(self, person_id: int) -> list[Relation]:
        rows = self.session.scalars(
            select(RelationRow)
            .where(RelationRow.person_id == person_id)
            .order_by(RelationRow.relative_id)
        )
        return [Relation(r.person_id, r.relative_id, RelationKind(r.kind)) for r in rows]

    # special groups

    def add_group(self, group: SpecialGroup) -> SpecialGroup:
        row = SpecialGroupRow(
            person_id=group.person_id,
            kind=group.kind.value,
            valid_from=group.valid_from,
            valid_to=group.valid_to,
        )
        self.session.add(row)
        self.session.flush()
        return _group(row)

    def groups(self, person_id: int, on: dt.date | None = None) -> list[SpecialGroup]:
        if on is None:
            return [_group(r) for r in self.session.scalars(_ALL_GROUPS, {"p_person": person_id})]
        stmt = select(SpecialGroupRow).where(SpecialGroupRow.person_id == person_id)
        if on is not None:
            stmt = stmt.where(
                SpecialGroupRow.valid_from <= on,
                or_(SpecialGroupRow.valid_to.is_(None), SpecialGroupRow.valid_to >= on),
            )
        return [_group(r) for r in self.session.scalars(stmt.order_by(SpecialGroupRow.id))]

    def groups_of(self, person_ids: Sequence[int]) -> dict[int, list[SpecialGroup]]:
        """Every special group of each person (as ``groups``), in one query."""
        rows = _GROUPS_OF.rows(self.session, keys=list(person_ids))
        return _grouped((r.person_id, _group(r)) for r in rows)

    # mutual-aid links

    def links_for(self, relative_ids: Sequence[int]) -> dict[int, list[MutualAidLink]]:
        """Every mutual-aid link paying for each person (revoked ones too), oldest first."""
        rows = _LINKS_FOR.rows(self.session, keys=list(relative_ids))
        return _grouped((r.relative_id, _link(r)) for r in rows)

    def add_link(self, link: MutualAidLink) -> MutualAidLink:
        row = MutualAidLinkRow(
            owner_id=link.owner_id,
            relative_id=link.relative_id,
            authorised_on=link.authorised_on,
            revoked_on=link.revoked_on,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists("mutual-aid link", f"{link.owner_id}->{link.relative_id}") from exc
        return _link(row)

    def active_link(self, owner_id: int, relative_id: int, on: dt.date) -> MutualAidLink | None:
        rows = self.session.scalars(
            select(MutualAidLinkRow).where(
                MutualAidLinkRow.owner_id == owner_id,
                MutualAidLinkRow.relative_id == relative_id,
                MutualAidLinkRow.authorised_on <= on,
                or_(MutualAidLinkRow.revoked_on.is_(None), MutualAidLinkRow.revoked_on > on),
            )
        ).all()
        return _link(rows[0]) if rows else None

    def revoke_link(self, owner_id: int, relative_id: int, on: dt.date) -> MutualAidLink:
        row = self.session.scalars(
            select(MutualAidLinkRow).where(
                MutualAidLinkRow.owner_id == owner_id,
                MutualAidLinkRow.relative_id == relative_id,
                MutualAidLinkRow.revoked_on.is_(None),
            )
        ).one_or_none()
        if row is None:
            raise NotFound("mutual-aid link", f"{owner_id}->{relative_id}")
        if on < row.authorised_on:
            raise InvalidField("revoked_on", "is before the authorisation", on)
        row.revoked_on = on
        self.session.flush()
        return _link(row)


# -------------------------------------------------------------------------------- enrolment


def _enrolment(row: EnrolmentRow | Row[Any]) -> Enrolment:
    return Enrolment(
        id=row.id,
        person_id=row.person_id,
        kind=EnrolmentKind(row.kind),
        pooling_area=row.pooling_area,
        start_date=row.start_date,
        status=Status(row.status),
        end_date=row.end_date,
        employer_code=row.employer_code,
        suspended_on=row.suspended_on,
        end_reason=row.end_reason,
        previous_id=row.previous_id,
        carried_employee_months=row.carried_employee_months,
        carried_resident_years=row.carried_resident_years,
    )


def _enrolment_values(e: Enrolment) -> dict[str, Any]:
    return {
        "person_id": e.person_id,
        "scheme": e.scheme.value,
        "kind": e.kind.value,
        "pooling_area": e.pooling_area,
        "employer_code": e.employer_code,
        "start_date": e.start_date,
        "end_date": e.end_date,
        "status": e.status.value,
        "suspended_on": e.suspended_on,
        "end_reason": e.end_reason,
        "previous_id": e.previous_id,
        "carried_employee_months": e.carried_employee_months,
        "carried_resident_years": e.carried_resident_years,
    }


class EnrolmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, enrolment: Enrolment, person_label: str = "") -> Enrolment:
        """Insert; the partial unique index refuses a second open enrolment."""
        row = EnrolmentRow(**_enrolment_values(enrolment))
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            existing = self.open_for(enrolment.person_id)
            if existing is None:
                raise
            raise DuplicateEnrolment(
                person_label or str(enrolment.person_id), existing.describe(), existing.id
            ) from exc
        return _enrolment(row)

    def get(self, enrolment_id: int, lock: bool = False) -> Enrolment:
        stmt = select(EnrolmentRow).where(EnrolmentRow.id == enrolment_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        if row is None:
            raise NotFound("enrolment", enrolment_id)
        return _enrolment(row)

    def open_for(self, person_id: int, lock: bool = False) -> Enrolment | None:
        stmt = select(EnrolmentRow).where(
            EnrolmentRow.person_id == person_id, EnrolmentRow.status.in_(_OPEN)
        )
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        return _enrolment(row) if row is not None else None

    def latest_for(self, person_id: int) -> Enrolment | None:
        row = self.session.scalars(
            select(EnrolmentRow)
            .where(EnrolmentRow.person_id == person_id)
            .order_by(EnrolmentRow.start_date.desc(), EnrolmentRow.id.desc())
            .limit(1)
        ).one_or_none()
        return _enrolment(row) if row is not None else None

    def history(self, person_id: int) -> list[Enrolment]:
        rows = self.session.scalars(_ENROLMENT_HISTORY, {"p_person": person_id})
        return [_enrolment(r) for r in rows]

    def histories(
        self, person_ids: Sequence[int], paid: Iterable[ContributionKind] = ()
    ) -> tuple[dict[int, list[Enrolment]], dict[int, dt.date]]:
        """Each person's enrolments (as ``history``), and the first payment of a contribution
        of the ``paid`` kinds of each enrolment that has one: one query."""
        rows = _ENROLMENT_HISTORIES.rows(
            self.session, persons=list(person_ids), kinds=[k.value for k in paid]
        )
        first = {r.id: r.first_paid for r in rows if r.first_paid is not None}
        return _grouped((r.person_id, _enrolment(r)) for r in rows), first

    def save(self, enrolment: Enrolment) -> None:
        if enrolment.id is None:
            raise NotFound("enrolment", None)
        self.session.execute(
            update(EnrolmentRow)
            .where(EnrolmentRow.id == enrolment.id)
            .values(**_enrolment_values(enrolment))
        )

    def add_event(self, event: EnrolmentEvent) -> None:
        self.session.add(
            EnrolmentEventRow(
                enrolment_id=event.enrolment_id,
                kind=event.kind.value,
                on_date=event.on,
                detail=event.detail,
            )
        )
        self.session.flush()

    def events(self, enrolment_id: int) -> list[EnrolmentEvent]:
        from yibao.domain.enrolment import EventKind

        rows = self.session.scalars(
            select(EnrolmentEventRow)
            .where(EnrolmentEventRow.enrolment_id == enrolment_id)
            .order_by(EnrolmentEventRow.id)
        )
        return [
            EnrolmentEvent(r.enrolment_id, EventKind(r.kind), r.on_date, r.detail) for r in rows
        ]

    def count_open(self) -> int:
        return int(
            self.session.scalar(
                select(func.count()).select_from(EnrolmentRow).where(EnrolmentRow.status.in_(_OPEN))
            )
            or 0
        )


# --------------------------------------------------------------------------------- coverage


def _coverage(row: CoverageYearRow | Row[Any]) -> CoverageYear:
    return CoverageYear(
        person_id=row.person_id,
        year=row.year,
        status=CoverageStatus(row.status),
        scheme=Scheme(row.scheme) if row.scheme else None,
        pooling_area=row.pooling_area,
        paid_on=row.paid_on,
        repaired=bool(row.repaired),
        fund_paid=row.fund_paid,
        continuous_years=row.continuous_years,
        zero_claim=bool(row.zero_claim),
        closed=bool(row.closed),
    )


@dataclass(frozen=True, slots=True)
class YearCloseCounts:
    year: int
    lapses_recorded: int  # lapsed rows added by this run
    retirees_added: int  # insured rows added for active retirees (they pay nothing)
    insured: int
    lapsed: int
    zero_claim: int
    next_year_rows: int
    runs: int


class CoverageRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, person_id: int, year: int) -> CoverageYear | None:
        row = self.session.get(CoverageYearRow, (person_id, year))
        return _coverage(row) if row is not None else None

    def history(self, person_id: int) -> list[CoverageYear]:
        rows = self.session.scalars(_COVERAGE_HISTORY, {"p_person": person_id})
        return [_coverage(r) for r in rows]

    def histories(
        self, person_ids: Sequence[int], before: int | None = None
    ) -> tuple[dict[int, list[CoverageYear]], dict[int, dict[int, int]]]:
        """Each person's coverage years (as ``history``), and what the funds paid in each of
        them before ``before`` (every year without it) by the settlements in force, beyond the
        coverage year's own ``fund_paid`` (by an earlier system): one query."""
        rows = _COVERAGE_HISTORIES.rows(
            self.session, persons=list(person_ids), before=NO_YEAR if before is None else before
        )
        paid: dict[int, dict[int, int]] = {}
        for r in rows:
            if r.settled_fund_paid is not None:
                paid.setdefault(r.person_id, {})[r.year] = int(r.settled_fund_paid)
        return _grouped((r.person_id, _coverage(r)) for r in rows), paid

    def _continuous_before(self, person_id: int, year: int) -> int:
        prev = self.session.get(CoverageYearRow, (person_id, year - 1))
        if prev is None or prev.status != CoverageStatus.INSURED:
            return 0
        return prev.continuous_years

    def mark_insured(
        self, person_id: int, year: int, scheme: Scheme, area: str, paid_on: dt.date
    ) -> CoverageYear:
        row = self.session.get(CoverageYearRow, (person_id, year))
        continuous = self._continuous_before(person_id, year) + 1
        if row is None:
            row = CoverageYearRow(
                person_id=person_id,
                year=year,
                status=CoverageStatus.INSURED.value,
                scheme=scheme.value,
                pooling_area=area,
                paid_on=paid_on,
                repaired=False,
                fund_paid=0,
                continuous_years=continuous,
                zero_claim=False,
                closed=False,
            )
            self.session.add(row)
        elif row.status != CoverageStatus.INSURED:
            row.status = CoverageStatus.INSURED.value
            row.scheme = scheme.value
            row.pooling_area = area
            row.paid_on = paid_on
            row.continuous_years = continuous
        self.session.flush()
        return _coverage(row)

    def mark_repaired(self, person_id: int, year: int, area: str, scheme: Scheme) -> CoverageYear:
        row = self.session.get(CoverageYearRow, (person_id, year))
        if row is None:
            row = CoverageYearRow(
                person_id=person_id,
                year=year,
                status=CoverageStatus.LAPSED.value,
                scheme=scheme.value,
                pooling_area=area,
                repaired=True,
                fund_paid=0,
                continuous_years=0,
                zero_claim=False,
                closed=False,
            )
            self.session.add(row)
        else:
            row.repaired = True
        self.session.flush()
        return _coverage(row)

    def add_fund_paid(self, person_id: int, year: int, fen: int) -> None:
        """The settlement service adds what the funds paid for the person in the year."""
        table = cast(Table, CoverageYearRow.__table__)
        result = self.session.execute(
            update(table)
            .where(table.c.person_id == person_id, table.c.year == year)
            .values(fund_paid=table.c.fund_paid + fen)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("coverage year", f"{person_id}/{year}")

    def close_year(self, year: int) -> YearCloseCounts:
        """Set-based year-end: lapses, continuous years, zero-claim flags; idempotent."""
        s = self.session
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        e2 = aliased(EnrolmentRow)
        latest_overlapping = (
            select(e2.id)
            .where(
                e2.person_id == EnrolmentRow.person_id,
                e2.start_date <= last,
                or_(e2.end_date.is_(None), e2.end_date >= first),
            )
            .order_by(e2.start_date.desc(), e2.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        has_row = (
            select(CoverageYearRow.person_id)
            .where(
                CoverageYearRow.person_id == EnrolmentRow.person_id, CoverageYearRow.year == year
            )
            .exists()
        )
        # A retiree with an active enrolment is insured without paying.
        status = case(
            (
                and_(EnrolmentRow.kind == "retiree", EnrolmentRow.status != "suspended"),
                CoverageStatus.INSURED.value,
            ),
            else_=CoverageStatus.LAPSED.value,
        )
        missing = select(
            EnrolmentRow.person_id,
            literal(year, Integer()),
            status,
            EnrolmentRow.scheme,
            EnrolmentRow.pooling_area,
        ).where(EnrolmentRow.id == latest_overlapping, ~has_row)

        def rows_of_year(status: CoverageStatus) -> int:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(CoverageYearRow)
                    .where(CoverageYearRow.year == year, CoverageYearRow.status == status.value)
                )
                or 0
            )

        before = (rows_of_year(CoverageStatus.INSURED), rows_of_year(CoverageStatus.LAPSED))
        s.execute(
            insert(CoverageYearRow).from_select(
                ["person_id", "year", "status", "scheme", "pooling_area"], missing
            )
        )
        added_insured = rows_of_year(CoverageStatus.INSURED) - before[0]
        added_lapsed = rows_of_year(CoverageStatus.LAPSED) - before[1]

        for y, close in ((year, True), (year + 1, False)):
            prev = aliased(CoverageYearRow)
            prev_continuous = (
                select(prev.continuous_years)
                .where(
                    prev.person_id == CoverageYearRow.person_id,
                    prev.year == y - 1,
                    prev.status == CoverageStatus.INSURED.value,
                )
                .scalar_subquery()
            )
            insured = CoverageYearRow.status == CoverageStatus.INSURED.value
            values: dict[str, Any] = {
                "continuous_years": case((insured, 1 + func.coalesce(prev_continuous, 0)), else_=0)
            }
            if close:
                # Zero-claim: nothing recorded through the hook and no settlement in force in
                # which the funds paid anything that year.
                paid_by_settlement = (
                    select(SettlementRow.id)
                    .where(
                        SettlementRow.person_id == CoverageYearRow.person_id,
                        SettlementRow.year == y,
                        SettlementRow.status == "settled",
                        SettlementRow.fund_pay_sumamt > 0,
                    )
                    .exists()
                )
                values["zero_claim"] = case(
                    (and_(insured, CoverageYearRow.fund_paid == 0, ~paid_by_settlement), True),
                    else_=False,
                )
                values["closed"] = True
            s.execute(update(CoverageYearRow).where(CoverageYearRow.year == y).values(**values))

        counts: dict[str, int] = {
            status: int(n)
            for status, n in s.execute(
                select(CoverageYearRow.status, func.count())
                .where(CoverageYearRow.year == year)
                .group_by(CoverageYearRow.status)
            ).all()
        }
        zero = s.scalar(
            select(func.count())
            .select_from(CoverageYearRow)
            .where(CoverageYearRow.year == year, CoverageYearRow.zero_claim.is_(True))
        )
        next_rows = s.scalar(
            select(func.count())
            .select_from(CoverageYearRow)
            .where(CoverageYearRow.year == year + 1)
        )
        close_row = s.get(YearCloseRow, year)
        if close_row is None:
            s.add(YearCloseRow(year=year, runs=1))
            runs = 1
        else:
            close_row.runs += 1
            close_row.last_closed_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            runs = close_row.runs
        s.flush()
        return YearCloseCounts(
            year=year,
            lapses_recorded=added_lapsed,
            retirees_added=added_insured,
            insured=int(counts.get(CoverageStatus.INSURED.value, 0)),
            lapsed=int(counts.get(CoverageStatus.LAPSED.value, 0)),
            zero_claim=int(zero or 0),
            next_year_rows=int(next_rows or 0),
            runs=runs,
        )


# ----------------------------------------------------------------------------------- ledger


def _account(row: AccountRow) -> Account:
    kind = AccountKind(row.kind)
    ref = (
        AccountRef.personal(row.person_id)
        if kind is AccountKind.PERSONAL_ACCOUNT and row.person_id is not None
        else AccountRef(kind, pooling_area=row.pooling_area)
    )
    return Account(id=row.id, ref=ref, balance=row.balance)


@dataclass(frozen=True, slots=True)
class BalanceMismatch:
    account: str
    stored: int
    postings: int


class LedgerRepository:
    def __init__(self, session: Session, known: dict[AccountRef, int] | None = None) -> None:
        self.session = session
        self._pending: list[int] = []
        # balance moves of the transactions posted in this unit, applied just before COMMIT
        self._moves: dict[int, int] = {}
        self._ids: dict[AccountRef, int] = {}
        # ids of accounts known to be committed (kept by the unit of work across its uses)
        self._known = known if known is not None else {}

    def account_id(self, ref: AccountRef) -> int:
        """The account's id, opening the account on first use."""
        if ref in self._ids:
            return self._ids[ref]
        if ref in self._known:
            return self._known[ref]
        found = self.session.scalar(select(AccountRow.id).where(AccountRow.code == ref.code))
        if found is None:
            stmt = (
                _dialect_insert(self.session, AccountRow)
                .values(
                    code=ref.code,
                    kind=ref.kind.value,
                    pooling_area=ref.pooling_area,
                    person_id=ref.person_id,
                    normal_side="debit" if ref.kind.debit_normal else "credit",
                    balance=0,
                )
                .on_conflict_do_nothing(index_elements=["code"])
            )
            self.session.execute(stmt)
            found = self.session.scalar(select(AccountRow.id).where(AccountRow.code == ref.code))
        assert found is not None
        self._ids[ref] = found
        return found

    def _resolve(self, refs: Iterable[AccountRef]) -> None:
        """Look up the ids of the accounts not known yet, in one query."""
        unknown = {r.code: r for r in refs if r not in self._ids and r not in self._known}
        if len(unknown) < 2:  # account_id() does it
            return
        for code, account_id in _ACCOUNT_IDS.rows(self.session, keys=sorted(unknown)):
            self._ids[unknown[code]] = account_id

    def account(self, ref: AccountRef, lock: bool = False) -> Account | None:
        """Read the account's current balance (row-locked on PostgreSQL with ``lock``)."""
        self.apply_moves()
        stmt = select(AccountRow.id, AccountRow.balance).where(AccountRow.code == ref.code)
        if lock:
            stmt = stmt.with_for_update()
        found = self.session.execute(stmt).one_or_none()
        if found is None:
            return None
        self._ids[ref] = found[0]
        return Account(id=found[0], ref=ref, balance=found[1])

    def balances(self, refs: Iterable[AccountRef], lock: bool = False) -> dict[AccountRef, Account]:
        """The balances of existing accounts among ``refs`` in one query (row-locked in id
        order on PostgreSQL with ``lock``: one lock order, no deadlocks)."""
        by_code = {r.code: r for r in refs}
        if not by_code:
            return {}
        # what this unit posted is added here, not written yet: the busy fund rows are updated
        # only just before COMMIT (``apply_moves``), whatever is read in between
        read = _BALANCES_LOCKED if lock else _BALANCES
        out: dict[AccountRef, Account] = {}
        for code, account_id, balance in read.rows(self.session, keys=sorted(by_code)):
            ref = by_code[code]
            self._ids[ref] = account_id
            pending = self._moves.get(account_id, 0)
            out[ref] = Account(id=account_id, ref=ref, balance=int(balance) + pending)
        return out

    def accounts(self, area: str | None = None) -> list[Account]:
        self.apply_moves()
        stmt = select(AccountRow).order_by(AccountRow.code)
        if area is not None:
            stmt = stmt.where(AccountRow.pooling_area == area)
        return [_account(r) for r in self.session.scalars(stmt)]

    def personal_totals(self) -> tuple[int, int]:
        """(number of personal accounts, sum of their signed balances)."""
        self.apply_moves()
        n, total = self.session.execute(
            select(func.count(), func.coalesce(func.sum(AccountRow.balance), 0)).where(
                AccountRow.kind == AccountKind.PERSONAL_ACCOUNT.value
            )
        ).one()
        return int(n), int(total)

    def post(self, txn: LedgerTransaction) -> int:
        """Insert the transaction and its postings; the stored balances move at commit
        (``apply_moves``), so the rows of busy fund accounts stay locked only for the COMMIT.
        A reference already used is refused (``INSERT ... ON CONFLICT DO NOTHING``: one
        statement, and the transaction stays usable)."""
        stmt = _dialect_insert(self.session, LedgerTransactionRow).values(
            kind=txn.kind,
            occurred_on=txn.occurred_on,
            description=txn.description or None,
            reference=txn.reference,
        )
        if txn.reference is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["reference"])
        found = self.session.execute(stmt.returning(LedgerTransactionRow.id)).scalar_one_or_none()
        if found is None:
            raise AlreadyExists("ledger transaction", str(txn.reference))
        txn_id = int(found)
        self._resolve(p.account for p in txn.postings)
        legs = [(self.account_id(p.account), p.amount) for p in txn.postings]
        self.session.execute(
            insert(PostingRow),
            [{"transaction_id": txn_id, "account_id": a, "amount": amt} for a, amt in legs],
        )
        for account_id, amount in legs:
            self._moves[account_id] = self._moves.get(account_id, 0) + amount
        self._pending.append(txn_id)
        return txn_id

    def post_many(
        self, txns: Sequence[LedgerTransaction], ids: list[int] | None = None
    ) -> list[int]:
        """``post`` for many transactions: one INSERT ... RETURNING for the transactions and
        one for all their postings (a reference already used fails the database transaction)."""
        if not txns:
            return []
        ids = insert_returning_ids(
            self.session,
            cast(Table, LedgerTransactionRow.__table__),
            [
                {
                    "kind": t.kind,
                    "occurred_on": t.occurred_on,
                    "description": t.description or None,
                    "reference": t.reference,
                }
                for t in txns
            ],
            ids,
        )
        self._resolve(p.account for t in txns for p in t.postings)
        rows = []
        for txn_id, t in zip(ids, txns, strict=True):
            for p in t.postings:
                account_id = self.account_id(p.account)
                rows.append(
                    {"transaction_id": txn_id, "account_id": account_id, "amount": p.amount}
                )
                self._moves[account_id] = self._moves.get(account_id, 0) + p.amount
        insert_rows(self.session, cast(Table, PostingRow.__table__), rows)
        self._pending.extend(ids)
        return ids

    def apply_moves(self) -> None:
        """Move the stored balances by what was posted in this unit: one executemany, rows in
        account-id order (one lock order, no deadlocks). Called before reading a balance and
        by the unit of work just before COMMIT."""
        moves = self._moves
        rows = [{"aid": a, "delta": moves[a]} for a in sorted(moves) if moves[a]]
        moves.clear()
        if rows:
            table = cast(Table, AccountRow.__table__)
            self.session.connection().execute(
                update(table)
                .where(table.c.id == bindparam("aid"))
                .values(balance=table.c.balance + bindparam("delta")),
                rows,
            )

    def postings_of(self, transaction_id: int) -> list[Posting]:
        """The postings of a stored transaction, in the order they were written."""
        rows = self.session.execute(
            select(
                AccountRow.kind, AccountRow.pooling_area, AccountRow.person_id, PostingRow.amount
            )
            .join(AccountRow, AccountRow.id == PostingRow.account_id)
            .where(PostingRow.transaction_id == transaction_id)
            .order_by(PostingRow.id)
        ).all()
        return [
            Posting(AccountRef(AccountKind(kind), pooling_area=area, person_id=person), int(amount))
            for kind, area, person, amount in rows
        ]

    def check_pending(self) -> None:
        """Before commit: every transaction posted in this unit of work sums to zero."""
        if not self._pending:
            return
        ids = list(self._pending)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            # one query: the sum of each transaction's postings (a missing row: no postings)
            sums = self.session.execute(
                select(PostingRow.transaction_id, func.sum(PostingRow.amount))
                .where(PostingRow.transaction_id.in_(chunk))
                .group_by(PostingRow.transaction_id)
                .order_by(PostingRow.transaction_id)
            ).all()
            bad = next(((t, total) for t, total in sums if total != 0), None)
            if bad is not None:
                raise UnbalancedTransaction(f"#{bad[0]}", int(bad[1]))
            if len(sums) != len(set(chunk)):
                raise UnbalancedTransaction("(without postings)", 0)

    def committed(self) -> None:
        self._pending.clear()
        self._moves.clear()

    def remember_committed(self) -> None:
        """After a commit: the accounts opened in it exist for every later unit."""
        self._known.update(self._ids)

    # reconciliation

    def unbalanced_transactions(self) -> list[tuple[int, int, int]]:
        """(transaction id, sum of postings, number of postings) where wrong."""
        rows = self.session.execute(
            select(
                LedgerTransactionRow.id,
                func.coalesce(func.sum(PostingRow.amount), 0),
                func.count(PostingRow.id),
            )
            .outerjoin(PostingRow, PostingRow.transaction_id == LedgerTransactionRow.id)
            .group_by(LedgerTransactionRow.id)
            .having(
                or_(
                    func.coalesce(func.sum(PostingRow.amount), 0) != 0,
                    func.count(PostingRow.id) < 2,
                )
            )
            .order_by(LedgerTransactionRow.id)
        ).all()
        return [(int(a), int(b), int(c)) for a, b, c in rows]

    def balance_mismatches(self) -> list[BalanceMismatch]:
        self.apply_moves()
        summed = (
            select(PostingRow.account_id, func.sum(PostingRow.amount).label("total"))
            .group_by(PostingRow.account_id)
            .subquery()
        )
        total = func.coalesce(summed.c.total, 0)
        rows = self.session.execute(
            select(AccountRow.code, AccountRow.balance, total)
            .outerjoin(summed, summed.c.account_id == AccountRow.id)
            .where(AccountRow.balance != total)
            .order_by(AccountRow.code)
        ).all()
        return [BalanceMismatch(code, int(stored), int(t)) for code, stored, t in rows]

    def totals(self) -> tuple[int, int, int, int]:
        """(transactions, postings, sum of all postings, sum of all stored balances)."""
        self.apply_moves()
        n_txn = self.session.scalar(select(func.count()).select_from(LedgerTransactionRow))
        n_post, post_sum = self.session.execute(
            select(func.count(), func.coalesce(func.sum(PostingRow.amount), 0))
        ).one()
        bal = self.session.scalar(select(func.coalesce(func.sum(AccountRow.balance), 0)))
        return int(n_txn or 0), int(n_post), int(post_sum), int(bal or 0)


# ---------------------------------------------------------------------------- contributions


def _contribution(row: ContributionRow) -> ContributionRecord:
    return ContributionRecord(
        person_id=row.person_id,
        enrolment_id=row.enrolment_id,
        kind=ContributionKind(row.kind),
        period_start=row.period_start,
        period_end=row.period_end,
        paid_on=row.paid_on,
        transaction_id=row.transaction_id,
        base=row.base,
        employer_part=row.employer_part,
        employee_part=row.employee_part,
        individual=row.individual,
        fiscal_subsidy=row.fiscal_subsidy,
        assistance_paid=row.assistance_paid,
        account_credit=row.account_credit,
        mutual_aid_link_id=row.mutual_aid_link_id,
        id=row.id,
    )


class ContributionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, record: ContributionRecord) -> ContributionRecord:
        row = ContributionRow(
            person_id=record.person_id,
            enrolment_id=record.enrolment_id,
            kind=record.kind.value,
            period_start=record.period_start,
            period_end=record.period_end,
            base=record.base,
            employer_part=record.employer_part,
            employee_part=record.employee_part,
            individual=record.individual,
            fiscal_subsidy=record.fiscal_subsidy,
            assistance_paid=record.assistance_paid,
            account_credit=record.account_credit,
            paid_on=record.paid_on,
            mutual_aid_link_id=record.mutual_aid_link_id,
            transaction_id=record.transaction_id,
        )
        self.session.add(row)
        self.session.flush()
        return _contribution(row)

    def find(
        self, person_id: int, kind: ContributionKind, period_start: dt.date
    ) -> ContributionRecord | None:
        row = self.session.scalars(
            select(ContributionRow).where(
                ContributionRow.person_id == person_id,
                ContributionRow.kind == kind.value,
                ContributionRow.period_start == period_start,
            )
        ).one_or_none()
        return _contribution(row) if row is not None else None

    def for_person(self, person_id: int) -> list[ContributionRecord]:
        rows = self.session.scalars(
            select(ContributionRow)
            .where(ContributionRow.person_id == person_id)
            .order_by(ContributionRow.period_start, ContributionRow.id)
        )
        return [_contribution(r) for r in rows]

    def count_by_kind(self, enrolment_id: int, kinds: Iterable[ContributionKind]) -> int:
        values: Sequence[str] = [k.value for k in kinds]
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(ContributionRow)
                .where(
                    ContributionRow.enrolment_id == enrolment_id, ContributionRow.kind.in_(values)
                )
            )
            or 0
        )
