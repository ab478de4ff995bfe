"""The errors a rule raises on an input it cannot accept. The domain's errors build on them
(``yibao.domain.errors`` re-exports these), so every edge catches one family."""

from __future__ import annotations

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
