"""The year's supervision run over the store (``yibao supervise --year Y --area A --db URL``):
the read and the rules (``services.supervision.store_run.supervise_store``), then the
findings recorded (``services.supervision.findings.record``) into an empty findings table,
then recorded again (a rerun adds none).

    python bench/supervise_store.py --db postgresql://postgres@127.0.0.1:5432/DB
                                    [--area 360100] [--year 2025]

The database holds a loaded area (``bench/synth_load.py``); its findings are deleted first
(use a scratch database). Prints the wall and this process's CPU time of each step, the
counts, and a digest of the recorded findings with their evidence (equal digests: the same
findings); last line ``lines/s: <n>`` (lines read and checked per second of wall time).
"""

from __future__ import annotations

import argparse
import hashlib
import time

from sqlalchemy import text

from yibao.services.supervision import findings
from yibao.services.supervision.store_run import supervise_store
from yibao.store.db import make_engine
from yibao.store.uow import UnitOfWork


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--area", default="360100")
    parser.add_argument("--year", type=int, default=2025)
    args = parser.parse_args()
    engine = make_engine(args.db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM supervision_actions"))
        conn.execute(text("DELETE FROM supervision_evidence"))
        conn.execute(text("DELETE FROM supervision_findings"))

    def timed(label: str, fn):  # type: ignore[no-untyped-def]
        start, used = time.perf_counter(), time.process_time()
        out = fn()
        wall, cpu = time.perf_counter() - start, time.process_time() - used
        print(f"{label}: {wall:.2f} s wall, {cpu:.2f} s CPU")
        return out, wall

    (evidence, n_lines, n_visits), read = timed(
        "read + rules", lambda: supervise_store(UnitOfWork.for_engine(engine), args.area, args.year)
    )
    added, write = timed(
        "record",
        lambda: findings.record(UnitOfWork.for_engine(engine), evidence, args.area, args.year),
    )
    again, _ = timed(
        "record again",
        lambda: findings.record(UnitOfWork.for_engine(engine), evidence, args.area, args.year),
    )
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT f.rule, f.claim_ref, f.severity, f.psn_no, f.institution, f.scheme, "
                "f.amount, e.line_sn, e.other_claim_ref, e.amount FROM supervision_findings f "
                "JOIN supervision_evidence e ON e.finding_id = f.id"
            )
        ).all()
    digest = hashlib.sha256("\n".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
    print(
        f"visits {n_visits}, lines {n_lines}, evidence {evidence.num_rows}, recorded {added}, "
        f"again {again}"
    )
    print(f"findings digest: {digest[:16]} ({len(rows)} evidence rows)")
    engine.dispose()
    print(f"lines/s: {n_lines / (read + write):.0f}")


if __name__ == "__main__":
    main()
