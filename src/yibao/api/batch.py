"""Group commit for settlements (2207): concurrent signed settlements of institutions are
settled together, in one database transaction and one kernel call.

A hospital's till waits on the network and the database far longer than on computation, and
every settlement moves the same fund accounts. So the service gathers the 2207s that arrive
while a batch is being settled and settles them as the next batch
(``services.settlement.settle_many``): one read per table for the batch, one kernel call, one
write per table, one COMMIT, and the fund rows moved once. Nobody waits for a timer: a lone
request is a batch of one.

Each request keeps its own answer, exactly as if it had come alone (``tx.run_tx``): nonce and
key checked, a stored answer returned for a repeated msgid, a refused claim refused alone, and
the answer and the audit entries committed with the settlement. If the batch transaction fails
as a whole (a msgid or request id settled concurrently by another process, a deadlock), its
requests are run again one by one through ``tx.run_tx``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import anyio.to_thread
import orjson
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from yibao.api import errors
from yibao.api.auth import SignedRequest, admit
from yibao.api.errors import ApiError, answer
from yibao.api.handlers_settlement import claim_of, present, request_id
from yibao.api.repository import ApiRepository, AuditEntry
from yibao.api.settings import Settings
from yibao.api.tx import TxRequest, dumps, refusal, refused, run_tx, success
from yibao.domain.errors import RecordError
from yibao.domain.settlement import Settlement
from yibao.policy import ParameterError
from yibao.services import settlement as svc
from yibao.store.uow import UnitOfWork

log = logging.getLogger("yibao.api")

INFNO = "2207"
ACTION = f"tx:{INFNO}"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class SignedSettlement:
    """A 2207 whose signature was verified; key and nonce are checked in the batch."""

    signed: SignedRequest
    envelope: TxRequest
    body: bytes
    sha256: str


#: A request's result: its answer body, or the error to answer with.
Result = dict[str, Any] | Exception


def settle_batch(engine: Engine, settings: Settings, items: list[SignedSettlement]) -> list[Result]:
    """Answer signed 2207s together (blocking; runs in a worker thread)."""
    out = _admit(engine, settings, items)
    todo = [i for i, r in enumerate(out) if r is None]
    if todo:
        try:
            for i, body in zip(todo, _settle(engine, [items[i] for i in todo]), strict=True):
                out[i] = body
        except Exception:
            log.warning("batch of %d settlements failed; settling one by one", len(todo))
            for i in todo:
                out[i] = _alone(engine, settings, items[i])
    return [r if r is not None else ApiError(errors.INTERNAL, "no answer") for r in out]


def _admit(
    engine: Engine, settings: Settings, items: list[SignedSettlement]
) -> list[Result | None]:
    """Key and nonce checks (committed first, as a lone request's are), and the stored answers
    of repeated msgids. None where the request is to be settled."""
    out: list[Result | None] = []
    with Session(engine) as session:
        refusals = admit(session, settings, [i.signed for i in items])
        keys = [(i.signed.principal.actor, i.envelope.msgid) for i in items]
        stored = ApiRepository(session).stored_answers(
            [k for k, r in zip(keys, refusals, strict=True) if r is None]
        )
        session.commit()
    seen: set[tuple[str, str]] = set()
    for key, refused_ in zip(keys, refusals, strict=True):
        if refused_ is not None:
            out.append(refused_)
        elif key in stored or key in seen:
            text = stored.get(key)
            out.append(
                ApiError(
                    errors.IN_PROGRESS,
                    f"msgid {key[1]} is still being processed: send it again in a moment",
                )
                if text is None
                else _loads(text)
            )
        else:
            seen.add(key)
            out.append(None)
    return out


def _loads(text: str) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(text)
    return body


def _settle(engine: Engine, items: list[SignedSettlement]) -> list[dict[str, Any]]:
    """One transaction: the settlements, their answers and audit entries."""
    uow = UnitOfWork.for_engine(engine)
    levels: dict[str, int | None] = {}

    def level_of(code: str) -> Callable[[], int | None]:
        def level() -> int | None:
            if code not in levels:
                with Session(engine) as session:
                    row = ApiRepository(session).institution(code)
                levels[code] = row.level if row is not None and row.level in (1, 2, 3) else None
            return levels[code]

        return level

    bodies: list[dict[str, Any] | None] = [None] * len(items)
    audits: list[AuditEntry] = []
    requests: list[svc.ClaimRequest] = []
    settled: list[int] = []  # item index of each request
    for i, item in enumerate(items):
        principal, msgid = item.signed.principal, item.envelope.msgid
        entry = AuditEntry(principal.actor, principal.role.value, ACTION, msgid=msgid)
        try:
            principal.require(ACTION)
            claim = claim_of(item.envelope.input, principal.institution, level_of(item.signed.code))
        except (ApiError, RecordError, ParameterError) as exc:
            err = refusal(principal, exc)
            assert err is not None
            bodies[i] = answer(err.infcode, msgid, err.message, None)
            audits.append(refused(entry, err))
            continue
        requests.append(
            svc.ClaimRequest(claim, request_id(principal, msgid), principal.institution)
        )
        settled.append(i)

    def store(uow: UnitOfWork, outcomes: list[svc.Outcome]) -> None:
        for i, outcome in zip(settled, outcomes, strict=True):
            item = items[i]
            principal, msgid = item.signed.principal, item.envelope.msgid
            entry = AuditEntry(
                principal.actor, principal.role.value, ACTION, msgid=msgid, detail="settlement"
            )
            if isinstance(outcome, Settlement):
                bodies[i] = success(principal, msgid, present(outcome.response, outcome.person_id))
                audits.append(replace(entry, person_id=outcome.person_id))
            else:
                err = refusal(principal, outcome)
                assert err is not None  # the service's refusals are all translated
                bodies[i] = answer(err.infcode, msgid, err.message, None)
                audits.append(refused(entry, err))
        repo = ApiRepository(uow.session)
        repo.add_answers(
            [
                (
                    item.signed.principal.actor,
                    item.envelope.msgid,
                    INFNO,
                    item.sha256,
                    int(body["infcode"]),
                    dumps(body),
                )
                for item, body in zip(items, bodies, strict=True)
                if body is not None
            ]
        )
        repo.audits(audits)

    svc.settle_many(uow, requests, before_commit=store)
    done = [b for b in bodies if b is not None]
    assert len(done) == len(items)
    return done


def _alone(engine: Engine, settings: Settings, item: SignedSettlement) -> Result:
    """A request of a failed batch, answered as a lone request (already admitted)."""
    try:
        return run_tx(engine, settings, item.signed.principal, item.envelope, item.body)
    except Exception as exc:
        return exc


class Batcher(Generic[T, R]):
    """Runs ``work`` on batches of the items submitted while earlier batches ran: up to
    ``concurrent`` batches at once (each in a worker thread, so one batch's database round trips
    overlap another's computation); each ``submit`` gets its item's result."""

    def __init__(
        self, work: Callable[[list[T]], list[R]], max_batch: int, concurrent: int = 1
    ) -> None:
        self.work = work
        self.max_batch = max_batch
        self.concurrent = concurrent
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Batches run and items answered so far (for tests and the curious).
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._queue is None:  # a new event loop (tests): start over
            self._loop, self._queue = loop, asyncio.Queue()
            self._tasks = [loop.create_task(self._run(self._queue)) for _ in range(self.concurrent)]
        future: asyncio.Future[R] = loop.create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def _run(self, queue: asyncio.Queue[tuple[T, asyncio.Future[R]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            self.batches += 1
            self.items += len(batch)
            try:
                results = await anyio.to_thread.run_sync(self.work, [item for item, _ in batch])
            except Exception as exc:  # every waiting request gets the error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
