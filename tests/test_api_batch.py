"""Group commit of settlements over real HTTP (``yibao.api.serving.batch``), on SQLite and
PostgreSQL: concurrent signed 2207s are settled in batches, and each request gets the answer it
would have got alone: retried msgids settle once, a replayed request is refused, a refused claim
refuses only itself, one person's parallel claims never overspend a cap, and when a whole batch
fails its requests are answered one by one.

How requests fall into batches must not depend on the machine's speed: ``_hold_first_batch``
holds the first batch until every request has reached the batcher, so the rest queue behind it
and are settled together."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403  (fixtures: api, db_url, engine, uow)
from tests.api_support import TX, Api, Inst
from tests.server_support import serve
from tests.test_api_settlement import employee
from tests.test_store_settlement import resident
from yibao.api.serving.batch import Batcher
from yibao.policy import yuan_to_fen
from yibao.services import ledger, settlement
from yibao.store.api_models import AuditRow
from yibao.store.models import SettlementRow
from yibao.store.uow import UnitOfWork


def _request(
    api: Api, inst: Inst, data: dict[str, Any], msgid: str
) -> tuple[bytes, dict[str, str]]:
    body = api.envelope(inst.code, "2207", data, msgid)
    return body, api.signed(inst, TX, body)


async def _send_all(url: str, requests: list[tuple[bytes, dict[str, str]]]) -> list[dict[str, Any]]:
    """Send every request at once; the answers in request order."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
            r = await client.post(TX, content=body, headers=headers)
            out: dict[str, Any] = r.json()
            out["_status"] = r.status_code
            return out

        return list(await asyncio.gather(*(one(b, h) for b, h in requests)))


def _hold_first_batch(api: Api, monkeypatch: pytest.MonkeyPatch, until: int) -> Batcher[Any, Any]:
    """Hold the batcher's first batch until ``until`` requests were submitted (60 s at most)."""
    batcher: Batcher[Any, Any] = api.client.app.state.yibao.batcher  # type: ignore[attr-defined]
    work, held = batcher.work, []

    def first_held(items: list[Any]) -> list[Any]:
        if not held:
            held.append(len(items))
            deadline = time.monotonic() + 60
            while batcher.submitted < until and time.monotonic() < deadline:
                time.sleep(0.002)
        return work(items)

    monkeypatch.setattr(batcher, "work", first_held)
    return batcher


def _claim(who: str, total: str = "3000.00", on: str = "2025-05-01") -> dict[str, Any]:
    return {"certno": who, "date": on, "med_type": "inpatient", "total": total}


def test_concurrent_settlements_are_batched_and_answered_alone(
    api: Api, uow: UnitOfWork, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = [employee(uow, n) for n in range(1, 7)]
    inst = api.institution()
    requests = [
        _request(api, inst, _claim(people[k % 6], f"{1000 + 37 * k}.00"), f"m-{k}")
        for k in range(30)
    ]
    retry = _request(api, inst, _claim(people[0], "1000.00"), "m-0")  # m-0 again
    replay = requests[1]  # the very same signed request again: a replay
    unknown = _request(api, inst, _claim("110101199001011237"), "m-unknown")
    early = _request(api, inst, _claim(people[3], on="2023-06-01"), "m-early")  # not enrolled
    bad = _request(api, inst, {**_claim(people[2]), "total": "-5"}, "m-bad")
    batcher = _hold_first_batch(api, monkeypatch, 35)
    with serve(api.client.app) as url:
        answers = asyncio.run(_send_all(url, [*requests, retry, replay, unknown, bad, early]))
    main, (a_retry, a_replay, a_unknown, a_bad, a_early) = answers[2:30], answers[30:]
    assert all(a["infcode"] == 0 for a in main), [a for a in main if a["infcode"]]
    # request 1 and its replay: whichever came first settled, the other was refused
    twins = sorted((answers[1], a_replay), key=lambda a: a["infcode"])
    assert twins[0]["infcode"] == 0
    assert twins[1]["infcode"] == 2003 and twins[1]["_status"] == 401
    # m-0 and its retry: whichever came first settled, the other got its answer (or, racing
    # it, was asked to send again)
    pair = [answers[0], a_retry]
    first = [a for a in pair if a["infcode"] == 0]
    assert first and all(a["infcode"] in (0, 4001) for a in pair)
    assert len({a["output"]["setl_id"] for a in first}) == 1
    setl_ids = {a["output"]["setl_id"] for a in [*main, twins[0], first[0]]}
    assert len(setl_ids) == 30
    assert a_unknown["infcode"] == 3001
    assert a_bad["infcode"] == 1003 and "total" in a_bad["err_msg"]
    assert a_early["infcode"] == 3002 and "not enrolled" in a_early["err_msg"]
    assert batcher.items == 35
    assert batcher.batches < batcher.items  # the first batch held, the others settled together
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 30
        audited = s.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.action == "tx:2207")
        )
        # 30 settled, the unknown person, the bad total, the early claim, m-0 sent again
        assert audited == 34
        again = s.scalars(select(AuditRow).where(AuditRow.detail.like("msgid sent again%"))).one()
        assert (again.msgid, again.actor) == ("m-0", f"inst:{inst.code}")
        nonce = s.scalars(select(AuditRow).where(AuditRow.action == "auth:signature")).one()
        assert (nonce.actor, nonce.outcome) == (f"inst:{inst.code}", "refused")
        assert nonce.detail is not None and "[2003]" in nonce.detail
        early_entry = s.scalars(select(AuditRow).where(AuditRow.msgid == "m-early")).one()
        assert early_entry.outcome == "refused" and early_entry.person_id is not None
    assert ledger.reconcile(uow).ok
    # a retry after the storm: the stored answer
    final = api.tx(inst, "2207", _claim(people[0], "1000.00"), msgid="m-0")
    assert final["output"]["setl_id"] == first[0]["output"]["setl_id"]


def test_parallel_claims_of_one_person_never_overspend(api: Api, uow: UnitOfWork) -> None:
    who = resident(uow, 4)
    inst = api.institution()
    on = "2025-06-01"
    requests = [_request(api, inst, _claim(who, "90000.00", on), f"big-{k}") for k in range(8)]
    with serve(api.client.app) as url:
        answers = asyncio.run(_send_all(url, requests))
    assert all(a["infcode"] == 0 for a in answers), answers
    paid = sum(yuan_to_fen(a["output"]["hifp_pay"]) for a in answers)
    state = settlement.year_to_date(uow, who, 2025)
    assert paid == state["cap:basic.paid"]
    caps = api.tx(inst, "1101", {"certno": who, "date": on})["output"]["caps"]
    basic = next(c for c in caps if c["fund"] == "basic")
    assert basic["remaining"] == "0.00"  # eight claims of 90,000 spend the whole cap, no more
    assert paid == yuan_to_fen(basic["annual_cap"])
    assert ledger.reconcile(uow).ok


def test_a_failed_batch_is_answered_one_by_one(
    api: Api,
    uow: UnitOfWork,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = [employee(uow, n) for n in range(1, 4)]
    inst = api.institution()
    original = settlement.settle_within
    failed: list[int] = []

    def fail_when_batched(uow: UnitOfWork, requests: Any, **kw: Any) -> Any:
        if len(requests) > 1:  # a batch: its transaction fails as a whole
            failed.append(len(requests))
            raise RuntimeError("injected: the batch transaction failed")
        return original(uow, requests, **kw)

    monkeypatch.setattr(settlement, "settle_within", fail_when_batched)
    _hold_first_batch(api, monkeypatch, 12)
    requests = [
        _request(api, inst, _claim(people[k % 3], f"{2000 + k}.00"), f"f-{k}") for k in range(12)
    ]
    with caplog.at_level(logging.WARNING, logger="yibao.api"), serve(api.client.app) as url:
        answers = asyncio.run(_send_all(url, requests))
    assert failed, "no batch of more than one request was formed"
    assert any("settling one by one" in r.getMessage() for r in caplog.records)
    assert all(a["infcode"] == 0 for a in answers), answers
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SettlementRow)) == 12
        # the failed batches left nothing: each request's nonce, answer and audit entry once
        audited = select(func.count()).select_from(AuditRow).where(AuditRow.action == "tx:2207")
        assert s.scalar(audited) == 12
    assert ledger.reconcile(uow).ok
