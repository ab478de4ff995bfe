"""The ledger repository: fund and personal accounts, balanced transactions and their postings,
and the reconciliation queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

import orjson
from sqlalchemy import Table, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from yibao.domain.errors import AlreadyExists, NotFound, UnbalancedTransaction
from yibao.domain.funds import MonthKey, month_moves
from yibao.domain.ledger import Account, AccountKind, AccountRef, LedgerTransaction, Posting
from yibao.store.models import AccountRow, LedgerTransactionRow, PostingRow
from yibao.store.repositories.funds import add_month_totals, month_rows
from yibao.store.sql import (
    BulkRead,
    dialect_insert,
    driver_of,
    gathering,
    insert_gathered,
    insert_returning_ids,
)

_ACCOUNTS = cast(Table, AccountRow.__table__)
_TRANSACTIONS = cast(Table, LedgerTransactionRow.__table__)
_POSTINGS = cast(Table, PostingRow.__table__)
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
#: a balance moved by what a unit posted (``apply_moves``, at every COMMIT: built once)
_MOVE_BALANCE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("aid"))
    .values(balance=_ACCOUNTS.c.balance + bindparam("delta"))
)

#: ``apply_moves`` then ``apply_month_totals`` as one statement (PostgreSQL, on the psycopg
#: connection). The account rows are locked in id order (``FOR NO KEY UPDATE`` over the sort:
#: the rows are locked as they leave it) and only then moved (the update reads the locked rows).
#: The lock is the one an ``UPDATE`` of the balance takes: ``FOR UPDATE`` would also wait for
#: the ``KEY SHARE`` locks other units' postings take on the fund rows by their foreign key (and
#: they for its), a deadlock the executemany never had.
#: The month totals' upsert, in key order, reads the count of the moved rows first, so it
#: starts when every balance is moved (a writable CTE that nothing reads could run last, or
#: in any order: this one is read before the upsert's first row). Both JSON documents are
#: dumped by orjson. ``= ANY(ARRAY(...))``: the accounts found by their index (the planner
#: takes a JSON document for 100 rows and would scan the table to join them).
_MOVES_THEN_MONTHS_PG = (
    "WITH moves AS MATERIALIZED (SELECT m.aid, m.delta"
    " FROM json_to_recordset(%(moves)s::json) AS m(aid BIGINT, delta BIGINT)),"
    " locked AS MATERIALIZED (SELECT a.id, moves.delta FROM accounts AS a"
    " JOIN moves ON a.id = moves.aid WHERE a.id = ANY(ARRAY(SELECT aid FROM moves))"
    " ORDER BY a.id FOR NO KEY UPDATE OF a),"
    " moved AS (UPDATE accounts AS a SET balance = a.balance + locked.delta FROM locked"
    " WHERE a.id = locked.id RETURNING a.id)"
    " INSERT INTO fund_month_totals (fund, pooling_area, year, month, part, amount)"
    " SELECT k.fund, k.pooling_area, k.year, k.month, k.part, k.amount"
    " FROM json_populate_recordset(NULL::fund_month_totals, %(months)s::json)"
    " WITH ORDINALITY AS k(fund, pooling_area, year, month, part, amount, i)"
    " WHERE (SELECT count(*) FROM moved) IS NOT NULL ORDER BY k.i"
    " ON CONFLICT (fund, pooling_area, year, month, part)"
    " DO UPDATE SET amount = fund_month_totals.amount + EXCLUDED.amount"
)


def _account(row: AccountRow) -> Account:
    ref = AccountRef(
        AccountKind(row.kind),
        pooling_area=row.pooling_area,
        person_id=row.person_id,
        institution=row.institution,
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
        # and what they add to the funds' month totals (``domain.funds.month_moves``)
        self._months: dict[MonthKey, int] = {}
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
                dialect_insert(self.session, AccountRow)
                .values(
                    code=ref.code,
                    kind=ref.kind.value,
                    pooling_area=ref.pooling_area,
                    person_id=ref.person_id,
                    institution=ref.institution,
                    normal_side=ref.kind.normal_side,
                    balance=0,
                )
                .on_conflict_do_nothing(index_elements=["code"])
            )
            self.session.execute(stmt)
            found = self.session.scalar(select(AccountRow.id).where(AccountRow.code == ref.code))
        if found is None:  # refused without a conflict: not expected
            raise NotFound("account", ref.code)
        self._ids[ref] = found
        return found

    def unresolved(self, refs: Iterable[AccountRef]) -> dict[str, AccountRef]:
        """{code: account} of the accounts among ``refs`` whose ids are not known yet (read by
        the caller with a statement it sends anyway: ``resolved``)."""
        return {r.code: r for r in refs if r not in self._ids and r not in self._known}

    def resolved(self, ids: Mapping[AccountRef, int]) -> None:
        """The ids of existing accounts, read in this transaction (``unresolved``)."""
        self._ids.update(ids)

    def _resolve(self, refs: Iterable[AccountRef]) -> None:
        """Look up the ids of the accounts not known yet, in one query."""
        unknown = self.unresolved(refs)
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
        stmt = dialect_insert(self.session, LedgerTransactionRow).values(
            kind=txn.kind,
            occurred_on=txn.occurred_on,
            description=txn.description or None,
            reference=txn.reference,
            pooling_area=txn.area,
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
        self._count_months(txn)
        self._pending.append(txn_id)
        return txn_id

    def _count_months(self, txn: LedgerTransaction) -> None:
        legs = ((p.account.kind, p.account.pooling_area, p.amount) for p in txn.postings)
        for key, amount in month_moves(txn.kind, txn.occurred_on, legs, txn.area).items():
            self._months[key] = self._months.get(key, 0) + amount

    def post_many(
        self, txns: Sequence[LedgerTransaction], ids: list[int] | None = None
    ) -> list[int]:
        """``post`` for many transactions: one INSERT ... RETURNING for the transactions and
        one for all their postings (a reference already used fails the database transaction).
        With ``ids`` reserved, both gathered if the session gathers its writes
        (``store.sql.gathered``)."""
        if not txns:
            return []
        rows = [
            {
                "kind": t.kind,
                "occurred_on": t.occurred_on,
                "description": t.description or None,
                "reference": t.reference,
                "pooling_area": t.area,
            }
            for t in txns
        ]
        into = gathering(self.session)
        if into is not None and ids is not None:
            into.insert(_TRANSACTIONS, [{**r, "id": i} for r, i in zip(rows, ids, strict=True)])
        else:
            ids = insert_returning_ids(self.session, _TRANSACTIONS, rows, ids)
        self._resolve(p.account for t in txns for p in t.postings)
        postings = []
        for txn_id, t in zip(ids, txns, strict=True):
            for p in t.postings:
                account_id = self.account_id(p.account)
                postings.append(
                    {"transaction_id": txn_id, "account_id": account_id, "amount": p.amount}
                )
                self._moves[account_id] = self._moves.get(account_id, 0) + p.amount
            self._count_months(t)
        insert_gathered(self.session, _POSTINGS, postings)
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
            self.session.connection().execute(_MOVE_BALANCE, rows)

    def apply_month_totals(self) -> None:
        """Add what was posted in this unit to the funds' month totals, rows in key order.
        Only at COMMIT, after every balance (``UnitOfWork.commit``): the busy total rows are
        always the last locks a unit takes, so no two units wait on each other in a cycle."""
        months, self._months = self._months, {}
        add_month_totals(self.session, months)

    def apply_moves_and_months(self) -> None:
        """``apply_moves``, then ``apply_month_totals`` (at COMMIT, in that order: the busy
        fund rows, then the busy total rows, each in one order); on PostgreSQL one statement
        that keeps that order (``_MOVES_THEN_MONTHS_PG``)."""
        conn = self.session.connection()
        if conn.dialect.name != "postgresql":
            self.apply_moves()
            self.apply_month_totals()
            return
        moves = [{"aid": a, "delta": d} for a, d in sorted(self._moves.items()) if d]
        months = month_rows(self._months)
        self._moves.clear()
        self._months = {}
        if not moves and not months:
            return
        sql = _MOVES_THEN_MONTHS_PG
        params = {"moves": orjson.dumps(moves).decode(), "months": orjson.dumps(months).decode()}
        with driver_of(conn, sql) as driver, driver.cursor() as cursor:
            cursor.execute(sql, params)

    def postings_of(self, transaction_id: int) -> list[Posting]:
        """The postings of a stored transaction, in the order they were written."""
        rows = self.session.execute(
            select(
                AccountRow.kind,
                AccountRow.pooling_area,
                AccountRow.person_id,
                AccountRow.institution,
                PostingRow.amount,
            )
            .join(AccountRow, AccountRow.id == PostingRow.account_id)
            .where(PostingRow.transaction_id == transaction_id)
            .order_by(PostingRow.id)
        ).all()
        return [
            Posting(AccountRef(AccountKind(kind), area, person, institution), int(amount))
            for kind, area, person, institution, amount in rows
        ]

    def area_of(self, transaction_id: int) -> str | None:
        """The pooling area a stored transaction names (``LedgerTransaction.area``)."""
        found = self.session.execute(
            select(LedgerTransactionRow.pooling_area).where(
                LedgerTransactionRow.id == transaction_id
            )
        ).scalar_one_or_none()
        return None if found is None else str(found)

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
        self._months.clear()

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

    # fund figures (the provincial adjustment, ``services.adjustment``)

    def fund_accounts(self, kinds: Iterable[AccountKind]) -> list[Account]:
        """The fund accounts of these kinds (never the personal accounts), by code."""
        self.apply_moves()
        stmt = (
            select(AccountRow)
            .where(AccountRow.kind.in_([k.value for k in kinds]))
            .order_by(AccountRow.code)
        )
        return [_account(r) for r in self.session.scalars(stmt)]

    def flows(
        self, codes: Sequence[str], first: dt.date, last: dt.date
    ) -> list[tuple[str, str, int, int]]:
        """(account code, transaction kind, debits, credits) of the postings on the accounts
        ``codes`` in transactions dated ``first`` to ``last``; both sums are positive fen."""
        if not codes:
            return []
        debits = func.coalesce(func.sum(case((PostingRow.amount > 0, PostingRow.amount))), 0)
        credits = func.coalesce(func.sum(case((PostingRow.amount < 0, -PostingRow.amount))), 0)
        rows = self.session.execute(
            select(AccountRow.code, LedgerTransactionRow.kind, debits, credits)
            .join(PostingRow, PostingRow.account_id == AccountRow.id)
            .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
            .where(
                AccountRow.code.in_(list(codes)),
                LedgerTransactionRow.occurred_on.between(first, last),
            )
            .group_by(AccountRow.code, LedgerTransactionRow.kind)
            .order_by(AccountRow.code, LedgerTransactionRow.kind)
        ).all()
        return [(code, kind, int(d), int(c)) for code, kind, d, c in rows]

    def balances_on(self, codes: Sequence[str], last: dt.date) -> dict[str, int]:
        """The signed balance of each account of ``codes`` from its postings dated up to
        ``last`` (an account without such postings: 0)."""
        out = dict.fromkeys(codes, 0)
        if not codes:
            return out
        rows = self.session.execute(
            select(AccountRow.code, func.sum(PostingRow.amount))
            .join(PostingRow, PostingRow.account_id == AccountRow.id)
            .join(LedgerTransactionRow, LedgerTransactionRow.id == PostingRow.transaction_id)
            .where(AccountRow.code.in_(list(codes)), LedgerTransactionRow.occurred_on <= last)
            .group_by(AccountRow.code)
        ).all()
        out.update({code: int(total) for code, total in rows})
        return out

    def transaction_id(self, reference: str) -> int | None:
        """The id of the transaction with this reference, if there is one."""
        found = self.session.scalar(
            select(LedgerTransactionRow.id).where(LedgerTransactionRow.reference == reference)
        )
        return None if found is None else int(found)
