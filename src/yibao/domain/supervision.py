"""Supervision findings (稽核结果) without the ORM: the workflow's transitions, the recovery's
ledger legs and an institution's credit score (docs/supervision.md)."""

from __future__ import annotations

from collections.abc import Iterable

from yibao.domain.errors import InvalidField, RecordError
from yibao.domain.ledger import AccountKind, AccountRef, Posting, credit, debit
from yibao.policy.vocab import FindingStatus, InsuranceScheme, Severity

#: The moves the workflow allows: from a status, the statuses it may go to.
TRANSITIONS: dict[FindingStatus, frozenset[FindingStatus]] = {
    FindingStatus.OPEN: frozenset({FindingStatus.CONFIRMED, FindingStatus.DISMISSED}),
    FindingStatus.CONFIRMED: frozenset({FindingStatus.RECOVERED, FindingStatus.DISMISSED}),
    FindingStatus.RECOVERED: frozenset(),
    FindingStatus.DISMISSED: frozenset(),
}
#: The most a recovery may be (fen): 100 million yuan, far above any one visit.
MAX_RECOVERY = 10_000_000_000
#: Points a confirmed or recovered finding takes off an institution's score, by severity.
SCORE_POINTS: dict[Severity, int] = {Severity.LOW: 1, Severity.MEDIUM: 3, Severity.HIGH: 10}
#: An institution's score starts here each year and never goes below 0.
FULL_SCORE = 100


class FindingStateError(RecordError):
    """A move the workflow does not allow (e.g. recovering a dismissed finding)."""

    def __init__(self, finding: int, status: str, wanted: str) -> None:
        super().__init__(f"finding {finding}: cannot go from {status} to {wanted}")


def check_move(finding: int, status: FindingStatus, wanted: FindingStatus) -> None:
    """Refuse a move the workflow does not allow."""
    if wanted not in TRANSITIONS[status]:
        raise FindingStateError(finding, status.value, wanted.value)


def check_recovery(amount: int) -> int:
    """A recovery amount: whole fen, above 0, at most MAX_RECOVERY."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidField("recovery", "must be whole fen")
    if not 0 < amount <= MAX_RECOVERY:
        raise InvalidField("recovery", f"must be above 0 and at most {MAX_RECOVERY} fen")
    return amount


def check_reason(reason: str) -> str:
    text = reason.strip()
    if not text or len(text) > 500:
        raise InvalidField("reason", "a dismissal gives a reason of 1 to 500 characters")
    return text


def recovery_postings(
    amount: int, institution: str, area: str, scheme: InsuranceScheme
) -> list[Posting]:
    """追回: the institution owes the fund. Its account with the funds is debited (what it is
    owed for its settlements falls, or it owes the difference) and the scheme's pooling fund of
    the area is credited (the money comes back)."""
    return [
        debit(AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, institution), amount),
        credit(AccountRef.fund(AccountKind.pooling(scheme), area), amount),
    ]


def credit_score(severities: Iterable[Severity]) -> int:
    """An institution's credit score (信用评分) for a year: FULL_SCORE less SCORE_POINTS of each
    of its confirmed or recovered findings of the year, at least 0."""
    return max(0, FULL_SCORE - sum(SCORE_POINTS[s] for s in severities))
