"""Ids of stored entities. An entity read from the store has its id; a use case that needs it
says so with ``if x.id is None: raise NotStored("x")``, which holds under ``python -O`` (an
``assert`` is stripped there) and narrows the type as the assert did."""

from __future__ import annotations

from yibao.domain.errors import RecordError


class NotStored(RecordError):
    """An entity used as stored has no id: it was never written (a programming error)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} has no id: it is not stored")
