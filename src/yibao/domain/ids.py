"""Ids of stored entities. An entity read from the store has its id; a use case that needs it
says so with ``require_id`` or ``if x.id is None: raise NotStored(...)``, which hold under
``python -O`` (an ``assert`` is stripped there)."""

from __future__ import annotations

from typing import Protocol

from yibao.domain.errors import RecordError


class NotStored(RecordError):
    """An entity used as stored has no id: it was never written (a programming error)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} has no id: it is not stored")


class _Identified(Protocol):
    @property
    def id(self) -> int | None: ...


def require_id(entity: _Identified, what: str | None = None) -> int:
    """The entity's id, or ``NotStored`` naming ``what`` (the entity's type by default)."""
    if entity.id is None:
        raise NotStored(what or type(entity).__name__)
    return entity.id
