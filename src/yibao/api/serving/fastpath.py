"""The fast path: an ASGI middleware in front of the FastAPI application that takes a
well-formed, correctly signed transaction of an institution that the batcher answers
(``batch.BATCHED``: 2201, 2204, 2205, 2402 and 2207) straight to the batcher
(``api.serving.batch``), without FastAPI's routing, dependency solving and response validation,
which cost about as much CPU as the work itself.

Only the happy path is taken here. Any other request, and any of those that is not well formed,
not JSON, or not correctly signed, goes on to the application unchanged (its body replayed),
which answers it through ``POST /api/v1/tx`` with the same checks and messages as always: there
is one implementation of every refusal. A transaction answered here gets exactly the answer the
route would give (``batch.settle_batch`` answers as ``tx.run_tx`` does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import ValidationError

from yibao.api.http.auth import verify_signature
from yibao.api.http.deps import State
from yibao.api.http.errors import ApiError, answer
from yibao.api.http.security import (
    HEADER_INSTITUTION,
    HEADER_KEY_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
)
from yibao.api.http.textcheck import body_problem
from yibao.api.http.tx import TxRequest, dumps_bytes
from yibao.api.serving.batch import BATCHED, SignedTx

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/api/v1/tx"
_SIGNATURE = HEADER_SIGNATURE.lower().encode()
#: The headers ``verify_signature`` reads: (name as it reads it, name as the server gives it).
_SIGNED = tuple(
    (h.lower(), h.lower().encode())
    for h in (HEADER_INSTITUTION, HEADER_KEY_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
)


class SettlementFastPath:
    def __init__(self, app: ASGIApp, state: Callable[[], State]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        names = {k.lower(): v for k, v in raw_headers}
        state = self.state()
        if (
            state.batcher is None
            or _SIGNATURE not in names
            or b"authorization" in names
            or not names.get(b"content-type", b"").lower().startswith(b"application/json")
        ):
            return await self.app(scope, receive, send)
        body, more = await _read(receive, state.settings.max_body_bytes)
        item = None if more else self._batched(state, scope, names, body)
        if item is None:
            return await self.app(scope, _replay(body, more, receive), send)
        result = await state.batcher.submit(item)
        if isinstance(result, ApiError):
            await _respond(send, result.status, answer(result.infcode, None, result.message))
        elif isinstance(result, Exception):
            raise result  # the application's handler of unexpected errors answers it
        else:
            await _respond(send, 200, result)

    @staticmethod
    def _batched(
        state: State, scope: Scope, names: dict[bytes, bytes], body: bytes
    ) -> SignedTx | None:
        """The request as a signed transaction for the batcher, or None for the application to
        answer."""
        if scope.get("query_string") or body_problem(body) is not None:
            return None
        try:
            envelope = TxRequest.model_validate_json(body)
        except ValidationError:
            return None
        if envelope.infno not in BATCHED:
            return None
        # (the signature's headers only: the others are not read)
        headers = {name: names[raw].decode("latin-1") for name, raw in _SIGNED if raw in names}
        try:
            signed = verify_signature(state.settings, "POST", PATH, headers, body)
        except ApiError:
            return None
        if signed.code != envelope.fixmedins_code:
            return None
        return SignedTx(signed, envelope, body, hashlib.sha256(body).hexdigest())


async def _read(receive: Receive, limit: int) -> tuple[bytes, Message | None]:
    """The body, up to ``limit`` bytes; with the message that did not fit, if any."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), message
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), message
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), None


def _replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives the application the body already read, then the rest."""
    sent = False

    async def again() -> Message:
        nonlocal sent, pending
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": pending is not None}
        if pending is not None:
            message, pending = pending, None
            return message
        return await receive()

    return again


async def _respond(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = dumps_bytes(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
