"""Dependencies, declared once: the service state, the raw body, the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from yibao.api.http import errors
from yibao.api.http.auth import Principal, authenticate
from yibao.api.http.errors import ApiError
from yibao.api.http.settings import Settings
from yibao.api.http.textcheck import check_body
from yibao.api.serving.batch import Batcher, Result, SignedTx


@dataclass(frozen=True)
class State:
    settings: Settings
    engine: Engine
    #: Gathers concurrent signed settlements into batches (``api.serving.batch``); None: each alone.
    batcher: Batcher[SignedTx, Result] | None = None


def get_state(request: Request) -> State:
    state: State = request.app.state.yibao
    return state


StateDep = Annotated[State, Depends(get_state)]


async def raw_body(request: Request, state: StateDep) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > state.settings.max_body_bytes:
        raise ApiError(errors.MALFORMED, "request body too large")
    body = await request.body()
    if len(body) > state.settings.max_body_bytes:
        raise ApiError(errors.MALFORMED, "request body too large")
    check_body(body)  # no lone surrogate, NUL or other control character in any string
    return body


RawBodyDep = Annotated[bytes, Depends(raw_body)]


def _path(request: Request) -> str:
    path = request.url.path
    return f"{path}?{request.url.query}" if request.url.query else path


async def principal(request: Request, state: StateDep, body: RawBodyDep) -> Principal:
    headers = {k.lower(): v for k, v in request.headers.items()}
    return await run_in_threadpool(
        authenticate, state.engine, state.settings, request.method, _path(request), headers, body
    )


PrincipalDep = Annotated[Principal, Depends(principal)]
