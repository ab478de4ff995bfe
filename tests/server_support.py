"""A real HTTP server for tests that drive the API with an independent client library.

``serve(app)`` runs uvicorn over the application in a background thread, on an ephemeral
loopback port (the kernel picks it: no race for a "free" port), and stops it on exit. The
application is the one ``create_app`` built for the test's database (``tests.api_support.api``),
so the test and the server share the engine and see the same data.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
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


def free_port() -> int:
    """A loopback port free at the moment (for a server started in another process)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_answering(
    proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path | None = None
) -> None:
    """Until ``url`` answers 200; fails if the server process stops first or ``timeout`` passes
    (with the server's log, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        why = log.read_text() if log is not None else ""
        assert proc.poll() is None, f"the server exited with {proc.returncode}\n{why}"
        assert time.monotonic() < deadline, f"the server did not answer\n{why}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)


__all__ = ["free_port", "serve", "wait_answering"]
