"""How ``api.serving.batch.Batcher`` forms batches: busy callers who send again at once are settled
together when it lingers (not in alternating halves); a caller who does not come back is not
waited for beyond the linger; a lone caller never waits; callers on several event loops at once
(a test client's requests from several threads) are each answered on their own loop.

The batcher runs on a virtual clock (``tests.virtual_clock``) with its work on the loop: every
pause below is exact, so the batches come out the same on an idle or an overloaded machine."""

from __future__ import annotations

import asyncio
import threading

from tests.virtual_clock import run_virtual
from yibao.api.serving.batch import Batcher


class Work:
    """Records the size of every batch; answers each item with itself."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, items: list[tuple[int, int]]) -> list[tuple[int, int]]:
        self.sizes.append(len(items))
        return items


async def _caller(batcher: Batcher[tuple[int, int], tuple[int, int]], me: int, rounds: int) -> None:
    for r in range(rounds):
        assert await batcher.submit((me, r)) == (me, r)
        await asyncio.sleep(0.005 * (me + 1))  # each sends again after its own short pause


def _sizes(linger: float, rounds: list[int]) -> list[int]:
    """Batch sizes when caller i sends ``rounds[i]`` requests, one after the other."""
    work = Work()
    batcher: Batcher[tuple[int, int], tuple[int, int]] = Batcher(
        work, 64, linger=linger, in_thread=False
    )

    async def main() -> None:
        calls = (_caller(batcher, me, n) for me, n in enumerate(rounds))
        await asyncio.wait_for(asyncio.gather(*calls), 60)

    run_virtual(main())
    assert sum(work.sizes) == sum(rounds)
    return work.sizes


def test_busy_callers_are_settled_together_when_the_batcher_lingers() -> None:
    # a generous linger: the four callers are back within it, so every batch holds all four
    assert _sizes(30.0, [5, 5, 5, 5]) == [4, 4, 4, 4, 4]
    # without it, each batch takes what is queued: the callers straggle into smaller batches
    assert max(_sizes(0.0, [5, 5, 5, 5])[1:]) < 4


def test_a_caller_who_does_not_come_back_is_waited_for_no_longer_than_the_linger() -> None:
    # the fourth caller sends once: the second batch expects four, waits 0.2 s, settles three
    assert _sizes(0.2, [2, 2, 2, 1]) == [4, 3]


def test_a_lone_caller_never_waits() -> None:
    # the last batch answered one and it is back: a linger of 30 s is never used
    assert _sizes(30.0, [6]) == [1, 1, 1, 1, 1, 1]


def test_after_a_pause_nobody_is_expected() -> None:
    # four callers once; a pause of 30 lingers; then one caller, and another half a linger
    # later: the first of these is not held back for the four (it would have waited for the
    # second, and they would have been one batch)
    work = Work()
    batcher: Batcher[tuple[int, int], tuple[int, int]] = Batcher(
        work, 64, linger=0.05, in_thread=False
    )

    async def later(me: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await batcher.submit((me, 0))

    async def main() -> None:
        await asyncio.gather(*(batcher.submit((me, 0)) for me in range(4)))
        await asyncio.wait_for(asyncio.gather(later(4, 1.5), later(5, 1.525)), 60)

    run_virtual(main())
    assert work.sizes == [4, 1, 1]


def test_callers_on_several_event_loops_at_once_are_each_answered() -> None:
    # four threads, each with its event loop, send at once, again and again; each request is
    # answered on its own loop (a batcher with one queue for whichever loop came last put one
    # loop's request on another's queue, and its caller waited for ever)
    work = Work()
    batcher: Batcher[tuple[int, int], tuple[int, int]] = Batcher(work, 64)
    start = threading.Barrier(4)
    answers: dict[int, list[tuple[int, int]]] = {}

    async def caller(me: int) -> None:
        got = answers.setdefault(me, [])
        for r in range(100):
            got.append(await asyncio.wait_for(batcher.submit((me, r)), 60))

    def thread(me: int) -> None:
        start.wait()
        asyncio.run(caller(me))

    threads = [threading.Thread(target=thread, args=(me,)) for me in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == {me: [(me, r) for r in range(100)] for me in range(4)}
