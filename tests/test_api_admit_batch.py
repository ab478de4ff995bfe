"""A batch's opening (``auth.admit_batch``), on SQLite and PostgreSQL: the callers, the
refusals and the stored answers are what ``ApiRepository.callers``, ``auth.admit`` and
``ApiRepository.stored_answers`` give (one statement on PostgreSQL, three elsewhere), the nonces
stored the same; a nonce taken by a concurrent batch is a replay once that batch commits; the
persons of a batch's 2201s are read with their enrolments and new visit ids in one query."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.api.http.auth import Admitted, SignedRequest, admit, admit_batch
from yibao.api.http.settings import Settings
from yibao.services import enrolment, registry
from yibao.store.api_models import InstitutionKeyRow, RequestNonceRow
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

SETTINGS = Settings(api_secret="s" * 32)  # type: ignore[arg-type]


def _prepare(engine: Engine) -> None:
    """H1 (keys k1, and k1b revoked), H2 (k2); a nonce of H1 used; two stored answers."""
    with Session(engine) as session:
        repo = ApiRepository(session)
        for code, level, keys in (("H1", 2, ("k1", "k1b")), ("H2", 3, ("k2",))):
            iid = repo.add_institution(code, code, level)
            for key in keys:
                repo.add_key(iid, key)
        session.execute(
            update(InstitutionKeyRow).where(InstitutionKeyRow.key_id == "k1b").values(active=False)
        )
        repo.take_nonces([("inst:H1", "used", "sig-used")], dt.datetime(2025, 5, 1))
        repo.add_answers(
            [
                ("inst:H1", "m-done", "2201", "a" * 64, 0, '{"infcode": 0}'),
                ("inst:H2", "m-done", "2207", "b" * 64, 0, '{"infcode": 0, "x": 2}'),
            ]
        )
        session.commit()


def _requests() -> list[tuple[SignedRequest, str]]:
    return [
        (SignedRequest("H1", "k1", "n1", "s1"), "m-1"),
        (SignedRequest("H1", "k1b", "n2", "s2"), "m-done"),  # a revoked key
        (SignedRequest("H1", "k1", "n2", "s3"), "m-done"),  # repeats only the revoked one
        (SignedRequest("H1", "k1", "n1", "s4"), "m-4"),  # n1 again
        (SignedRequest("H1", "k1", "n5", "s1"), "m-5"),  # s1 again
        (SignedRequest("H1", "k1", "used", "s6"), "m-done"),  # a nonce used before
        (SignedRequest("H2", "k2", "n1", "s7"), "m-done"),  # another caller's n1
        (SignedRequest("H2", "k1", "n8", "s8"), "m-8"),  # another institution's key
        (SignedRequest("H9", "k9", "n9", "s9"), "m-9"),  # not registered
    ]


def _opened(engine: Engine) -> tuple[Admitted, set[tuple[str, str]]]:
    requests = _requests()
    with Session(engine) as session:
        out = admit_batch(session, SETTINGS, [r for r, _ in requests], [m for _, m in requests])
        session.commit()
        nonces = {(n.caller, n.nonce) for n in session.scalars(select(RequestNonceRow))}
    return out, nonces


def test_a_batch_opens_as_its_three_reads_answer(engine: Engine) -> None:
    _prepare(engine)
    requests = _requests()
    with Session(engine) as session:  # the three reads, rolled back
        repo = ApiRepository(session)
        callers = repo.callers((r.code, r.key_id) for r, _ in requests)
        refusals = admit(session, SETTINGS, [r for r, _ in requests], callers.active)
        keys = [(r.principal.actor, m) for r, m in requests]
        stored = repo.stored_answers([k for k, e in zip(keys, refusals, strict=True) if e is None])
        session.rollback()
    opened, nonces = _opened(engine)
    assert opened.callers == callers
    assert [e and e.infcode for e in opened.refusals] == [e and e.infcode for e in refusals]
    assert [e is None for e in opened.refusals] == [
        True,
        False,  # the revoked key
        True,  # n2 of the revoked key does not make it a replay
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    assert opened.stored == stored
    assert stored == {
        ("inst:H1", "m-done"): ("2201", '{"infcode": 0}'),
        ("inst:H2", "m-done"): ("2207", '{"infcode": 0, "x": 2}'),
    }
    assert nonces == {("inst:H1", "used"), ("inst:H1", "n1"), ("inst:H1", "n2"), ("inst:H2", "n1")}


def test_a_nonce_taken_by_a_concurrent_batch_is_a_replay(engine: Engine) -> None:
    """The second batch's statement waits for the first's nonce (PostgreSQL) or meets the
    unique key at its insert (SQLite, one writer): either way it is not admitted twice."""
    _prepare(engine)
    request = SignedRequest("H1", "k1", "twice", "sig-a")
    again = SignedRequest("H1", "k1", "twice", "sig-b")
    results: list[object] = []
    with Session(engine) as first:
        assert admit_batch(first, SETTINGS, [request], ["m-a"]).refusals == [None]
        if engine.dialect.name == "postgresql":

            def second() -> None:
                with Session(engine) as session:
                    results.append(admit_batch(session, SETTINGS, [again], ["m-b"]).refusals)
                    session.commit()

            waiting = threading.Thread(target=second)
            waiting.start()
            waiting.join(0.5)
            assert waiting.is_alive()  # it waits for the first batch's nonce
            first.commit()
            waiting.join(30)
        else:
            first.commit()
            with Session(engine) as session:
                results.append(admit_batch(session, SETTINGS, [again], ["m-b"]).refusals)
    (refusals,) = results
    assert isinstance(refusals, list) and refusals[0] is not None and refusals[0].infcode == 2003


def test_a_batch_s_persons_come_with_their_enrolments_and_new_visit_ids(uow: UnitOfWork) -> None:
    people = [registry.add_person(uow, nid(n), f"人{n}") for n in range(1, 4)]
    for p in people[:2]:
        enrolment.enrol(uow, p.label, "resident", "360100", dt.date(2023, 10, 1))
    refs: list[str | int] = [nid(1), nid(3).lower(), nid(9)]
    ids = [p.id for p in people if p.id is not None]
    with uow:
        files = uow.persons.with_histories([r for r in refs if isinstance(r, str)], ids[:2])
        assert files.by_nid == uow.persons.find_many(r for r in refs if isinstance(r, str))
        assert files.by_id == uow.persons.get_many(ids[:2])  # person 1 by both keys
        assert files.histories == uow.enrolments.histories(ids)[0]
        assert files.visit_ids is None
        reserving = uow.persons.with_histories([nid(1)], [], new_visits=3)
        if uow.session.get_bind().dialect.name == "postgresql":
            assert reserving.visit_ids is not None and len(set(reserving.visit_ids)) == 3
            more = uow.settlements.reserve_ids(2, 0, 0)
            assert more is not None and min(more.visits) > max(reserving.visit_ids)
        else:
            assert reserving.visit_ids is None
        assert uow.persons.with_histories([nid(9)], [], new_visits=3).visit_ids is None
