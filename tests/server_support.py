"""A real HTTP server for tests that drive the API with an independent client library.

``serve(app)`` runs uvicorn over the application in a background thread, on an ephemeral
loopback port (the kernel picks it: no race for a "free" port), and stops it on exit. The
application is the one ``create_app`` built for the test's database (``tests.api_support.api``),
so the test and the server share the engine and see the same data.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

_START_TIMEOUT = 30.0


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve ``app`` on ``127.0.0.1:<ephemeral port>``; yields the base URL (no trailing /)."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn stopped before it started (see the log above)")
        if time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        if thread.is_alive():  # pragma: no cover - a stuck server must fail the test run
            raise RuntimeError("uvicorn did not stop")


__all__ = ["serve"]
