"""The bulk writes and reads of a settlement batch, on SQLite and PostgreSQL: ``insert_rows``
(COPY on PostgreSQL, executemany elsewhere) stores what an INSERT would, and a refused row fails
the statement with SQLAlchemy's error; nonces are taken in one step, a used nonce or signature
refused; a bulk read matches its keys whole (a longer key is not cut to the column's length); a
batch's callers are read in one statement as the separate reads answer them, and new ids come
with the ids of the existing accounts asked."""

from __future__ import annotations

import datetime as dt
from typing import cast

import pytest
from sqlalchemy import Engine, Table, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.ledger import AccountKind, AccountRef
from yibao.services import registry
from yibao.store.api_models import AuditRow, InstitutionKeyRow, InstitutionRow, TxResponseRow
from yibao.store.repositories import ApiRepository
from yibao.store.repositories.api import Callers
from yibao.store.sql import insert_rows, insert_tuples
from yibao.store.uow import UnitOfWork

AT = dt.datetime(2025, 5, 1, 10, 0, 0, 123456)


def _answers(n: int, first: int = 0) -> list[dict[str, object]]:
    return [
        {
            "caller": "inst:H1",
            "msgid": f"m{first + i}",
            "infno": "2207",
            "request_sha256": "a" * 64,
            "infcode": i % 2,
            "response": None if i == 1 else f'{{"n": {i}, "text": "医保\\t\\\\ \\"q\\""}}',
        }
        for i in range(n)
    ]


def test_insert_rows_stores_what_an_insert_would(engine: Engine) -> None:
    table = cast(Table, TxResponseRow.__table__)
    audit = cast(Table, AuditRow.__table__)
    with Session(engine) as session:
        insert_rows(session, table, _answers(3))
        insert_rows(
            session,
            audit,
            [
                {
                    "at": AT,
                    "actor": "inst:H1",
                    "role": "institution",
                    "action": "tx:2207",
                    "person_id": None,
                    "target": "tab\there, new\nline",
                    "msgid": "m0",
                    "outcome": "ok",
                    "detail": None,
                }
            ],
        )
        insert_rows(session, table, [])  # nothing to do
        session.commit()
    with Session(engine) as session:
        rows = session.scalars(select(TxResponseRow).order_by(TxResponseRow.msgid)).all()
        assert [(r.msgid, r.infcode, r.response) for r in rows] == [
            (a["msgid"], a["infcode"], a["response"]) for a in _answers(3)
        ]
        assert all(r.created_at for r in rows)  # the server's default
        entry = session.scalars(select(AuditRow)).one()
        assert entry.id  # the server's sequence
        assert (entry.at, entry.target, entry.person_id) == (AT, "tab\there, new\nline", None)


_NAMES = ("caller", "msgid", "infno", "request_sha256", "infcode", "response")
#: a tx_responses row in COPY's text format (``insert_tuples``' ``text``)
_TEXT = "%s\t%s\t%s\t%s\t%d\t%s\n"


@pytest.mark.parametrize(
    "response",
    ['{"n": 1}', '{"text": "医保\\t"}', "tab\there", "new\nline", "cr\rhere", "back\\slash"],
)
def test_rows_as_copy_text_store_what_rows_do(engine: Engine, response: str) -> None:
    """Rows written as COPY text (``insert_tuples``' ``text``) store what they would as rows;
    a value that would need COPY's escaping sends them as rows instead."""
    table = cast(Table, TxResponseRow.__table__)
    rows = [("inst:H1", f"m{i}", "2204", "a" * 64, i, f"{response} {i}") for i in range(3)]
    with Session(engine) as session:
        insert_tuples(session, table, _NAMES, rows, _TEXT)
        session.commit()
    with Session(engine) as session:
        found = session.execute(select(*(table.c[n] for n in _NAMES)).order_by(table.c.msgid))
        assert [tuple(r) for r in found] == rows


def test_a_refused_row_fails_the_statement_and_writes_nothing(engine: Engine) -> None:
    table = cast(Table, TxResponseRow.__table__)
    with Session(engine) as session:
        insert_rows(session, table, _answers(2))
        session.commit()
    with Session(engine) as session, pytest.raises(IntegrityError):
        insert_rows(session, table, _answers(3, first=5) + _answers(1))  # m0 is taken
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(table)) == 2


def test_nonces_are_taken_once_by_nonce_and_by_signature(engine: Engine) -> None:
    with Session(engine) as session:
        repo = ApiRepository(session)
        assert repo.take_nonces([("inst:H1", "n1", "s1"), ("inst:H1", "n2", "s2")], AT) == set()
        session.commit()
    with Session(engine) as session:
        repo = ApiRepository(session)
        used = repo.take_nonces(
            [
                ("inst:H1", "n1", "s9"),  # the nonce again
                ("inst:H1", "n3", "s2"),  # the signature again
                ("inst:H2", "n1", "s3"),  # another caller's nonce n1 is new
                ("inst:H1", "n4", "s4"),
            ],
            AT,
        )
        assert used == {("inst:H1", "n1"), ("inst:H1", "n3")}
        session.commit()
    with Session(engine) as session:
        assert ApiRepository(session).take_nonces([("inst:H1", "n4", "s5")], AT) == {
            ("inst:H1", "n4")
        }


def test_a_bulk_read_matches_whole_keys(uow: UnitOfWork) -> None:
    who = registry.add_person(uow, nid(7), "张三").national_id.number
    with uow:
        assert list(uow.persons.find_many([who, who[:-1]])) == [who]
        # national_id is 18 characters: a 19-character key is not cut back to 18 to match it
        assert uow.persons.find_many([who + "1"]) == {}


def test_a_batch_s_callers_are_read_as_their_keys_and_levels_are(engine: Engine) -> None:
    """``callers`` (one read) of the batch's (code, key) pairs: a revoked
    key, a key of another institution, an inactive institution's key and an unregistered code
    are not active; the inactive institution still has its level and kind, the unregistered
    code none."""
    with Session(engine) as session:
        repo = ApiRepository(session)
        for code, level, kind in (
            ("H1", 2, "hospital"),
            ("H2", 1, "pharmacy"),
            ("H3", 9, "hospital"),
        ):
            iid = repo.add_institution(code, code, level, kind=kind)
            repo.add_key(iid, f"k{code}")
            repo.add_key(iid, f"k{code}b")
        session.execute(
            update(InstitutionKeyRow).where(InstitutionKeyRow.key_id == "kH1b").values(active=False)
        )
        session.execute(
            update(InstitutionRow).where(InstitutionRow.code == "H3").values(active=False)
        )
        pairs = [
            ("H1", "kH1"),
            ("H1", "kH1b"),
            ("H1", "kH2"),
            ("H2", "kH2b"),
            ("H3", "kH3"),
            ("H9", "kH1"),
        ]
        callers = repo.callers(pairs)
        assert callers.active == {("H1", "kH1"), ("H2", "kH2b")}
        assert callers.levels == {"H1": 2, "H2": 1, "H3": None}
        assert callers.kinds == {"H1": "hospital", "H2": "pharmacy", "H3": "hospital", "H9": None}
        assert repo.callers([]) == Callers(set(), {}, {})


def test_new_ids_come_with_the_existing_accounts_ids(uow: UnitOfWork) -> None:
    """``reserve_ids`` reads the ids of the existing accounts asked in the same statement (on
    PostgreSQL, for more than one row); an account not opened yet is not among them."""
    pool, opened = AccountRef.fund(AccountKind.EMPLOYEE_POOLING, "360100"), {}
    with uow:
        opened[pool.code] = uow.ledger.account_id(pool)
        uow.commit()
    missing = AccountRef.fund(AccountKind.EMPLOYEE_POOLING, "360200").code
    with uow:
        reserved = uow.settlements.reserve_ids(2, 2, 2, [pool.code, missing])
        if uow.dialect != "postgresql":
            assert reserved is None
            return
        assert reserved is not None
        assert reserved.accounts == opened
        assert len(set(reserved.visits)) == len(reserved.transactions) == 2
        assert uow.settlements.reserve_ids(2, 2, 2).accounts == {}  # type: ignore[union-attr]
        assert uow.settlements.reserve_ids(1, 1, 1, [pool.code]) is None
