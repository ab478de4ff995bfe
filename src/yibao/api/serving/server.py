"""Serving the API with uvicorn: with several worker processes, each has its own listening
socket on the same port (``SO_REUSEPORT``), and the kernel spreads new connections evenly
across them.

uvicorn's own ``--workers`` share one listening socket: whichever worker wakes first accepts,
so with persistent connections (a hospital's system keeps a few open all day) one worker can
hold most of them while another idles. In the benchmark one worker got 29 of 32 connections.
Each worker then settles the signed 2207s of its own connections in batches
(``yibao.api.serving.batch``), so an uneven spread is also smaller batches. Where
``SO_REUSEPORT`` is missing, uvicorn's own workers serve (on macOS it exists but does not
spread connections).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
from types import FrameType
from typing import Any

import uvicorn

APP = "yibao.api.http.app:create_app"
#: How long a stopping worker may take to finish the requests in flight.
GRACE_SECONDS = 30
PR_SET_PDEATHSIG = 1
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
    """Serve until interrupted (SIGINT or SIGTERM; a second one stops the workers at once);
    every worker stops with the parent, however it stops, and the parent with the first worker
    that stops on its own (non-zero exit)."""
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
    _check_free(host, port)
    context = multiprocessing.get_context("spawn")
    parent = os.getpid()
    processes = [
        context.Process(
            target=_worker, args=(host, port, options, parent), name=f"yibao-api-{i + 1}"
        )
        for i in range(workers)
    ]
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        again, stopping = stopping, True
        for p in processes:
            if p.is_alive():
                if again:  # a second signal: now
                    p.kill()
                else:  # SIGTERM: uvicorn finishes the requests in flight
                    p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for p in processes:
            p.start()
    except BaseException:
        stop(signal.SIGTERM, None)
        raise
    if not stopping:  # (a signal during the start has stopped what had started)
        multiprocessing.connection.wait([p.sentinel for p in processes])  # until one stops
    first = next((p.exitcode for p in processes if p.exitcode is not None), None)
    on_its_own = not stopping
    stop(signal.SIGTERM, None)
    for p in processes:
        p.join(GRACE_SECONDS + 5)
        if p.is_alive():
            p.kill()
            p.join()
    if on_its_own:  # e.g. the database refused: not a clean stop
        sys.exit(first if first is not None and first > 0 else 1)


def _check_free(host: str, port: int) -> None:
    """Refuse a port another server listens on. The workers' sockets share the port with any
    socket that has ``SO_REUSEPORT``, another yibao server's too: a plain bind finds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"port {port} on {host} is not free: {exc.strerror}") from None


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) with ``SO_REUSEPORT``, listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    return sock


def _worker(host: str, port: int, options: dict[str, Any], parent: int) -> None:
    _die_with(parent)
    sock = listening_socket(host, port)
    config = uvicorn.Config(APP, timeout_graceful_shutdown=GRACE_SECONDS, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _die_with(parent: int) -> None:
    """Stop (SIGTERM) when the parent process dies, however it dies: on Linux by
    ``prctl(PR_SET_PDEATHSIG)``. A worker left behind would go on serving on the port."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before that took effect
        sys.exit(0)
