"""An asyncio event loop on a virtual clock, for tests of timing logic that must not depend on
the machine's load: the clock stands still while there is work to do and, when every task waits
for a timer, jumps straight to the next one. ``asyncio.sleep(1.5)`` takes no real time, and two
tasks that sleep 5 and 10 ms always wake in that order, 5 ms apart.

Only for code that does all its work on the loop: a thread or a socket that answers later would
let the clock jump past it.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """Polls without waiting; when nothing is ready, moves the clock by the wait asked for."""

    clock = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        ready: list[Any] = super().select(0)
        if ready or timeout is None or timeout <= 0:
            return ready if ready or timeout is not None else super().select(None)
        self.clock += timeout
        return []


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.clock


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on a virtual clock."""
    with asyncio.Runner(loop_factory=VirtualClockLoop) as runner:
        return runner.run(main)
