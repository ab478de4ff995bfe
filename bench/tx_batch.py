"""Signed 2207s with amounts (as ``bench/api_load.py`` sends them) answered in process by the
batcher, without HTTP: this process's CPU per request and the statements a batch sends.

    python bench/tx_batch.py --db postgresql://postgres@127.0.0.1:5432/DB
                             [--batch 32] [--rounds 10] [--sql] [--profile]

The database is prepared as by ``bench/api_load.py``. A first batch (not timed) loads the
parameters and compiles the kernel. Signatures are not checked here (the fast path checks them
before the batcher); keys and nonces are. ``--sql`` lists the statements of a batch (every
``execute``, ``executemany`` and ``COPY`` of the driver) with how many a batch sends. Runs the
code of the checkout it is started from (``cd`` there), also an older commit's layout
(``yibao.api.batch``), to compare the two on their own databases. Last line: ``2207: <wall> ms
wall, <cpu> ms CPU a request, <n> statements a batch``.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import gc
import hashlib
import pstats
import random
import secrets
import sys
import time
import uuid
from typing import Any

import orjson
import psycopg

sys.path.insert(0, ".")

try:
    from yibao.api.http import app as _app
    from yibao.api.http.auth import SignedRequest
    from yibao.api.http.settings import Settings
    from yibao.api.http.tx import TxRequest
    from yibao.api.serving.batch import SignedTx, settle_batch
except ImportError:  # an older commit
    from yibao.api.auth import SignedRequest  # type: ignore[no-redef]
    from yibao.api.batch import SignedSettlement as SignedTx  # type: ignore[no-redef]
    from yibao.api.batch import settle_batch  # type: ignore[no-redef]
    from yibao.api.settings import Settings  # type: ignore[no-redef]
    from yibao.api.tx import TxRequest  # type: ignore[no-redef]

    from yibao.api import app as _app  # type: ignore[no-redef,attr-defined]  # noqa: F401
from yibao.store.db import make_engine

try:
    from bench.api_load import claim, prepare
except ImportError:
    from api_load import claim, prepare  # type: ignore[no-redef]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--sql", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    secret = secrets.token_hex(24)
    persons, code, key_id, _ = prepare(args.db, 3000, 1, secret)
    engine = make_engine(args.db)
    settings = Settings(api_secret=secret, database_url=args.db)  # type: ignore[arg-type]
    gc.set_threshold(50_000, *gc.get_threshold()[1:])  # as the server does
    rng = random.Random(1)
    statements: collections.Counter[str] = collections.Counter()
    sent = [0]

    def counted(name: str) -> None:
        original = getattr(psycopg.Cursor, name)

        def run(self: Any, query: Any, *a: Any, **k: Any) -> Any:
            sent[0] += 1
            if args.sql:
                text = query if isinstance(query, str) else query.as_string(self)
                statements[f"{name}: {' '.join(str(text).split())[:120]}"] += 1
            return original(self, query, *a, **k)

        setattr(psycopg.Cursor, name, run)

    for name in ("execute", "executemany", "copy"):
        counted(name)

    def signed(data: dict[str, Any]) -> Any:
        body = orjson.dumps(
            {
                "infno": "2207",
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

    profile = cProfile.Profile(time.process_time) if args.profile else None
    wall = cpu = 0.0
    ok = total = 0
    for r in range(args.rounds + 1):
        batch = [signed(claim(rng, rng.choice(persons))) for _ in range(args.batch)]
        if r == 0:  # not timed
            settle_batch(engine, settings, batch)
            statements.clear()
            sent[0] = 0
            continue
        start, used = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        out = settle_batch(engine, settings, batch)
        if profile is not None:
            profile.disable()
        wall += time.perf_counter() - start
        cpu += time.process_time() - used
        ok += sum(1 for o in out if isinstance(o, dict) and o.get("infcode") == 0)
        total += len(out)
    engine.dispose()
    for text, n in statements.most_common():
        print(f"{n / args.rounds:5.1f} {text}")
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)
    print(f"settled: {ok} of {total}")
    print(
        f"2207: {wall / total * 1000:.2f} ms wall, {cpu / total * 1000:.2f} ms CPU a request, "
        f"{sent[0] / args.rounds:.1f} statements a batch of {args.batch}"
    )


if __name__ == "__main__":
    main()
