"""Worklists of a stored comparison and the actions that close them, through the services.

An action on a list of findings is all-or-nothing: every service call joins one transaction
(``JoinedUnitOfWork``); if one fails nothing is applied and the error names the finding. Each
finding acted on is marked ``acted`` and the action recorded in ``compare_actions`` (who, what,
when: the audit). What each kind's action does:

- ``uninsured``, ``student_unenrolled``, ``newborn_late``: enrol as a resident in the run's
  area from ``on`` (newborns from their birth date); a person not in the registry is registered
  first from the household or education row (ID and name)
- ``dead_enrolled``: the date of death is recorded in the registry
  (``services.registry.record_death``) and the enrolment ends on it
- ``aid_missing``, ``aid_wrong_class``: the aid class of the aid file from its ``valid_from``
  (``services.registry.set_aid_class``)
- the others (two schemes, two areas, two records, settled after death) need a person's
  judgement: ``close`` records it with a note
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from yibao.domain.enrolment import EnrolmentKind
from yibao.domain.errors import InvalidField, NotFound, RecordError, check_one_of
from yibao.services import enrolment as enrolment_service
from yibao.services import registry as registry_service
from yibao.services.clock import today
from yibao.services.compare.match import KINDS
from yibao.store.compare_models import CompareFindingRow
from yibao.store.repositories.compare import CompareRepository
from yibao.store.uow import JoinedUnitOfWork, UnitOfWork

ENROL = ("uninsured", "student_unenrolled", "newborn_late")
ACTIONS = ("enrol", "end_enrolment", "set_aid_class", "close")


class ActionRefused(RecordError):
    """An action on a finding was refused; nothing of the batch was applied."""

    def __init__(self, finding: int, reason: str) -> None:
        self.finding = finding
        self.reason = reason
        super().__init__(f"finding {finding}: {reason} (nothing applied)")


@dataclass(frozen=True)
class Acted:
    finding: int
    kind: str
    action: str
    detail: str


def action_for(kind: str, detail: str = "") -> str:
    """The action a finding's kind takes (a newborn enrolled late is enrolled already)."""
    if kind == "newborn_late" and ", enrolled " in detail:
        return "close"
    if kind in ENROL:
        return "enrol"
    if kind == "dead_enrolled":
        return "end_enrolment"
    if kind in ("aid_missing", "aid_wrong_class"):
        return "set_aid_class"
    return "close"


#: A finding's states: open, then acted on (its kind's action applied) or closed with a note.
STATUSES = ("open", "acted", "closed")


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def _apply(
    uow: UnitOfWork,
    row: CompareFindingRow,
    area: str,
    on: dt.date,
    note: str | None,
    by: str = "compare",
) -> tuple[str, str]:
    joined = JoinedUnitOfWork(uow.session)
    evidence = json.loads(row.evidence or "{}")
    action = action_for(row.kind, row.detail)
    if action == "enrol":
        who: str | int
        if row.person_id is None:
            if not row.id_no:
                raise InvalidField("id_no", "the finding has no valid ID to register")
            household = evidence.get("household_no") or None
            registry_service.add_person(
                joined,
                row.id_no,
                row.name or "",
                region=area,
                household=household,
                address=evidence.get("address") if household else None,
            )
            who = row.id_no
        else:
            who = row.person_id
        start: dt.date = on
        birth = _date(evidence.get("birth_date"))
        if row.kind == "newborn_late" and birth is not None:
            start = birth
        enrolment_service.enrol(joined, who, EnrolmentKind.RESIDENT, area, start)
        return action, f"enrolled as a resident in {area} from {start.isoformat()}"
    if action == "end_enrolment":
        if row.person_id is None or row.on_date is None:
            raise InvalidField("finding", "no person or date of death")
        registry_service.record_death(
            joined, row.person_id, row.on_date, actor=f"compare:{by}", role="compare"
        )
        enrolment_service.terminate(joined, row.person_id, row.on_date, "died (death file)")
        return action, f"enrolment ended on {row.on_date.isoformat()} (date of death)"
    if action == "set_aid_class":
        kind = evidence.get("aid_class")
        valid_from = _date(evidence.get("valid_from"))
        if row.person_id is None or not kind or valid_from is None:
            raise InvalidField("finding", "no person, aid class or date in its evidence")
        end = _date(evidence.get("valid_to"))
        registry_service.set_aid_class(joined, row.person_id, kind, valid_from, end)
        return action, f"aid class {kind} from {valid_from.isoformat()}"
    if not note or not note.strip():
        raise InvalidField("note", f"a {row.kind} finding is closed with a note saying why")
    return action, note.strip()


def act(
    uow: UnitOfWork,
    finding_ids: list[int],
    by: str,
    *,
    on: dt.date | None = None,
    note: str | None = None,
) -> list[Acted]:
    """Act on each finding (its kind's action), all or nothing, audited as ``by``."""
    if not by or not by.strip():
        raise InvalidField("by", "missing")
    if not finding_ids:
        raise InvalidField("finding", "give at least one")
    if len(set(finding_ids)) != len(finding_ids):
        raise InvalidField("finding", "repeated")
    day = on or today()
    done: list[Acted] = []
    with uow:
        repo = CompareRepository(uow.session)
        for fid in finding_ids:
            try:
                row = repo.finding(fid, lock=True)
            except NotFound as exc:
                raise ActionRefused(fid, "not found") from exc
            if row.status != "open":
                raise ActionRefused(fid, f"already {row.status}")
            area = repo.run(row.run_id).area
            try:
                action, detail = _apply(uow, row, area, day, note, by.strip()[:60])
            except RecordError as exc:
                raise ActionRefused(fid, str(exc)) from exc
            row.status = "acted" if action != "close" else "closed"
            repo.add_action(fid, action, by.strip()[:60], detail)
            done.append(Acted(fid, row.kind, action, detail))
        uow.session.flush()
        uow.commit()
    return done


@dataclass(frozen=True)
class FindingView:
    id: int
    run: int
    kind: str
    status: str
    person: int | None
    id_no: str | None
    name: str | None
    source: str
    row_no: int | None
    on_date: str | None
    detail: str
    evidence: dict[str, Any]
    action: str
    history: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _view(row: CompareFindingRow, history: list[dict[str, Any]] | None = None) -> FindingView:
    return FindingView(
        id=row.id,
        run=row.run_id,
        kind=row.kind,
        status=row.status,
        person=row.person_id,
        id_no=row.id_no,
        name=row.name,
        source=row.source,
        row_no=row.row_no,
        on_date=row.on_date.isoformat() if row.on_date else None,
        detail=row.detail,
        evidence=json.loads(row.evidence or "{}"),
        action=action_for(row.kind, row.detail),
        history=history or [],
    )


def findings(
    uow: UnitOfWork,
    run_id: int | None = None,
    *,
    kind: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[int, list[FindingView]]:
    """A worklist: the findings of run ``run_id`` (default: the latest run); an unknown kind or
    status is refused naming it."""
    check_one_of("kind", kind, KINDS)
    check_one_of("status", status, STATUSES)
    with uow:
        repo = CompareRepository(uow.session)
        run = repo.run(run_id)
        rows = repo.findings(run.id, kind, status, limit, offset)
        return run.id, [_view(r) for r in rows]


def finding(uow: UnitOfWork, finding_id: int) -> FindingView:
    with uow:
        repo = CompareRepository(uow.session)
        row = repo.finding(finding_id)
        history = [
            {"action": a.action, "by": a.actor, "detail": a.detail, "at": a.at.isoformat()}
            for a in repo.actions(finding_id)
        ]
        return _view(row, history)


def run_summary(uow: UnitOfWork, run_id: int | None = None) -> dict[str, Any]:
    """A stored run: its sources, counts by kind and status, and coverage."""
    with uow:
        repo = CompareRepository(uow.session)
        run = repo.run(run_id)
        counts: dict[str, dict[str, int]] = {}
        for (k, s), n in repo.counts(run.id).items():
            counts.setdefault(k, {})[s] = n
        return {
            "run_id": run.id,
            "area": run.area,
            "on": run.on_date.isoformat(),
            "digest": run.digest,
            "by": run.created_by,
            "sources": json.loads(run.sources),
            "findings": counts,
            "unmatched": len(repo.unmatched(run.id)),
            "coverage": json.loads(run.coverage),
        }
