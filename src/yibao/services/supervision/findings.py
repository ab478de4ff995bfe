"""Supervision findings worked to the end (稽核): record a run's findings idempotently, list
them with their evidence, confirm with a recovery amount, dismiss with a reason, recover (a
balanced ledger transaction: the institution owes the fund), and institutions' credit scores
per year. Every move is audited (who, when). docs/supervision.md.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from yibao.domain.errors import InvalidField, check_one_of
from yibao.domain.ledger import LedgerTransaction
from yibao.domain.supervision import (
    check_move,
    check_reason,
    check_recovery,
    credit_score,
    recovery_postings,
)
from yibao.policy.params import Policy
from yibao.policy.supervision import rule_catalogue
from yibao.policy.vocab import FindingStatus, InsuranceScheme, Severity, SupervisionRule
from yibao.services import clock
from yibao.store.repositories import NewFinding
from yibao.store.supervision_models import FindingRow
from yibao.store.uow import UnitOfWork

#: The ledger transaction kind of a recovery (追回).
RECOVERY = "supervision_recovery"


def _actor(by: str) -> str:
    name = by.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise InvalidField("by", "who acts: 1 to 64 printable characters")
    return name


def _sn(row: dict[str, Any]) -> str | None:
    """A piece of evidence's line serial: an area's number (−1: none) or the store's text."""
    sn = row["feedetl_sn"]
    return None if sn is None or sn == -1 else str(sn)


def findings_of(evidence: pa.Table, area: str, year: int) -> list[NewFinding]:
    """A run's evidence rows (``services.supervision.area``) as findings: one per rule and
    claim, its severity from the area's rule catalogue, its amount the sum of its lines'
    amounts (a visit's finding: the claim's total)."""
    catalogue = rule_catalogue(Policy(area), dt.date(year, 1, 1))
    groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in evidence.to_pylist():
        groups[(row["rule"], row["claim_id"])].append(row)
    out = []
    for (rule, claim), rows in groups.items():
        lines = {_sn(r): r["amount"] for r in rows if _sn(r) is not None}
        amount = sum(lines.values()) if lines else rows[0]["amount"]
        first = rows[0]
        out.append(
            NewFinding(
                area=area,
                year=year,
                rule=rule,
                severity=catalogue.rule(SupervisionRule(rule)).severity.value,
                claim_ref=str(claim),
                psn_no=str(first["psn_no"]),
                institution=str(first["fixmedins_code"]),
                scheme=str(first["scheme"]),
                amount=int(amount),
                evidence=tuple(
                    (
                        _sn(r),
                        str(r["other_claim_id"]) if r["other_claim_id"] >= 0 else None,
                        int(r["amount"]),
                    )
                    for r in rows
                ),
            )
        )
    return out


def record(uow: UnitOfWork, evidence: pa.Table, area: str, year: int) -> int:
    """Store a run's findings; a rerun adds none twice. Returns the new findings."""
    found = findings_of(evidence, area, year)
    with uow:
        added = uow.supervision.add_findings(found)
        uow.commit()
    return added


@dataclass(frozen=True)
class FindingView:
    """A finding as an auditor sees it: no patient name or ID number, only the person's
    insurance number, the institution and the evidence."""

    id: int
    area: str
    year: int
    rule: str
    severity: str
    claim: str
    psn_no: str
    institution: str
    amount: int
    status: str
    recovery: int | None
    reason: str | None
    evidence: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _view(uow: UnitOfWork, row: FindingRow, detail: bool = False) -> FindingView:
    evidence: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    if detail:
        evidence = tuple(
            {"line": e.line_sn, "other_claim": e.other_claim_ref, "amount": e.amount}
            for e in uow.supervision.evidence(row.id)
        )
        actions = tuple(
            {"status": a.status, "by": a.actor, "at": a.at.isoformat(), "detail": a.detail}
            for a in uow.supervision.actions(row.id)
        )
    return FindingView(
        row.id,
        row.area,
        row.year,
        row.rule,
        row.severity,
        row.claim_ref,
        row.psn_no,
        row.institution,
        row.amount,
        row.status,
        row.recovery,
        row.reason,
        evidence,
        actions,
    )


def list_findings(
    uow: UnitOfWork,
    area: str | None = None,
    year: int | None = None,
    status: str | None = None,
    rule: str | None = None,
    institution: str | None = None,
) -> list[FindingView]:
    """Findings, filtered; an unknown status or rule is refused naming it."""
    check_one_of("status", status, (k.value for k in FindingStatus))
    check_one_of("rule", rule, (k.value for k in SupervisionRule))
    with uow:
        rows = uow.supervision.find(
            area=area, year=year, status=status, rule=rule, institution=institution
        )
        return [_view(uow, r) for r in rows]


def show(uow: UnitOfWork, finding_id: int) -> FindingView:
    """A finding with its evidence and its audit trail."""
    with uow:
        return _view(uow, uow.supervision.get(finding_id), detail=True)


def _move(
    uow: UnitOfWork, finding_id: int, to: FindingStatus, by: str, detail: str | None
) -> FindingRow:
    """Move a finding (locked) if the workflow allows it; audit the move unless ``detail`` is
    None (the caller audits it)."""
    actor = _actor(by)
    row = uow.supervision.get(finding_id, lock=True)
    check_move(finding_id, FindingStatus(row.status), to)
    row.status = to.value
    if detail is not None:
        uow.supervision.act(finding_id, to.value, actor, clock.now(), detail)
    return row


def confirm(uow: UnitOfWork, finding_id: int, recovery: int, by: str) -> FindingView:
    """open → confirmed, with the amount the institution must pay back (fen)."""
    amount = check_recovery(recovery)
    with uow:
        row = _move(uow, finding_id, FindingStatus.CONFIRMED, by, f"recovery {amount} fen")
        row.recovery = amount
        uow.commit()
    return show(uow, finding_id)


def dismiss(uow: UnitOfWork, finding_id: int, reason: str, by: str) -> FindingView:
    """open or confirmed → dismissed, with a reason."""
    text = check_reason(reason)
    with uow:
        row = _move(uow, finding_id, FindingStatus.DISMISSED, by, text)
        row.reason = text
        uow.commit()
    return show(uow, finding_id)


def recover(uow: UnitOfWork, finding_id: int, by: str, on: dt.date | None = None) -> FindingView:
    """confirmed → recovered: one balanced ledger transaction (D the institution's
    ``institution_payable``, C the scheme's pooling fund of the area), referenced
    ``recovery:<id>`` so it is posted once; dated ``on`` (default today), not after today nor
    before the finding's year."""
    today = clock.today()
    day = on or today
    if day > today:
        raise InvalidField("on", f"{day} is after today ({today})")
    with uow:
        row = _move(uow, finding_id, FindingStatus.RECOVERED, by, None)
        if day.year < row.year:
            raise InvalidField("on", f"{day} is before the finding's year ({row.year})")
        assert row.recovery is not None  # a confirmed finding has its amount
        txn = LedgerTransaction.of(
            RECOVERY,
            day,
            recovery_postings(row.recovery, row.institution, row.area, InsuranceScheme(row.scheme)),
            description=f"追回 {row.rule} claim {row.claim_ref}",
            reference=f"recovery:{finding_id}",
        )
        row.ledger_transaction = uow.ledger.post(txn)
        uow.supervision.act(
            finding_id,
            FindingStatus.RECOVERED.value,
            _actor(by),
            clock.now(),
            f"ledger transaction {row.ledger_transaction} on {day.isoformat()}",
        )
        uow.commit()
    return show(uow, finding_id)


def credit_scores(uow: UnitOfWork, area: str, year: int) -> dict[str, int]:
    """Each institution's credit score for the year (``domain.supervision.credit_score``):
    every institution with a finding of the year, from its confirmed and recovered ones."""
    severities: dict[str, list[Severity]] = defaultdict(list)
    with uow:
        for row in uow.supervision.find(area=area, year=year):
            severities.setdefault(row.institution, [])
            if row.status in (FindingStatus.CONFIRMED, FindingStatus.RECOVERED):
                severities[row.institution].append(Severity(row.severity))
    return {code: credit_score(s) for code, s in sorted(severities.items())}
