"""The settlement repository: visits, settlements with their layers, year-to-date state."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, cast

import orjson
from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from yibao.domain.errors import AlreadyExists
from yibao.domain.settlement import (
    Layer,
    SettlementStatus,
    Visit,
    VisitStatus,
)
from yibao.store.models import (
    AccountRow,
    BenefitStateRow,
    LedgerTransactionRow,
    SettlementLayerRow,
    SettlementRow,
    VisitRow,
)
from yibao.store.repositories.settlement_records import (
    SettlementRecord,
    StoredSettlement,
    stored_of,
    visit_of,
    visit_values,
)
from yibao.store.sql import (
    BulkRead,
    any_of,
    dialect_insert,
    driver_of,
    gathering,
    insert_gathered,
    insert_returning_ids,
    reserve_ids,
)

# Statements built once: the ones the settlement runs for every request, executed with their
# parameters (no new statement object, cache key or ORM bulk-insert step per call).
_VISITS = cast(Table, VisitRow.__table__)
_SETTLEMENTS = cast(Table, SettlementRow.__table__)
_LAYERS = cast(Table, SettlementLayerRow.__table__)
_STATES = cast(Table, BenefitStateRow.__table__)
_TRANSACTIONS = cast(Table, LedgerTransactionRow.__table__)
_ACCOUNTS = cast(Table, AccountRow.__table__)
_SAVE_STATE = (
    update(_STATES)
    .where(_STATES.c.person_id == bindparam("p_person"), _STATES.c.year == bindparam("p_year"))
    .values(
        state=bindparam("p_state", type_=_STATES.c.state.type),
        settlements=_STATES.c.settlements + bindparam("p_count"),
        updated_at=func.now(),
    )
)
_LOCK_STATE: dict[str, Insert] = {}


def settled_of(rows: Iterable[Sequence[Any]]) -> dict[int, str]:
    """The rows of ``SETTLED_ON_VISITS``: {visit id: setl_id}."""
    return {int(v): str(s) for v, s in rows}


def stored_by_request(rows: Iterable[Any]) -> dict[str, StoredSettlement]:
    """The rows of ``BY_REQUESTS`` by request id."""
    return {r.request_id: stored_of(r) for r in rows}


class Reserved(NamedTuple):
    """``SettlementRepository.reserve_ids``: new ids of each table, in order, and {code: id}
    of the existing accounts asked for."""

    visits: list[int]
    transactions: list[int]
    settlements: list[int]
    accounts: dict[str, int]


# (run on the psycopg connection, its JSON states decoded as the engine decodes them)
_LOCK_STATES_PG = (
    "INSERT INTO benefit_states (person_id, year, state, settlements)"
    " SELECT k.p, k.y, CAST('{}' AS JSON), 0"
    " FROM unnest(CAST(%(p)s AS BIGINT[]), CAST(%(y)s AS INTEGER[])) AS k(p, y) ORDER BY k.p, k.y"
    " ON CONFLICT (person_id, year) DO UPDATE SET person_id = EXCLUDED.person_id"
    " RETURNING person_id, year, state::text"
)
#: ``save_states`` gathered into a ``Writes`` (``store.sql.gathered``, PostgreSQL)
_SAVE_STATES_PG = (
    "UPDATE benefit_states AS b SET state = s.state,"
    " settlements = b.settlements + s.settlements, updated_at = now()"
    " FROM json_populate_recordset(NULL::benefit_states, {rows}) AS s"
    " WHERE b.person_id = s.person_id AND b.year = s.year"
    # the rows found by their index (the planner takes the document for 100 rows: it would
    # scan the table to join them)
    " AND b.person_id = ANY(ARRAY(SELECT (e->>'person_id')::BIGINT"
    " FROM json_array_elements({rows}) AS e))"
)
_BY_REQUEST = select(SettlementRow).where(SettlementRow.request_id == bindparam("p_request"))
_VISITS_BY_ID = BulkRead(lambda in_: select(_VISITS).where(in_(_VISITS.c.mdtrt_id, "keys")))
_VISITS_LOCKED = BulkRead(
    lambda in_: (
        select(_VISITS)
        .where(in_(_VISITS.c.mdtrt_id, "keys"))
        .order_by(_VISITS.c.id)
        .with_for_update()
    )
)
# (these two are parts of a settlement round's read too: ``person_files``)
SETTLED_ON_VISITS = BulkRead(
    lambda in_: select(_SETTLEMENTS.c.visit_id, _SETTLEMENTS.c.setl_id).where(
        in_(_SETTLEMENTS.c.visit_id, "keys"),
        _SETTLEMENTS.c.status == SettlementStatus.SETTLED.value,
    )
)
BY_REQUESTS = BulkRead(
    lambda in_: select(_SETTLEMENTS).where(in_(_SETTLEMENTS.c.request_id, "keys"))
)


def _lock_state_stmt(session: Session) -> Insert:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING state, once per dialect."""
    name = session.get_bind().dialect.name
    stmt = _LOCK_STATE.get(name)
    if stmt is None:
        ins = dialect_insert(session, _STATES)
        stmt = ins.on_conflict_do_update(
            index_elements=["person_id", "year"], set_={"person_id": ins.excluded.person_id}
        ).returning(_STATES.c.state)
        _LOCK_STATE[name] = stmt
    return stmt


class SettlementRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # visits

    def add_visit(self, visit: Visit) -> Visit:
        """Insert a visit (2201); a clash of ``mdtrt_id`` is refused."""
        row = VisitRow(
            mdtrt_id=visit.mdtrt_id,
            person_id=visit.person_id,
            fixmedins_code=visit.fixmedins_code,
            med_type=visit.med_type,
            level=visit.level,
            cross_region=visit.cross_region,
            begin_date=visit.begin_date,
            end_date=visit.end_date,
            status=visit.status.value,
            cancelled_on=visit.cancelled_on,
            discharge_way=visit.discharge_way,
        )
        try:
            with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError as exc:
            raise AlreadyExists("visit", visit.mdtrt_id) from exc
        return visit_of(row)

    def visit(self, mdtrt_id: str, lock: bool = False) -> Visit | None:
        stmt = select(VisitRow).where(VisitRow.mdtrt_id == mdtrt_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        return visit_of(row) if row is not None else None

    def visits(self, mdtrt_ids: Iterable[str], *, lock: bool = False) -> dict[str, Visit]:
        """{mdtrt_id: visit} of those found, in one query (``lock``: their rows locked until
        the transaction ends, in id order)."""
        wanted = set(mdtrt_ids)
        if not wanted:
            return {}
        read = _VISITS_LOCKED if lock else _VISITS_BY_ID
        return {r.mdtrt_id: visit_of(r) for r in read.rows(self.session, keys=sorted(wanted))}

    def reserve_ids(
        self,
        visits: int,
        transactions: int,
        settlements: int,
        accounts: Sequence[str] = (),
        *,
        at_least: int = 2,
    ) -> Reserved | None:
        """New ids for a batch's visits, ledger transactions and settlements, and the ids of
        the existing accounts among the codes ``accounts``, in one statement (PostgreSQL; None
        elsewhere, or when no table takes ``at_least`` rows: ``store.sql.reserve_ids``)."""
        found = reserve_ids(
            self.session,
            [(_VISITS, visits), (_TRANSACTIONS, transactions), (_SETTLEMENTS, settlements)],
            (_ACCOUNTS, "code", accounts),
            at_least,
        )
        if found is None:
            return None
        ids, account_ids = found
        return Reserved(ids[0], ids[1], ids[2], account_ids)

    def add_visits(self, visits: Sequence[Visit], ids: list[int] | None = None) -> list[Visit]:
        """Insert visits with freshly generated ids: one INSERT ... RETURNING (with ``ids``
        reserved, gathered if the session gathers its writes: ``store.sql.gathered``)."""
        if not visits:
            return []
        rows = [visit_values(v) for v in visits]
        into = gathering(self.session)
        if into is not None and ids is not None:
            into.insert(_VISITS, [{**r, "id": i} for r, i in zip(rows, ids, strict=True)])
        else:
            ids = insert_returning_ids(self.session, _VISITS, rows, ids)
        return [dataclasses.replace(v, id=i) for v, i in zip(visits, ids, strict=True)]

    def settled_on_visits(self, visit_ids: Iterable[int]) -> dict[int, str]:
        """{visit id: setl_id} of the visits among ``visit_ids`` with a settlement in force."""
        wanted = sorted(set(visit_ids))
        if not wanted:
            return {}
        return settled_of(SETTLED_ON_VISITS.rows(self.session, keys=wanted))

    def cancel_visit(self, visit_id: int, on: dt.date) -> None:
        self.session.execute(
            update(VisitRow)
            .where(VisitRow.id == visit_id)
            .values(status=VisitStatus.CANCELLED.value, cancelled_on=on)
        )

    def settled_on_visit(self, visit_id: int) -> str | None:
        """The setl_id of the visit's settlement in force, if any."""
        return self.session.scalar(
            select(SettlementRow.setl_id).where(
                SettlementRow.visit_id == visit_id,
                SettlementRow.status == SettlementStatus.SETTLED.value,
            )
        )

    # year-to-date state

    def lock_state(self, person_id: int, year: int) -> dict[str, int]:
        """The person's year-to-date state, the row created if missing and locked until the end
        of the transaction (one statement: INSERT ... ON CONFLICT DO UPDATE ... RETURNING)."""
        state = (
            self.session.connection()
            .execute(
                _lock_state_stmt(self.session),
                {"person_id": person_id, "year": year, "state": {}, "settlements": 0},
            )
            .scalar_one()
        )
        return {k: int(v) for k, v in state.items()}

    def lock_states(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], dict[str, int]]:
        """``lock_state`` for many (person id, year): rows created where missing, then read and
        locked in (person, year) order, so concurrent batches take their locks in one order."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        conn = self.session.connection()
        if conn.dialect.name == "postgresql":  # one statement: created or locked, in key order
            with driver_of(conn, _LOCK_STATES_PG) as driver, driver.cursor() as cursor:
                cursor.execute(
                    _LOCK_STATES_PG, {"p": [p for p, _ in wanted], "y": [y for _, y in wanted]}
                )
                found = cursor.fetchall()
            return {(p, y): {k: int(v) for k, v in orjson.loads(st).items()} for p, y, st in found}
        ins = dialect_insert(self.session, _STATES).on_conflict_do_nothing(
            index_elements=["person_id", "year"]
        )
        conn.execute(
            ins, [{"person_id": p, "year": y, "state": {}, "settlements": 0} for p, y in wanted]
        )
        stmt = (
            select(_STATES.c.person_id, _STATES.c.year, _STATES.c.state)
            .where(
                any_of(self.session, _STATES.c.person_id, {p for p, _ in wanted}),
                any_of(self.session, _STATES.c.year, {y for _, y in wanted}),
            )
            .order_by(_STATES.c.person_id, _STATES.c.year)
            .with_for_update()
        )
        keys = set(wanted)
        return {
            (p, y): {k: int(v) for k, v in st.items()}
            for p, y, st in conn.execute(stmt)
            if (p, y) in keys
        }

    def save_states(self, rows: Sequence[tuple[int, int, dict[str, int], int]]) -> None:
        """``save_state`` for many (person id, year, state, settlements added): one executemany
        (gathered if the session gathers its writes, each (person, year) at most once: one
        UPDATE of rows ``lock_states`` locked already)."""
        into = gathering(self.session)
        if into is not None and len({(p, y) for p, y, _, _ in rows}) == len(rows):
            into.statement(
                _SAVE_STATES_PG,
                [
                    {"person_id": p, "year": y, "state": st, "settlements": n}
                    for p, y, st, n in rows
                ],
            )
        elif rows:
            self.session.connection().execute(
                _SAVE_STATE,
                [{"p_person": p, "p_year": y, "p_state": st, "p_count": n} for p, y, st, n in rows],
            )

    def state(self, person_id: int, year: int) -> dict[str, int]:
        found = self.session.scalar(
            select(BenefitStateRow.state).where(
                BenefitStateRow.person_id == person_id, BenefitStateRow.year == year
            )
        )
        return {k: int(v) for k, v in (found or {}).items()}

    def save_state(self, person_id: int, year: int, state: dict[str, int], count: int) -> None:
        self.session.connection().execute(
            _SAVE_STATE,
            {"p_person": person_id, "p_year": year, "p_state": state, "p_count": count},
        )

    # settlements

    def by_request(self, request_id: str) -> StoredSettlement | None:
        row = self.session.scalars(_BY_REQUEST, {"p_request": request_id}).one_or_none()
        return stored_of(row) if row is not None else None

    def by_requests(self, request_ids: Iterable[str]) -> dict[str, StoredSettlement]:
        wanted = set(request_ids)
        if not wanted:
            return {}
        return stored_by_request(BY_REQUESTS.rows(self.session, keys=sorted(wanted)))

    def get(self, setl_id: str, lock: bool = False) -> StoredSettlement | None:
        stmt = select(SettlementRow).where(SettlementRow.setl_id == setl_id)
        if lock:
            stmt = stmt.with_for_update()
        row = self.session.scalars(stmt).one_or_none()
        return stored_of(row) if row is not None else None

    def add_many(
        self, records: Sequence[SettlementRecord], ids: list[int] | None = None
    ) -> list[int]:
        """Insert settlements with their layers: one INSERT ... RETURNING, one for the layers
        (with ``ids`` reserved, both gathered if the session gathers its writes)."""
        if not records:
            return []
        into = gathering(self.session)
        if into is not None and ids is not None:
            into.insert(
                _SETTLEMENTS,
                [{**r.values(), "id": i} for r, i in zip(records, ids, strict=True)],
            )
        else:
            ids = insert_returning_ids(
                self.session, _SETTLEMENTS, [r.values() for r in records], ids
            )
        layers = [
            {
                "settlement_id": new_id,
                "seq": i,
                "fund_pay_type": layer.fund_pay_type,
                "fund_name": layer.fund_name,
                "base": layer.base,
                "payment": layer.payment,
            }
            for new_id, r in zip(ids, records, strict=True)
            for i, layer in enumerate(r.settlement.layers)
        ]
        insert_gathered(self.session, _LAYERS, layers)
        return ids

    def layers(self, settlement_id: int) -> list[Layer]:
        rows = self.session.scalars(
            select(SettlementLayerRow)
            .where(SettlementLayerRow.settlement_id == settlement_id)
            .order_by(SettlementLayerRow.seq)
        )
        return [Layer(r.fund_pay_type, r.fund_name, r.base, r.payment) for r in rows]

    def mark_reversed(
        self,
        settlement_id: int,
        on: dt.date,
        request_id: str,
        transaction_id: int | None,
        response: dict[str, Any],
    ) -> None:
        self.session.execute(
            update(SettlementRow)
            .where(SettlementRow.id == settlement_id)
            .values(
                status=SettlementStatus.REVERSED.value,
                reversed_on=on,
                reversal_request_id=request_id,
                reversal_transaction_id=transaction_id,
                reversal_response=response,
            )
        )

    def count(self, status: SettlementStatus | None = None) -> int:
        stmt = select(func.count()).select_from(SettlementRow)
        if status is not None:
            stmt = stmt.where(SettlementRow.status == status.value)
        return int(self.session.scalar(stmt) or 0)
