"""Group commit for institutions' transactions: concurrent signed settlements (2207) are
settled together, in one database transaction and one kernel call; visits registered (2201),
fee lines uploaded or cancelled (2204, 2205) and discharges (2402) that arrive with them are
answered in the same transaction, each in a savepoint of its own.

A hospital's till waits on the network and the database far longer than on computation, and
every settlement moves the same fund accounts. So the service gathers the 2207s that arrive
while a batch is being settled and settles them as the next batch
(``services.settlement.settle_within``): one read per table for the batch, one kernel call, one
write per table, one COMMIT, the fund rows moved once. A lone request is a batch of one and
waits for nothing; under load a batch waits a few milliseconds at most for the requests it
expects (``Batcher``), so busy tills settle together.

Each request keeps the answer it would have got alone (``tx.run_tx``): key and nonce checked, a
stored answer returned for a repeated msgid, a refused request refused alone, and the nonce, the
answer and the audit entries committed in the same transaction as the work. In a batch the
registrations (2201: ``services.settlement.register_visits``) and uploads (2204:
``services.fees.upload_many``) are done together, with one read per table and one insert for
all, every check of a request made before anything is written, so a refused one writes nothing;
then each cancellation (2205) and discharge (2402) runs its own handler (``tx.HANDLERS``) in a
savepoint, rolled back if it is refused; then the settlements. If the batch transaction fails as
a whole (a msgid, nonce or request id taken concurrently by another process, a deadlock, an
error no answer translates), its requests are run again one by one, as lone requests.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Generic, TypeVar

import anyio.to_thread
import orjson
from sqlalchemy import Engine

from yibao.api.http import errors
from yibao.api.http.auth import (
    Principal,
    SignedRequest,
    admit_batch,
    admit_one,
    purge_nonces_now_and_then,
    refusal_entry,
)
from yibao.api.http.context import TxContext
from yibao.api.http.errors import STORABLE, ApiError, answer
from yibao.api.http.fee_json import upload_of
from yibao.api.http.handlers_fees import UPLOADED, change_json
from yibao.api.http.handlers_settlement import (
    claim_of,
    present,
    registered_json,
    registration_of,
    request_id,
)
from yibao.api.http.settings import Settings
from yibao.api.http.tx import (
    HANDLERS,
    TxRequest,
    dumps,
    in_progress,
    msgid_reused,
    refusal,
    refused,
    replay_entry,
    run_tx,
    success,
)
from yibao.domain.errors import NotFound, RecordError
from yibao.domain.settlement import Settlement
from yibao.policy import ParameterError
from yibao.services import clock, fees
from yibao.services import settlement as svc
from yibao.services.common import find_person
from yibao.services.fees.source import CatalogueSource, memoised
from yibao.services.settlement.common import people_and_histories
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.sql import gathered
from yibao.store.uow import UnitOfWork

log = logging.getLogger("yibao.api")

INFNO = "2207"
REGISTER = "2201"
UPLOAD = "2204"
#: The transactions answered by their handler in a savepoint of the batch's transaction.
IN_SAVEPOINT = frozenset({"2205", "2402"})
#: The transactions the batch takes: those, the registrations, uploads and settlements.
BATCHED = IN_SAVEPOINT | {REGISTER, UPLOAD, INFNO}
#: Lingers the queue must stay empty before a batch stops expecting the last one's callers.
PAUSE = 20
ACTION = f"tx:{INFNO}"
_WHAT = "POST /api/v1/tx"

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class SignedTx:
    """A transaction of ``BATCHED`` whose signature was verified; key and nonce are checked in
    the batch."""

    signed: SignedRequest
    envelope: TxRequest
    body: bytes
    sha256: str


#: A request's result: its answer body, or the error to answer with.
Result = dict[str, Any] | Exception


def settle_batch(engine: Engine, settings: Settings, items: list[SignedTx]) -> list[Result]:
    """Answer signed transactions of ``BATCHED`` together (blocking; runs in a worker
    thread)."""
    try:
        return _settle(engine, settings, items)
    except Exception:  # a race or a database error: each request again, alone
        log.warning("batch of %d settlements failed; settling one by one", len(items))
        return [_alone(engine, settings, item) for item in items]


def _settle(engine: Engine, settings: Settings, items: list[SignedTx]) -> list[Result]:
    """One database transaction for the batch: keys and nonces, the stored answers of repeated
    msgids, the other transactions each in a savepoint, the settlements, the answers and audit
    entries."""
    out: list[Result | None] = [None] * len(items)
    audits: list[AuditEntry] = []
    catalogues = memoised()  # the catalogue's stamp read once a batch, not once a request
    with UnitOfWork.for_engine(engine) as uow:
        repo = ApiRepository(uow.session)
        # the callers' keys, levels and kinds, the nonces, the stored answers: one statement
        opened = admit_batch(
            uow.session, settings, [i.signed for i in items], [i.envelope.msgid for i in items]
        )
        levels, kinds = opened.callers.levels, opened.callers.kinds
        refusals, stored = opened.refusals, opened.stored
        keys = [(i.signed.principal.actor, i.envelope.msgid) for i in items]
        requests: list[svc.ClaimRequest] = []
        settling: list[int] = []  # the item of each request
        registering: list[tuple[int, svc.Registration]] = []
        uploading: list[tuple[int, fees.Upload]] = []
        in_savepoints: list[int] = []
        today = clock.today()
        seen: set[tuple[str, str]] = set()
        for i, (item, key, refused_) in enumerate(zip(items, keys, refusals, strict=True)):
            principal, msgid = item.signed.principal, item.envelope.msgid
            if refused_ is not None:  # not authenticated: nothing stored, as for a lone request
                out[i] = refused_
                claimed = f"key {item.signed.key_id}"
                entry = refusal_entry(settings, principal.actor, refused_, _WHAT, claimed)
                audits.extend([entry] if entry is not None else [])
            elif key in stored:
                infno, text = stored[key]
                if infno != item.envelope.infno:  # another transaction's msgid
                    err = msgid_reused(msgid, infno, item.envelope.infno)
                    out[i] = err
                    audits.append(replay_entry(principal, _action(item), msgid, None, err))
                    continue
                first = None if text is None else _loads(text)
                out[i] = in_progress(msgid) if first is None else first
                audits.append(replay_entry(principal, _action(item), msgid, first))
            elif key in seen:  # the same msgid twice in the batch: the first one runs
                out[i] = in_progress(msgid)
                audits.append(replay_entry(principal, _action(item), msgid, None))
            elif item.envelope.infno == REGISTER:
                seen.add(key)
                try:
                    principal.require(_action(item))
                    reg = registration_of(
                        principal, item.envelope.input, partial(levels.get, item.signed.code), today
                    )
                except (ApiError, RecordError, ParameterError) as exc:
                    out[i] = _refused(principal, msgid, exc, audits, action=_action(item))
                    continue
                registering.append((i, reg))
            elif item.envelope.infno == UPLOAD:
                seen.add(key)
                try:
                    principal.require(_action(item))
                    upload = upload_of(item.envelope.input, principal.institution)
                except (ApiError, RecordError, ParameterError) as exc:
                    out[i] = _refused(principal, msgid, exc, audits, action=_action(item))
                    continue
                uploading.append((i, upload))
            elif item.envelope.infno != INFNO:
                seen.add(key)
                in_savepoints.append(i)
            else:
                seen.add(key)
                try:
                    principal.require(ACTION)
                    claim = claim_of(
                        item.envelope.input,
                        principal.institution,
                        partial(levels.get, item.signed.code),
                    )
                except (ApiError, RecordError, ParameterError) as exc:
                    out[i] = _refused(principal, msgid, exc, audits)
                    continue
                requests.append(
                    svc.ClaimRequest(claim, request_id(principal, msgid), principal.institution)
                )
                settling.append(i)
        _register(uow, items, registering, out, audits, kinds)
        _upload(uow, items, uploading, out, audits, catalogues)
        for i in in_savepoints:  # after the uploads: a cancellation sees the lines uploaded
            out[i] = _in_savepoint(uow, engine, settings, items[i], catalogues, audits)
        batch = svc.settle_within(uow, requests, kinds=kinds)
        for i, outcome, person_id in zip(settling, batch.outcomes, batch.person_ids, strict=True):
            principal, msgid = items[i].signed.principal, items[i].envelope.msgid
            if isinstance(outcome, Settlement):
                out[i] = success(principal, msgid, present(outcome.response, outcome.person_id))
                audits.append(
                    AuditEntry(
                        principal.actor,
                        principal.role.value,
                        ACTION,
                        person_id=outcome.person_id,
                        msgid=msgid,
                        detail="settlement",
                    )
                )
            else:
                out[i] = _refused(principal, msgid, outcome, audits, person_id)
        with gathered(uow.session):  # the answers and the audit entries: one statement
            repo.add_answers(
                [
                    (
                        k[0],
                        k[1],
                        item.envelope.infno,
                        item.sha256,
                        int(body["infcode"]),
                        dumps(body),
                    )
                    for item, k, body in zip(items, keys, out, strict=True)
                    if isinstance(body, dict) and k in seen and k not in stored
                ]
            )
            repo.audits(audits)
        uow.commit()
    purge_nonces_now_and_then(engine, settings, len(items))
    return [r if r is not None else ApiError(errors.INTERNAL, "no answer") for r in out]


def _action(item: SignedTx) -> str:
    return f"tx:{item.envelope.infno}"


def _in_savepoint(
    uow: UnitOfWork,
    engine: Engine,
    settings: Settings,
    item: SignedTx,
    catalogues: CatalogueSource,
    audits: list[AuditEntry],
) -> Result:
    """A 2201, 2204, 2205 or 2402 answered by its handler (as ``tx.run_tx`` does) in a
    savepoint of the batch's transaction: its work stays if it succeeds, is rolled back if it is
    refused; its audit entries are appended to ``audits``."""
    principal, envelope = item.signed.principal, item.envelope
    ctx = TxContext(
        engine=engine,
        settings=settings,
        principal=principal,
        msgid=envelope.msgid,
        infno=envelope.infno,
        request_sha256=item.sha256,
        catalogues=catalogues,
    ).joined(uow.session)
    savepoint = uow.session.begin_nested()
    try:
        principal.require(ctx.action)
        body = success(principal, ctx.msgid, HANDLERS[envelope.infno](ctx, envelope.input))
        uow.session.flush()
    except Exception as exc:
        savepoint.rollback()
        entries = ctx.audits or None
        return _refused(principal, ctx.msgid, exc, audits, action=ctx.action, entries=entries)
    savepoint.commit()
    audits.extend(ctx.audits)
    return body


def _register(
    uow: UnitOfWork,
    items: list[SignedTx],
    registering: list[tuple[int, svc.Registration]],
    out: list[Result | None],
    audits: list[AuditEntry],
    kinds: dict[str, str | None],
) -> None:
    """The batch's 2201s, as ``handlers_settlement.register_2201`` answers each: the persons
    found with their enrolments and the new visits' ids (one statement for all), then
    ``services.settlement.register_visits`` (one insert) with them and the institutions'
    ``kinds`` the batch read."""
    if not registering:
        return
    person_of, histories, visit_ids = people_and_histories(
        uow, [reg.who for _, reg in registering], new_visits=len(registering)
    )
    found: list[tuple[int, svc.Registration, list[AuditEntry]]] = []
    for i, reg in registering:
        principal, msgid = items[i].signed.principal, items[i].envelope.msgid
        person = person_of(reg.who)
        if person is None:
            try:
                find_person(uow, reg.who)  # the refusal of an unknown person, as alone
                raise NotFound("person", reg.who)
            except (RecordError, ParameterError) as exc:
                out[i] = _refused(principal, msgid, exc, audits, action=_action(items[i]))
                continue
        entry = AuditEntry(
            principal.actor,
            principal.role.value,
            _action(items[i]),
            person_id=person.id,
            msgid=msgid,
            detail="visit registered",
        )
        found.append((i, reg, [entry]))
    visits = svc.register_visits(
        uow,
        [reg for _, reg, _ in found],
        person_of=person_of,
        histories=histories,
        visit_ids=visit_ids,
        kinds=kinds,
    )
    for (i, reg, entries), visit in zip(found, visits, strict=True):
        principal, msgid = items[i].signed.principal, items[i].envelope.msgid
        if isinstance(visit, Exception):
            out[i] = _refused(principal, msgid, visit, audits, entries=entries)
        else:
            out[i] = success(principal, msgid, registered_json(visit, reg))
            audits.extend(entries)


def _upload(
    uow: UnitOfWork,
    items: list[SignedTx],
    uploading: list[tuple[int, fees.Upload]],
    out: list[Result | None],
    audits: list[AuditEntry],
    catalogues: CatalogueSource,
) -> None:
    """The batch's 2204s, as ``handlers_fees.upload_2204`` answers each: the visit found and
    the caller's (one locked read for all, which ``services.fees.upload_many`` takes), then
    ``upload_many`` (one insert of every upload's lines)."""
    if not uploading:
        return
    visits = uow.settlements.visits((upload.mdtrt_id for _, upload in uploading), lock=True)
    ready: list[tuple[int, fees.Upload, list[AuditEntry]]] = []
    for i, upload in uploading:
        principal, msgid, action = (
            items[i].signed.principal,
            items[i].envelope.msgid,
            _action(items[i]),
        )
        visit = visits.get(upload.mdtrt_id)
        if visit is None or visit.fixmedins_code != principal.institution:
            exc: Exception = (
                NotFound("visit", upload.mdtrt_id)
                if visit is None
                else ApiError(
                    errors.NOT_YOURS, f"visit {upload.mdtrt_id} belongs to another institution"
                )
            )
            out[i] = _refused(principal, msgid, exc, audits, action=action)
            continue
        entry = AuditEntry(
            principal.actor,
            principal.role.value,
            action,
            person_id=visit.person_id,
            target=f"visit:{upload.mdtrt_id}",
            msgid=msgid,
            detail=UPLOADED,
        )
        ready.append((i, upload, [entry]))
    changes = fees.upload_many(uow, [u for _, u, _ in ready], catalogues=catalogues, visits=visits)
    for (i, _, entries), change in zip(ready, changes, strict=True):
        principal, msgid = items[i].signed.principal, items[i].envelope.msgid
        if isinstance(change, Exception):
            out[i] = _refused(principal, msgid, change, audits, entries=entries)
        else:
            out[i] = success(principal, msgid, change_json(change))
            audits.extend(entries)


def _refused(
    principal: Principal,
    msgid: str,
    exc: Exception,
    audits: list[AuditEntry],
    person_id: int | None = None,
    *,
    action: str = ACTION,
    entries: list[AuditEntry] | None = None,
) -> Result:
    """The answer to a refused request (stored, unless its code is not one that is, as in
    ``tx.run_tx``), its audit entries (``entries``, else one of ``action``) appended to
    ``audits`` as refused."""
    err = refusal(principal, exc)
    if err is None:  # every error of the input and of the service is translated
        raise exc
    if entries is None:
        entries = [
            AuditEntry(
                principal.actor, principal.role.value, action, person_id=person_id, msgid=msgid
            )
        ]
    audits.extend(refused(entry, err) for entry in entries)
    return answer(err.infcode, msgid, err.message, None) if err.infcode in STORABLE else err


def _loads(text: str) -> dict[str, Any]:
    body: dict[str, Any] = orjson.loads(text)
    return body


def _alone(engine: Engine, settings: Settings, item: SignedTx) -> Result:
    """A request of a failed batch, answered as a lone request."""
    try:
        principal = admit_one(engine, settings, item.signed, _WHAT)
        return run_tx(engine, settings, principal, item.envelope, item.body)
    except Exception as exc:  # the request's own task raises it
        return exc


class Batcher(Generic[T, R]):
    """Runs ``work`` on batches of the items submitted while earlier batches ran: up to
    ``concurrent`` batches at once (each in a worker thread, so one batch's database round trips
    overlap another's computation); each ``submit`` gets its item's result.

    With ``linger`` (seconds), a batch waits that long at most for the items it expects: as many
    as the last batch answered (their callers are likely to send again at once) plus those
    queued. Without it, a batch takes only what is queued, and 2n busy callers settle in
    alternating batches of n, each paying a batch's fixed cost. A lone caller never waits: the
    last batch answered one, and it is back.

    ``in_thread=False`` runs ``work`` on the event loop itself (tests that drive the batcher on
    a virtual clock, where nothing may happen outside the loop)."""

    def __init__(
        self,
        work: Callable[[list[T]], list[R]],
        max_batch: int,
        concurrent: int = 1,
        linger: float = 0.0,
        *,
        in_thread: bool = True,
    ) -> None:
        self.work = work
        self.max_batch = max_batch
        self.concurrent = concurrent
        self.linger = linger
        self.in_thread = in_thread
        #: One lane per event loop: a server has one; tests may run several at once (a test
        #: client runs each request on a loop of its own, and tests send from several threads).
        self._lanes: dict[asyncio.AbstractEventLoop, _Lane[T, R]] = {}
        self._lanes_lock = threading.Lock()
        #: Items submitted, batches run and items answered so far (for tests and the curious).
        self.submitted = 0
        self.batches = 0
        self.items = 0

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        lane = self._lane(loop)
        future: asyncio.Future[R] = loop.create_future()
        self.submitted += 1
        lane.queue.put_nowait((item, future))
        lane.arrived.set()
        return await future

    def _lane(self, loop: asyncio.AbstractEventLoop) -> _Lane[T, R]:
        with self._lanes_lock:
            lane = self._lanes.get(loop)
            if lane is None:
                for closed in [old for old in self._lanes if old.is_closed()]:
                    del self._lanes[closed]
                lane = self._lanes[loop] = _Lane()
                lane.tasks = [loop.create_task(self._run(lane)) for _ in range(self.concurrent)]
            return lane

    async def _run(self, lane: _Lane[T, R]) -> None:
        answered = 0
        while True:
            async with lane.forming:
                batch = await self._form(lane, answered)
            self.batches += 1
            self.items += len(batch)
            answered = len(batch)
            try:
                items = [item for item, _ in batch]
                if self.in_thread:
                    results = await anyio.to_thread.run_sync(self.work, items)
                else:
                    results = self.work(items)
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for {len(batch)} requests")
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
            except Exception as exc:  # every request of the batch gets the error; go on
                log.exception("settlement batch failed")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)

    async def _form(self, lane: _Lane[T, R], answered: int) -> list[tuple[T, asyncio.Future[R]]]:
        """The next batch: what is queued, after waiting (``linger`` at most) for the callers
        the last batch answered, unless the queue stayed empty for ``PAUSE`` lingers (under
        load their first one may take longer than a linger to come back)."""
        queue = lane.queue
        loop = asyncio.get_running_loop()
        expected = min(self.max_batch, answered + queue.qsize())
        idle_from = loop.time()
        batch = [await queue.get()]
        if loop.time() - idle_from > PAUSE * self.linger:  # a lull, not a busy till: start over
            expected = 1
        if self.linger > 0 and queue.qsize() + 1 < expected:
            await self._gather(lane, expected - 1)
        while len(batch) < self.max_batch and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def _gather(self, lane: _Lane[T, R], wanted: int) -> None:
        """Wait until ``wanted`` items are queued, for ``linger`` seconds at most."""
        deadline = asyncio.get_running_loop().time() + self.linger
        while lane.queue.qsize() < wanted:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            lane.arrived.clear()
            try:
                await asyncio.wait_for(lane.arrived.wait(), left)
            except TimeoutError:
                return


@dataclass
class _Lane(Generic[T, R]):
    """A batcher's queue, its signal and its workers on one event loop."""

    queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = field(default_factory=asyncio.Queue)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    forming: asyncio.Lock = field(default_factory=asyncio.Lock)  # one batch formed at a time
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
