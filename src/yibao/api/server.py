"""Serving the API with uvicorn: with several worker processes, each has its own listening
socket on the same port (``SO_REUSEPORT``), and the kernel spreads new connections evenly
across them.

uvicorn's own ``--workers`` share one listening socket: whichever worker wakes first accepts,
so with persistent connections (a hospital's system keeps a few open all day) one worker can
hold most of them while another idles. In the benchmark one worker got 29 of 32 connections.
Each worker then settles the signed 2207s of its own connections in batches
(``yibao.api.batch``), so an uneven spread is also smaller batches. Where ``SO_REUSEPORT`` is
missing (not Linux or BSD), uvicorn's own workers serve.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
from types import FrameType
from typing import Any

import uvicorn

APP = "yibao.api.app:create_app"
#: Pending connections each worker's socket queues (uvicorn's default).
BACKLOG = 2048


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    *,
    log_level: str = "info",
    access_log: bool = True,
) -> None:
    """Serve until interrupted (SIGINT or SIGTERM); every worker stops with the parent, and the
    parent with the first worker that stops on its own (its exit code)."""
    options: dict[str, Any] = {
        "factory": True,
        "proxy_headers": False,
        "server_header": False,
        "log_level": log_level,
        "access_log": access_log,
    }
    if workers <= 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, host=host, port=port, workers=workers, **options)
        return
    if port == 0:
        raise ValueError("port: several workers need a fixed port to share (got 0)")
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, options), name=f"yibao-api-{i + 1}")
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for p in processes:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes the requests in flight

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for p in processes:
        p.start()
    multiprocessing.connection.wait([p.sentinel for p in processes])  # until one stops
    first = next((p.exitcode for p in processes if p.exitcode is not None), None)
    on_its_own = not stopping
    stop(signal.SIGTERM, None)
    for p in processes:
        p.join()
    if on_its_own:  # e.g. the port was taken, or the database refused: not a clean stop
        sys.exit(first if first is not None and first > 0 else 1)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with ``SO_REUSEPORT``, listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    sock = listening_socket(host, port)
    uvicorn.Server(uvicorn.Config(APP, **options)).run(sockets=[sock])
