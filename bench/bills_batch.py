"""Where a bill's time goes in the batcher, without HTTP: batches of signed 2201s, then of 2204s
(``--lines`` lines each), then of 2207s from the lines, answered in process by
``yibao.api.serving.batch.settle_batch`` on the database given.

    python bench/bills_batch.py --db postgresql://postgres@127.0.0.1:5432/DB
                                [--batch 16] [--rounds 10] [--lines 20] [--clean]
                                [--profile [--only INFNO]] [--sql]

``--clean`` sends bills whose lines fire no supervision rule (distinct items without a
quantity maximum, so no duplicate and nothing over a maximum; the items are already free of
sex, age and level restrictions): with refusing rules on (``YIBAO_POLICY_DIR``), 2207 then
times the check, not the refusal.

The database is prepared as by ``bench/api_load.py`` (a population when it holds no person; a
new institution each run). Requests are built beforehand (not timed); their signatures are not
checked here (the fast path checks them before the batcher), their keys and nonces are. A
first round (not timed) compiles the catalogue and loads the parameters. Prints
per transaction the wall time and this process's CPU time per request, and the database's (the
CPU of this machine's ``postgres`` processes of the database, from ``/proc/<pid>/schedstat``,
when it is local and those are readable; not the server's shared WAL writer), then with
``--profile`` the functions that took most CPU, with ``--sql`` the statements a timed batch of
each transaction sends (every ``execute``, ``executemany`` and ``COPY`` of the driver: how many
a batch, and each one's share; counting them costs some CPU), and last ``visits/s: <n>``:
visits whose three requests succeeded, per second of wall time of the batches.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import hashlib
import os
import pstats
import random
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import psycopg

from yibao.api.http import app as _app  # noqa: F401  (registers the transaction handlers)
from yibao.api.http.auth import SignedRequest
from yibao.api.http.settings import Settings
from yibao.api.http.tx import TxRequest
from yibao.api.serving.batch import Result, SignedTx, settle_batch
from yibao.store.db import make_engine

try:
    from bench.api_load import bill, catalogue_lines, claim, clean_bill, prepare
except ImportError:
    from api_load import (  # type: ignore[no-redef]
        bill,
        catalogue_lines,
        claim,
        clean_bill,
        prepare,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--lines", type=int, default=20)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sql", action="store_true", help="list the statements of a batch")
    parser.add_argument("--clean", action="store_true", help="bills that fire no rule")
    parser.add_argument(
        "--only", choices=("2201", "2204", "2207"), help="profile this transaction alone"
    )
    args = parser.parse_args()
    secret = secrets.token_hex(24)
    persons, code, key_id, _ = prepare(args.db, args.persons, args.seed, secret)
    engine = make_engine(args.db)
    dbname = engine.url.database or ""
    settings = Settings(api_secret=secret, database_url=args.db)  # type: ignore[arg-type]
    gc.set_threshold(50_000, *gc.get_threshold()[1:])  # as the server does (api.http.app)
    rng = random.Random(args.seed)
    items = catalogue_lines(unlimited=args.clean)
    make_bill = clean_bill if args.clean else bill

    def signed(infno: str, data: dict[str, Any]) -> SignedTx:
        body = orjson.dumps(
            {
                "infno": infno,
                "msgid": uuid.uuid4().hex,
                "fixmedins_code": code,
                "opter": "bench",
                "inf_time": "2025-05-01 10:00:00",
                "input": data,
            }
        )
        request = SignedRequest(code, key_id, uuid.uuid4().hex, secrets.token_hex(32))
        envelope = TxRequest.model_validate_json(body)
        return SignedTx(request, envelope, body, hashlib.sha256(body).hexdigest())

    wall = {"2201": 0.0, "2204": 0.0, "2207": 0.0}
    cpu = dict(wall)
    db_cpu = dict(wall)
    done = 0
    profile = cProfile.Profile(time.process_time) if args.profile else None

    warming = True  # the first round is not timed: the catalogue compiled, parameters loaded
    counting: list[str] = []  # the transaction whose statements are counted (``--sql``)
    statements: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    batches: collections.Counter[str] = collections.Counter()
    if args.sql:
        for name in ("execute", "executemany", "copy"):
            count_statements(name, counting, statements)

    def timed(infno: str, batch: list[SignedTx]) -> list[Result]:
        if warming:
            return settle_batch(engine, settings, batch)
        db_used = database_cpu(dbname)
        start, used = time.perf_counter(), time.process_time()
        profiled = profile is not None and args.only in (None, infno)
        if profiled:
            profile.enable()
        counting[:] = [infno] if args.sql else []
        out = settle_batch(engine, settings, batch)
        counting.clear()
        batches[infno] += 1
        if profiled:
            profile.disable()
        wall[infno] += time.perf_counter() - start
        cpu[infno] += time.process_time() - used
        db_cpu[infno] += database_cpu(dbname) - db_used
        return out

    def ok(result: Result) -> bool:
        return isinstance(result, dict) and result.get("infcode") == 0

    for r in range(args.rounds + 1):
        warming = r == 0
        claims = [claim(rng, rng.choice(persons)) for _ in range(args.batch)]
        visits = timed(
            "2201",
            [
                signed(
                    "2201",
                    {"certno": c["certno"], "med_type": c["med_type"], "begntime": c["date"]},
                )
                for c in claims
            ],
        )
        open_ = [
            (c, str(v["output"]["mdtrt_id"]))
            for c, v in zip(claims, visits, strict=True)
            if isinstance(v, dict) and ok(v)
        ]
        uploads = [
            signed("2204", {"mdtrt_id": m, "feedetail": make_bill(rng, items, args.lines, day)})
            for c, m in open_
            for day in [str(c["date"])]
        ]
        uploaded = timed("2204", uploads)
        billed = [(c, m) for (c, m), u in zip(open_, uploaded, strict=True) if ok(u)]
        settled = timed(
            "2207",
            [
                signed("2207", {"certno": c["certno"], "mdtrt_id": m, "date": c["date"]})
                for c, m in billed
            ],
        )
        done += 0 if warming else sum(1 for s in settled if ok(s))
    engine.dispose()
    n = args.rounds * args.batch
    for infno in wall:
        print(
            f"{infno}: {wall[infno] / n * 1000:.2f} ms wall, {cpu[infno] / n * 1000:.2f} ms CPU "
            f"a request (batches of {args.batch})"
            + (f", database {db_cpu[infno] / n * 1000:.2f} ms" if db_cpu[infno] else "")
        )
    print(f"visits settled: {done} of {n}")
    for infno, sent in statements.items():
        print(f"{infno}: {sum(sent.values()) / batches[infno]:.1f} statements a batch")
        for text, times in sent.most_common():
            print(f"  {times / batches[infno]:4.1f} {text}")
    if profile is not None:
        pstats.Stats(profile).sort_stats(os.environ.get("SORT", "tottime")).print_stats(40)
    print(f"visits/s: {done / sum(wall.values()):.0f}")


def count_statements(
    name: str, counting: list[str], statements: dict[str, collections.Counter[str]]
) -> None:
    """Count the statements psycopg's ``Cursor.<name>`` sends while ``counting`` names a
    transaction, by their first 110 characters."""
    original = getattr(psycopg.Cursor, name)

    def run(self: Any, query: Any, *a: Any, **k: Any) -> Any:
        if counting:
            text = query if isinstance(query, str) else query.as_string(self)
            statements[counting[0]][f"{name}: {' '.join(str(text).split())[:110]}"] += 1
        return original(self, query, *a, **k)

    setattr(psycopg.Cursor, name, run)


def database_cpu(name: str) -> float:
    """Seconds of CPU used by this machine's ``postgres`` processes of database ``name`` (its
    backends and autovacuum workers, named in their process titles; 0 if none is readable):
    the first field of ``/proc/<pid>/schedstat``, in nanoseconds."""
    used, tag = 0, f" {name} ".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().startswith("postgres") and tag in (
                proc / "cmdline"
            ).read_bytes():
                used += int((proc / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):  # gone, or not ours to read
            continue
    return used / 1e9


if __name__ == "__main__":
    main()
