"""Record linkage's candidate pairs (匹配候选) without the ORM: a pair's status and the moves a
reviewer may make (docs/linkage.md).

A pair is ``auto`` (linked without review: its match probability at or above
``compare.linkage.match_threshold`` and no rival candidate of its record) or ``review``; a
person confirms a ``review`` pair (the record is that person, and the record's other candidates
are rejected with it) or rejects it; an ``auto`` pair may be rejected too. Confirmed and auto
pairs count as matched by ID in the findings.
"""

from __future__ import annotations

from enum import StrEnum

from yibao.domain.errors import InvalidField, RecordError


class PairStatus(StrEnum):
    AUTO = "auto"
    REVIEW = "review"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


#: The moves the review allows: from a status, the statuses it may go to.
TRANSITIONS: dict[PairStatus, frozenset[PairStatus]] = {
    PairStatus.AUTO: frozenset({PairStatus.REJECTED}),
    PairStatus.REVIEW: frozenset({PairStatus.CONFIRMED, PairStatus.REJECTED}),
    PairStatus.CONFIRMED: frozenset(),
    PairStatus.REJECTED: frozenset(),
}
#: The statuses of a pair that links its record to its person.
LINKED = frozenset({PairStatus.AUTO, PairStatus.CONFIRMED})


class PairStateError(RecordError):
    """A move the review does not allow (e.g. confirming a rejected pair, or a second pair of
    a record whose person is already confirmed)."""

    def __init__(self, pair: int, status: str, wanted: str) -> None:
        super().__init__(f"candidate pair {pair}: cannot go from {status} to {wanted}")


def check_move(pair: int, status: PairStatus, wanted: PairStatus) -> None:
    """Refuse a move the review does not allow."""
    if wanted not in TRANSITIONS[status]:
        raise PairStateError(pair, status.value, wanted.value)


def check_note(note: str | None) -> str | None:
    """A reviewer's note: at most 500 printable characters (None or blank: none)."""
    if note is None or not note.strip():
        return None
    text = note.strip()
    if len(text) > 500 or not text.isprintable():
        raise InvalidField("note", "at most 500 printable characters")
    return text
