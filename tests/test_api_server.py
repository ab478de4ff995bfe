"""``yibao serve --workers N``: N worker processes, each listening on the port with its own
socket, answering; a stop of the parent stops every worker, and a worker that dies stops the
server (the parent exits non-zero)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.server_support import free_port, wait_answering
from yibao.store.migrate import upgrade

STARTUP_SECONDS = 60


def workers_of(pid: int) -> list[int]:
    """The worker processes of a server (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [
        int(c)
        for c in children
        if "spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().decode(errors="replace")
    ]


def started_workers(proc: subprocess.Popen[bytes], n: int) -> list[int]:
    """The server's ``n`` workers, once all have started."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while len(workers_of(proc.pid)) < n:
        assert time.monotonic() < deadline, f"{n} workers did not start"
        time.sleep(0.2)
    return workers_of(proc.pid)


def gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for its parent counts as exited)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@contextmanager
def server(tmp_path: Path, port: int, workers: int) -> Iterator[subprocess.Popen[bytes]]:
    url = f"sqlite:///{tmp_path / 'yibao.sqlite'}"
    upgrade(url)
    env = {**os.environ, "YIBAO_API_SECRET": "s" * 32, "YIBAO_DATABASE_URL": url}
    cmd = [sys.executable, "-m", "yibao.cli.api", "serve", "--port", str(port)]
    cmd += ["--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def wait_until_answering(proc: subprocess.Popen[bytes], port: int) -> None:
    wait_answering(proc, f"http://127.0.0.1:{port}/openapi.json", STARTUP_SECONDS)


def test_workers_share_the_port_and_stop_with_the_server(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path, port, workers=2) as proc:
        wait_until_answering(proc, port)
        workers = started_workers(proc, 2)
        assert len(workers) == 2
        # every new connection is answered, whichever worker the kernel gives it to
        for _ in range(20):
            with httpx.Client() as client:
                assert client.get(f"http://127.0.0.1:{port}/openapi.json").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert all(gone(w) for w in workers)


def test_a_worker_that_dies_stops_the_server(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path, port, workers=2) as proc:
        wait_until_answering(proc, port)
        os.kill(started_workers(proc, 2)[0], signal.SIGKILL)
        assert proc.wait(timeout=30) != 0
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)


def test_a_taken_port_stops_the_server(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]  # held without SO_REUSEPORT: no worker can bind it
        with server(tmp_path, port, workers=2) as proc:
            assert proc.wait(timeout=STARTUP_SECONDS) != 0


def test_workers_stop_when_the_server_is_killed(tmp_path: Path) -> None:
    port = free_port()
    with server(tmp_path, port, workers=2) as proc:
        wait_until_answering(proc, port)
        workers = started_workers(proc, 2)
        proc.kill()  # no chance to stop them: they must notice by themselves
        proc.wait(timeout=30)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not all(gone(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived the server"
            time.sleep(0.2)


def test_a_port_another_server_serves_is_refused(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with server(tmp_path / "a", port, workers=2) as first:
        wait_until_answering(first, port)
        with server(tmp_path / "b", port, workers=2) as second:
            assert second.wait(timeout=STARTUP_SECONDS) != 0  # not sharing the port with it
        assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 200
