"""The FastAPI application: ``create_app(settings)``.

Routes are thin: they authenticate (``deps.PrincipalDep``), check the role, call a service and
present the result. Every error becomes the answer envelope ``{infcode, inf_refmsgid, err_msg,
output}`` with a message a clerk can act on; no request gets a stack trace.
"""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.api.fhir.routes import router as fhir_router
from yibao.api.fsi.route import router as fsi_router
from yibao.api.http import errors
from yibao.api.http import handlers_fees as _handlers_fees  # registers 2204/2205/2402/2405/5204
from yibao.api.http import handlers_files as _handlers_files  # registers 9101, 9102, 3202
from yibao.api.http import handlers_person as _handlers_person  # registers 1101
from yibao.api.http import handlers_settlement as _handlers_settlement  # registers 22xx
from yibao.api.http import handlers_statements as _handlers_statements  # registers 3201, 5206
from yibao.api.http import handlers_undo as _handlers_undo  # registers 2601
from yibao.api.http.deps import State
from yibao.api.http.errors import ApiError, answer
from yibao.api.http.routes import router
from yibao.api.http.routes_chronic import router as chronic_router
from yibao.api.http.routes_commercial import router as commercial_router
from yibao.api.http.routes_compare import router as compare_router
from yibao.api.http.routes_epidemics import router as epidemics_router
from yibao.api.http.routes_findings import router as findings_router
from yibao.api.http.routes_funds import router as funds_router
from yibao.api.http.routes_maternity import router as maternity_router
from yibao.api.http.settings import Settings
from yibao.api.http.tx import translate
from yibao.api.serving.batch import Batcher, settle_batch
from yibao.api.serving.fastpath import (
    PATH,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    SettlementFastPath,
)
from yibao.policy import check_policy_dir, set_policy_dir
from yibao.services import clock
from yibao.services.settlement import warm_kernel
from yibao.store.db import make_engine
from yibao.web.app import ConsoleConfig, create_console

log = logging.getLogger("yibao.api")

_REGISTERED = (
    _handlers_fees,
    _handlers_files,
    _handlers_person,
    _handlers_settlement,
    _handlers_statements,
    _handlers_undo,
)


def _envelope(
    status: int,
    infcode: int,
    message: str,
    msgid: str | None = None,
    fhir: bool = False,
    expression: list[str] | None = None,
) -> JSONResponse:
    if fhir:  # FHIR callers get an OperationOutcome, with the infcode as its details code
        outcome = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "processing" if status < 500 else "exception",
                    "details": {"coding": [{"system": "urn:yibao:infcode", "code": str(infcode)}]},
                    "diagnostics": message,
                    **({"expression": expression} if expression else {}),
                }
            ],
        }
        if status == 200:  # a refusal inside the envelope; FHIR wants an HTTP error
            status = 404 if infcode == errors.NOT_FOUND else 422
        return JSONResponse(outcome, status_code=status)
    return JSONResponse(answer(infcode, msgid, message, None), status_code=status)


def _is_fhir(request: Request) -> bool:
    return request.url.path.startswith("/fhir")


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def _fhir_path(loc: tuple[Any, ...]) -> str | None:
    """The element of a FHIR body named by a validation error (``Claim.extension[0].url``)."""
    if not loc or loc[0] != "body" or len(loc) < 2:
        return None
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:]).lstrip(".")


def _internal(path: str, exc: Exception) -> JSONResponse:
    """The answer to an unexpected error: a database refusal translated, anything else a 500
    with a reference to the server log and nothing of the error itself."""
    fhir = path.startswith("/fhir")
    known = translate(exc) if isinstance(exc, OperationalError | DataError) else None
    if known is not None:  # the database refused: SQLite busy (send again), NUL in a text
        return _envelope(known.status, known.infcode, known.message, fhir=fhir)
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s", ref, exc_info=exc)
    return _envelope(
        500,
        errors.INTERNAL,
        f"internal error (reference {ref}); nothing was stored under this msgid: send it "
        "again, and if it persists report the reference",
        fhir=fhir,
    )


class LastResort:
    """The outermost middleware, and the wrapper of the settlement fast path (``YibaoApp``): an
    exception no handler answered (one of the fast path, or any the application let through)
    is answered here, a JSON body with its content type and length, and not raised further.
    (Starlette's own catch-all answers, then raises again, and the server then closes the
    persistent connection without saying so.) An error after the answer began cannot be
    answered and is raised."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:
                raise
            await _internal(str(scope.get("path", "")), exc)(scope, receive, send)


class YibaoApp(FastAPI):
    """FastAPI with the settlement fast path (``api.serving.fastpath``) in front of Starlette's
    middleware stack: a signed transaction the batcher answers pays none of the stack's layers
    (its error middleware, FastAPI's exception telemetry, ``LastResort`` and their wrappers of
    ``send``); anything the fast path does not take goes through the whole stack as before."""

    fast_path: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_path is not None and scope["type"] == "http" and scope["path"] == PATH:
            return await self.fast_path(scope, receive, send)
        await super().__call__(scope, receive, send)


#: Allocations between collections of the cycle collector's youngest generation (default 700).
GC_THRESHOLD = 50_000


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> YibaoApp:
    """The application; ``engine`` (optional) shares an existing engine, e.g. in tests."""
    settings = settings or Settings()  # type: ignore[call-arg]  # from the environment
    threads = settings.threads
    if settings.policy_dir is not None:
        check_policy_dir(settings.policy_dir)  # a broken file stops the start, named
    set_policy_dir(settings.policy_dir)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the handlers run in anyio's worker threads: bound them (see Settings.threads)
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        # A batch of settlements allocates ~100,000 short-lived objects, freed by reference
        # counting; the cycle collector's youngest generation at its default (every 700
        # allocations) cost ~7 % of a batch's CPU for nothing (docs/benchmarks-service.md §4).
        gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
        # the compiled settlement kernel loaded before the first request, not by it
        await anyio.to_thread.run_sync(warm_kernel, clock.today().year)
        yield

    app = YibaoApp(
        lifespan=lifespan,
        title="yibao: designated-institution transactions",
        version="1",
        description=(
            "`POST /api/v1/tx` in the national platform's envelope; staff endpoints; "
            "signed requests (HMAC-SHA256) or bearer tokens. See docs/api.md."
        ),
        default_response_class=JSONResponse,
        # no OpenTelemetry here: its per-request check reads the environment every time
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    engine = engine or make_engine(settings.database_url)
    batcher = (
        Batcher(
            partial(settle_batch, engine, settings),
            settings.batch_max,
            settings.batch_concurrency,
            settings.batch_linger_ms / 1000,
        )
        if settings.batch_max > 1
        else None
    )
    app.state.yibao = State(settings=settings, engine=engine, batcher=batcher)
    app.add_middleware(LastResort)
    # the fast path answers its errors as LastResort does; what it does not take, the whole app
    whole = partial(FastAPI.__call__, app)
    app.fast_path = LastResort(SettlementFastPath(whole, state=lambda: app.state.yibao))
    clock.today()  # a YIBAO_TODAY that is not a date stops the start

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _envelope(exc.status, exc.infcode, exc.message, fhir=_is_fhir(request))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors()[:5]:
            problems.append(f"{_field_path(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}")
        paths = [_fhir_path(tuple(e.get("loc", ()))) for e in exc.errors()[:5]]
        return _envelope(
            400,
            errors.MALFORMED,
            "malformed request: " + "; ".join(problems),
            fhir=_is_fhir(request),
            expression=[p for p in paths if p] or None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = errors.NOT_FOUND if exc.status_code == 404 else errors.MALFORMED
        return _envelope(exc.status_code, code, str(exc.detail), fhir=_is_fhir(request))

    async def internal(request: Request, exc: Exception) -> JSONResponse:
        return _internal(request.url.path, exc)

    # the database's refusals registered by type too, so that those raised in a route are
    # answered where the request is handled (the catch-all answers after the server's error
    # middleware has seen an exception; it also answers those of the settlement fast path)
    for kind in (OperationalError, DataError, Exception):
        app.add_exception_handler(kind, internal)
    app.include_router(router)
    app.include_router(findings_router)
    app.include_router(compare_router)
    app.include_router(fhir_router)
    app.include_router(fsi_router)  # the national platform's envelope (docs/fsi.md)
    # the staff console (yibao.web), same engine and secret
    console = ConsoleConfig(
        engine,
        settings.api_secret.get_secret_value(),
        token_ttl_seconds=settings.token_ttl_seconds,
        idle_seconds=settings.console_idle_seconds,
        secure_cookies=settings.console_secure_cookies,
    )
    app.mount("/console", create_console(console))
    app.include_router(funds_router)
    app.include_router(epidemics_router)
    app.include_router(maternity_router)
    app.include_router(chronic_router)
    app.include_router(commercial_router)
    return app
