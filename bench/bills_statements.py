"""Where the database's CPU of a bill goes, statement by statement: runs ``bench/bills_batch.py``
(same arguments) with psycopg's ``execute``, ``executemany``, ``copy`` and ``commit`` wrapped to
read the backend's CPU (``/proc/<pid>/schedstat``, so a local server whose processes are
readable) before and after each, then prints per transaction the statements by CPU a batch.

    python bench/bills_statements.py --db postgresql://postgres@127.0.0.1:5432/DB [--rounds 30]
                                     [--top 25] [bills_batch.py's other options]

The first round (not timed by bills_batch.py) is left out. Reading ``/proc`` and the short
pause that lets the backend finish before the second reading make the bill slower than
``bills_batch.py`` alone: compare the statements, not its ``visits/s``.
"""

from __future__ import annotations

import collections
import contextlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg

try:
    from bench import bills_batch
except ImportError:
    import bills_batch  # type: ignore[no-redef,import-not-found]

WARM = 3  # the batches of the first round: a 2201, a 2204 and a 2207
spent: dict[tuple[str, str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
phase = [""]  # the transaction being batched; "" outside the timed rounds
batches = [0]


def backend_cpu(pid: int) -> int:
    time.sleep(0.0002)  # the backend answered; let it finish and wait for the next message
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _text(sql: Any) -> str:
    text = sql.decode() if isinstance(sql, bytes) else sql if isinstance(sql, str) else repr(sql)
    return re.sub(r"\s+", " ", text)[:110]


def _count(kind: str, sql: str, pid: int, before: int) -> None:
    entry = spent[(phase[0], kind, sql)]
    entry[0] += 1
    entry[1] += backend_cpu(pid) - before


def _wrap(cls: type, name: str, pid_of: Callable[[Any], int], sql_of: Callable[..., str]) -> None:
    original = getattr(cls, name)

    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not phase[0]:
            return original(self, *args, **kwargs)
        pid = pid_of(self)
        before = backend_cpu(pid)
        try:
            return original(self, *args, **kwargs)
        finally:
            _count(name, sql_of(*args), pid, before)

    setattr(cls, name, wrapped)


def _cursor_pid(cursor: Any) -> int:
    return int(cursor.connection.info.backend_pid)


_wrap(psycopg.Cursor, "execute", _cursor_pid, lambda sql, *_: _text(sql))
_wrap(psycopg.Cursor, "executemany", _cursor_pid, lambda sql, *_: _text(sql))
_wrap(psycopg.Connection, "commit", lambda c: int(c.info.backend_pid), lambda *_: "COMMIT")
_copy = psycopg.Cursor.copy


@contextlib.contextmanager
def _copy_wrapped(self: Any, statement: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
    if not phase[0]:
        with _copy(self, statement, *args, **kwargs) as copy:
            yield copy
        return
    pid = _cursor_pid(self)
    before = backend_cpu(pid)
    with _copy(self, statement, *args, **kwargs) as copy:
        yield copy
    _count("copy", _text(statement), pid, before)


psycopg.Cursor.copy = _copy_wrapped  # type: ignore[method-assign]
_settle_batch = bills_batch.settle_batch  # type: ignore[attr-defined]


def _settle(engine: Any, settings: Any, batch: list[Any]) -> Any:
    batches[0] += 1
    phase[0] = batch[0].envelope.infno if batches[0] > WARM and batch else ""
    try:
        return _settle_batch(engine, settings, batch)
    finally:
        phase[0] = ""


def report(top: int) -> None:
    rounds = (batches[0] - WARM) / 3
    if rounds <= 0:
        return
    for infno in ("2201", "2204", "2207"):
        rows = sorted(((v[1], v[0], k) for k, v in spent.items() if k[0] == infno), reverse=True)
        total = sum(r[0] for r in rows) / rounds / 1e6
        count = sum(r[1] for r in rows) / rounds
        print(f"== {infno}: {total:.2f} ms of the backend's CPU a batch, {count:.1f} statements")
        for used, calls, (_, kind, sql) in rows[:top]:
            print(f"{used / rounds / 1e3:7.0f} µs {calls / rounds:4.1f}× {kind:11s} {sql}")


def main() -> None:
    args = sys.argv[1:]
    top = 25
    if "--top" in args:
        at = args.index("--top")
        top = int(args[at + 1])
        del args[at : at + 2]
    bills_batch.settle_batch = _settle  # type: ignore[attr-defined,assignment]
    sys.argv = ["bills_batch.py", *args]
    bills_batch.main()
    report(top)


if __name__ == "__main__":
    main()
