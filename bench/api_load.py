"""Online settlement (2207) over HTTP under concurrent load: signed requests to the API server.

    python bench/api_load.py --db postgresql://postgres@127.0.0.1:5432/DB [--seconds 30]
                             [--concurrency 32] [--workers 2] [--persons 3000] [--seed 1]

Prepares the database (migrations; when it holds no person, a population through the services,
as ``bench/settle_service.py`` does: a third employees who paid three months of 2024, the rest
residents who paid 2025; 3,000 persons take about a minute, once per database. With fewer, most
batches of 32 concurrent claims hold two of one person, which a pooling area's population almost
never gives: such a claim is settled in a second round of the batch, at the cost of its reads and
writes), registers an institution and a key (derived from a bench secret, as ``yibao.cli.api
add-institution`` does), starts the API server (``yibao serve``: uvicorn, ``--workers``
processes each with its own socket on the port; 2 by default, one per core of the 2-core
machine of quality.md) as a separate process on a free loopback port,
then drives signed 2207 settlements from this process with ``--concurrency`` concurrent clients
(a minimal HTTP/1.1 client on asyncio, ``Connection``: one persistent connection each, at about
two fifths of aiohttp's CPU per request) for ``--seconds`` seconds: each request is for a random
enrolled person with a fresh msgid. The server is stopped at the end. The CPU per request of the
server's processes (``/proc``'s utime and stime, the timed run only) and of this process are
printed. The last two lines are ``p99 ms: <n>`` (latency of every request) and
``settlements/s: <n>`` (successful settlements, infcode 0; whole number).

With ``--lines N`` each client settles whole bills instead: it registers a visit (2201), uploads
its N fee detail lines in one 2204 (codes drawn from the shipped illustrative catalogue at their
typical prices, classified by the server against it) and settles the visit from its lines
(2207, no amounts given). The last lines are then ``p99 ms: <n>`` (every request), ``visit p99
ms: <n>`` (the three requests of a visit together) and ``visits/s: <n>`` (visits whose three
requests all succeeded).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import cast

import httpx
import orjson
import uvloop
from sqlalchemy import func, select, text

from yibao.api.http.security import signed_headers
from yibao.policy.catalogue import shipped_items
from yibao.services.accounts import NewInstitution, issue_institution
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.models import PersonRow
from yibao.store.uow import UnitOfWork

try:
    from bench.settle_service import create_population, enrolled
except ImportError:
    from settle_service import create_population, enrolled  # type: ignore[no-redef]

TX = "/api/v1/tx"
AREA = "360100"
MED = ("inpatient", "outpatient", "chronic", "pharmacy")


class Connection(asyncio.Protocol):
    """One persistent HTTP/1.1 connection of a client, one request at a time: the request's
    bytes written as they are, the answer's status and body read by its ``Content-Length``.
    It sends what aiohttp sent (method, path, ``Host``, ``Content-Type``, ``Content-Length``,
    the signature headers and the body; not aiohttp's ``Accept``, ``Accept-Encoding`` and
    ``User-Agent``, which the server ignores) at about two fifths of aiohttp's CPU per request:
    the load generator shares the machine's two cores with the server and PostgreSQL."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.host = ""

    @classmethod
    async def open(cls, port: int) -> Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(cls, "127.0.0.1", port)
        return conn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        host, port = self.transport.get_extra_info("peername")[:2]
        self.host = f"{host}:{port}"

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("the server closed the connection"))

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        lines = bytes(self.buffer[:end]).split(b"\r\n")
        length = next(
            (int(v) for k, _, v in (h.partition(b":") for h in lines[1:]) if k.lower() == CL),
            None,
        )
        if length is None:
            self.waiter.set_exception(ConnectionError("an answer without Content-Length"))
            return
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.waiter.set_result((int(lines[0].split()[1]), body))

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to ``POST path``."""
        if self.transport is None:
            raise ConnectionError("the connection is closed")
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\n{head}Content-Length: {len(body)}"
            "\r\n\r\n".encode()
            + body
        )
        return await self.waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


CL = b"content-length"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prepare(url: str, persons: int, seed: int, secret: str) -> tuple[list[str], str, str, str]:
    """(enrolled national IDs, institution code, key id, key); the database analysed."""
    upgrade(url)
    engine = make_engine(url)
    try:
        uow = UnitOfWork.for_engine(engine)
        with uow:
            present = int(uow.session.scalar(select(func.count()).select_from(PersonRow)) or 0)
        if present == 0:
            start = time.perf_counter()
            create_population(uow, persons, seed)
            print(f"population: {persons} persons in {time.perf_counter() - start:.1f} s")
        who = enrolled(uow)
        code = f"H{AREA}{secrets.token_hex(3).upper()}"
        issued = issue_institution(
            UnitOfWork.for_engine(engine),
            secret,
            NewInstitution(code=code, name=f"bench {code}", level=2, area=AREA),
        )
        if engine.dialect.name == "postgresql":
            # the planner's statistics of what earlier runs wrote: a server whose autovacuum is
            # off (this machine's) never gathers them, and a grown table read by a plan made
            # for an empty one costs the database many times its CPU (not timed)
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
    finally:
        engine.dispose()
    return who, issued.code, issued.key_id, issued.key


def start_server(url: str, secret: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "YIBAO_API_SECRET": secret, "YIBAO_DATABASE_URL": url}
    cmd = [
        sys.executable,
        "-m",
        "yibao.cli.api",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    return subprocess.Popen(cmd, env=env, cwd=Path(__file__).resolve().parent.parent)


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the API server exited with {server.returncode}")
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2.0)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the API server did not start")


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (Linux ``/proc``; the server's workers)."""
    found = [pid]
    for p in found:
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            found.extend(int(c) for c in task.read_text().split())
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of ``pids`` (``/proc/<pid>/stat``'s utime and stime), in seconds;
    a process gone counts nothing."""
    ticks = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_seconds() -> tuple[float, float]:
    """The whole machine's busy and idle CPU so far (``/proc/stat``'s first line), in seconds:
    what the server and the load generator leave of the busy time is mostly PostgreSQL's."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


def claim(rng: random.Random, who: str) -> dict[str, object]:
    med = rng.choices(MED, weights=(0.08, 0.55, 0.1, 0.27))[0]
    scale = 9.0 if med == "inpatient" else 5.0
    total = max(100, int(rng.lognormvariate(scale, 1.0) * 100))
    fully = int(total * rng.uniform(0, 0.1))
    cat_b = int((total - fully) * rng.uniform(0, 0.3))
    day = 60 + rng.randrange(300)
    return {
        "certno": who,
        "date": f"2025-{1 + day // 31 % 12:02d}-{1 + day % 28:02d}",
        "med_type": med,
        "total": f"{total / 100:.2f}",
        "fully_self_paid": f"{fully / 100:.2f}",
        "category_b": f"{cat_b / 100:.2f}",
    }


async def drive(
    port: int, persons: list[str], inst: tuple[str, str, str], seconds: float, concurrency: int
) -> tuple[int, int, list[float], dict[str, int]]:
    code, key_id, key = inst
    rng = random.Random(1)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    ok = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, sent
        conn = await Connection.open(port)
        while time.perf_counter() < stop_at:
            body = orjson.dumps(
                {
                    "infno": "2207",
                    "msgid": f"load-{uuid.uuid4().hex}",
                    "fixmedins_code": code,
                    "opter": "bench",
                    "inf_time": "2025-05-01 10:00:00",
                    "input": claim(rng, rng.choice(persons)),
                }
            )
            headers = {
                "Content-Type": "application/json",
                **signed_headers(code, key_id, key, "POST", TX, body, int(time.time())),
            }
            start = time.perf_counter()
            try:
                async with asyncio.timeout(30.0):
                    _, raw = await conn.post(TX, headers, body)
                answer = orjson.loads(raw)
                outcome = str(answer.get("infcode"))
                if outcome != "0":
                    outcome += f" {answer.get('err_msg', '')[:80]}"
            except (OSError, TimeoutError, orjson.JSONDecodeError) as exc:
                outcome = type(exc).__name__
                conn.close()
                conn = await Connection.open(port)
            latencies.append((time.perf_counter() - start) * 1000)
            sent += 1
            if outcome == "0":
                ok += 1
            else:
                errors[outcome] = errors.get(outcome, 0) + 1
        conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, sent, latencies, errors


def catalogue_lines(unlimited: bool = False) -> list[tuple[str, int]]:
    """(code, typical price in price units) of the shipped catalogue's items a level-2 hospital
    may bill any patient on any day of 2025 (no sex, age, level or indication restriction;
    ``unlimited``: no daily or per-stay quantity maximum either)."""
    _, items = shipped_items(AREA)
    return [
        (i.code, i.typical_price)
        for i in items
        if i.typical_price
        and not (unlimited and (i.max_per_day is not None or i.max_per_stay is not None))
        and not i.sex
        and i.min_age is None
        and i.max_age is None
        and (i.min_level or 0) <= 2
        and not i.indication
        and (i.valid_from is None or i.valid_from <= dt.date(2025, 1, 1))
        and (i.valid_to is None or i.valid_to >= dt.date(2025, 12, 31))
    ]


def bill(rng: random.Random, items: list[tuple[str, int]], n: int, day: str) -> list[object]:
    """``n`` fee detail lines of one day (2204's feedetail)."""
    lines: list[object] = []
    for k in range(n):
        code, price = rng.choice(items)
        lines.append(
            {
                "feedetl_sn": str(k + 1),
                "med_list_codg": code,
                "cnt": str(rng.choice((1, 1, 1, 2, 3))),
                "pric": f"{price / 1_000_000:.6f}",
                "fee_ocur_time": f"{day} 09:00:00",
            }
        )
    return lines


def clean_bill(rng: random.Random, items: list[tuple[str, int]], n: int, day: str) -> list[object]:
    """``n`` fee detail lines of one day that fire no supervision rule: distinct items (no
    duplicate) from ``items`` (``catalogue_lines(unlimited=True)``: no maximum to pass)."""
    lines: list[object] = []
    for k, (code, price) in enumerate(rng.sample(items, n)):
        lines.append(
            {
                "feedetl_sn": str(k + 1),
                "med_list_codg": code,
                "cnt": str(rng.choice((1, 1, 1, 2, 3))),
                "pric": f"{price / 1_000_000:.6f}",
                "fee_ocur_time": f"{day} 09:00:00",
            }
        )
    return lines


async def drive_visits(
    port: int,
    persons: list[str],
    inst: tuple[str, str, str],
    seconds: float,
    concurrency: int,
    n_lines: int,
) -> tuple[int, int, list[float], list[float], dict[str, int]]:
    """Whole bills: 2201, 2204 with ``n_lines`` lines, 2207 from the lines, per visit. Returns
    (visits settled, requests sent, request latencies, visit latencies, errors)."""
    code, key_id, key = inst
    rng = random.Random(1)
    items = catalogue_lines()
    latencies: list[float] = []
    visit_latencies: list[float] = []
    by_infno: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    settled = 0
    sent = 0
    stop_at = time.perf_counter() + seconds

    async def tx(
        conns: list[Connection], infno: str, data: dict[str, object]
    ) -> dict[str, object] | None:
        nonlocal sent
        body = orjson.dumps(
            {
                "infno": infno,
                "msgid": f"load-{uuid.uuid4().hex}",
                "fixmedins_code": code,
                "opter": "bench",
                "inf_time": "2025-05-01 10:00:00",
                "input": data,
            }
        )
        headers = {
            "Content-Type": "application/json",
            **signed_headers(code, key_id, key, "POST", TX, body, int(time.time())),
        }
        start = time.perf_counter()
        output = None
        try:
            async with asyncio.timeout(30.0):
                _, raw = await conns[0].post(TX, headers, body)
            answer = orjson.loads(raw)
            outcome = str(answer.get("infcode"))
            if outcome != "0":
                outcome += f" {infno} {answer.get('err_msg', '')[:80]}"
            else:
                output = answer.get("output")
        except (OSError, TimeoutError, orjson.JSONDecodeError) as exc:
            outcome = type(exc).__name__
            conns[0].close()
            conns[0] = await Connection.open(port)
        took = (time.perf_counter() - start) * 1000
        latencies.append(took)
        by_infno.setdefault(infno, []).append(took)
        sent += 1
        if output is None:
            errors[outcome] = errors.get(outcome, 0) + 1
        return output

    async def worker() -> None:
        nonlocal settled
        conns = [await Connection.open(port)]
        while time.perf_counter() < stop_at:
            c = claim(rng, rng.choice(persons))
            start = time.perf_counter()
            visit = await tx(
                conns,
                "2201",
                {"certno": c["certno"], "med_type": c["med_type"], "begntime": c["date"]},
            )
            if visit is None:
                continue
            mdtrt_id = visit["mdtrt_id"]
            day = str(c["date"])
            lines = bill(rng, items, n_lines, day)
            if await tx(conns, "2204", {"mdtrt_id": mdtrt_id, "feedetail": lines}) is None:
                continue
            done = await tx(
                conns, "2207", {"certno": c["certno"], "mdtrt_id": mdtrt_id, "date": day}
            )
            if done is not None:
                settled += 1
                visit_latencies.append((time.perf_counter() - start) * 1000)
        conns[0].close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    for infno, values in sorted(by_infno.items()):
        print(
            f"{infno}: p50 ms {percentile(values, 0.5):.1f}, p99 ms {percentile(values, 0.99):.1f}"
        )
    return settled, sent, latencies, visit_latencies, errors


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--lines", type=int, default=0, help="per visit: 2201, 2204 with this many lines, 2207"
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the load generator's event loop (the server's is uvicorn's: uvloop)",
    )
    args = parser.parse_args()
    run = uvloop.run if args.loop == "uvloop" else asyncio.run
    secret = secrets.token_hex(24)
    persons, code, key_id, key = prepare(args.db, args.persons, args.seed, secret)
    port = free_port()
    server = start_server(args.db, secret, port, args.workers)
    try:
        wait_ready(port, server)
        server_pids = descendants(server.pid)
        server_cpu = cpu_seconds(server_pids)
        own_cpu = time.process_time()
        busy, idle = machine_seconds()
        started = time.perf_counter()
        visit_latencies: list[float] = []
        if args.lines:
            ok, sent, latencies, visit_latencies, errors = run(
                drive_visits(
                    port,
                    persons,
                    (code, key_id, key),
                    args.seconds,
                    args.concurrency,
                    args.lines,
                )
            )
        else:
            ok, sent, latencies, errors = run(
                drive(port, persons, (code, key_id, key), args.seconds, args.concurrency)
            )
        took = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
        server_cpu = cpu_seconds(server_pids) - server_cpu
        now_busy, now_idle = machine_seconds()
        busy, idle = now_busy - busy, now_idle - idle
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    print(
        f"persons: {len(persons)}, concurrency: {args.concurrency}, workers: {args.workers},"
        f" {took:.1f} s"
    )
    print(f"requests: {sent}, settled: {ok}, refused or failed: {sum(errors.values())}")
    for what, n in sorted(errors.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n} x {what}")
    per = max(sent, 1)
    print(
        f"server CPU ms per request: {server_cpu * 1000 / per:.2f}"
        f" ({len(server_pids)} processes, {server_cpu:.1f} s);"
        f" load generator's: {own_cpu * 1000 / per:.2f} ({own_cpu:.1f} s)"
    )
    rest = busy - server_cpu - own_cpu
    print(
        f"machine CPU ms per request: busy {busy * 1000 / per:.2f}, of which the database and"
        f" the rest {rest * 1000 / per:.2f}; idle {idle * 1000 / per:.2f}"
    )
    print(f"p50 ms: {percentile(latencies, 0.50):.1f}")
    print(f"p99 ms: {percentile(latencies, 0.99):.1f}")
    if args.lines:
        print(f"lines per visit: {args.lines}, requests/s: {sent / took:.0f}")
        print(f"visit p99 ms: {percentile(visit_latencies, 0.99):.1f}")
        print(f"visits/s: {ok / took:.0f}")
    else:
        print(f"settlements/s: {ok / took:.0f}")


if __name__ == "__main__":
    main()
