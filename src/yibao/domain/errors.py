"""Typed errors of the system of record. Each names what was refused and why."""

from __future__ import annotations

from yibao.rules.errors import InvalidField, RecordError, check_one_of

__all__ = [
    "InvalidField",
    "RecordError",
    "check_one_of",
]  # defined with the rules, the lowest layer that raises them


class InvalidNationalId(InvalidField):
    """A national ID (居民身份证号码) failed ``stdnum.cn.ric`` validation."""


class NotFound(RecordError, LookupError):
    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key} not found")


class AlreadyExists(RecordError):
    def __init__(self, what: str, key: object) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key} already exists")


class DuplicateEnrolment(RecordError):
    """The person already has an open enrolment: no duplicate participation (重复参保)."""

    def __init__(self, person: str, existing: str, existing_id: int | None) -> None:
        self.person = person
        self.existing = existing
        self.existing_id = existing_id
        super().__init__(f"person {person} is already enrolled: {existing}")


class EnrolmentStateError(RecordError):
    """An enrolment cannot make this change from its current state."""

    def __init__(self, enrolment: str, action: str, reason: str) -> None:
        self.enrolment = enrolment
        self.action = action
        self.reason = reason
        super().__init__(f"cannot {action} {enrolment}: {reason}")


class ContributionRefused(RecordError):
    """A contribution cannot be recorded; nothing was changed."""

    def __init__(self, person: str, reason: str) -> None:
        self.person = person
        self.reason = reason
        super().__init__(f"contribution for {person} refused: {reason}")


class DuplicateContribution(ContributionRefused):
    """The same person, kind and period has already been paid."""


class MutualAidNotAuthorised(RecordError):
    """Family mutual aid (家庭共济) without an active authorised link."""

    def __init__(self, owner: str, relative: str, reason: str) -> None:
        self.owner = owner
        self.relative = relative
        self.reason = reason
        super().__init__(f"mutual aid from {owner} to {relative} refused: {reason}")


class InsufficientBalance(RecordError):
    def __init__(self, account: str, available: int, needed: int) -> None:
        self.account = account
        self.available = available
        self.needed = needed
        super().__init__(f"account {account} holds {available} fen, {needed} fen needed")


class UnbalancedTransaction(RecordError):
    """Postings of one ledger transaction do not sum to zero."""

    def __init__(self, reference: str, total: int) -> None:
        self.reference = reference
        self.total = total
        super().__init__(
            f"ledger transaction {reference} is unbalanced: postings sum to {total} fen"
        )


class SettlementRefused(RecordError):
    """A settlement, visit or reversal request cannot be carried out; nothing was changed."""

    def __init__(self, subject: str, reason: str) -> None:
        self.subject = subject
        self.reason = reason
        super().__init__(f"{subject}: {reason}")


class SupervisionRefused(SettlementRefused):
    """A settlement (2207) refused by a supervision rule whose action is ``refuse``: the rule's
    code, how many lines fire it and, when they were read, their serials (``feedetl_sn``), or
    for a rule over the visit (``why``) what fired; nothing was stored."""

    def __init__(
        self,
        subject: str,
        rule: str,
        description: str,
        count: int,
        lines: list[str] | None,
        why: str | None = None,
    ) -> None:
        self.rule = rule
        self.count = count
        self.lines = lines
        if why is None:
            which = f"line(s) {', '.join(lines)}" if lines else f"{count} line(s) (2206 names them)"
            why = f"{which}; cancel (2205) or correct them, then settle again"
        super().__init__(subject, f"refused by supervision rule {rule} ({description}): {why}")


class RequestConflict(SettlementRefused):
    """A request id already used for a different request (idempotency keys are not reusable)."""


class ForeignRecord(RecordError):
    """The record belongs to another institution (or person) than the caller's."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"{what} belongs to another institution")
