"""The errors a rule raises on an input it cannot accept. The domain's errors build on them
(``yibao.domain.errors`` re-exports these), so every edge catches one family."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class RecordError(Exception):
    """Base of every error the rules, registry, enrolment, contribution and ledger layers raise."""


class InvalidField(RecordError, ValueError):
    """A value given for ``field`` is not acceptable; ``reason`` says why."""

    def __init__(self, field: str, reason: str, value: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        super().__init__(f"{field}: {reason}")


def check_one_of(field: str, value: str | None, known: Iterable[str]) -> None:
    """A filter or code that must be one of ``known`` (None: not given), else refused naming
    ``field`` and the values."""
    allowed = tuple(known)
    if value is not None and value not in allowed:
        raise InvalidField(field, f"{value!r} is not one of {', '.join(allowed)}", value)
