"""Appending to the audit log (审计日志, table ``audit_log``) from outside the API service: the
command line's reads of a person's file and its administration (revocations). The API writes
the same table through ``yibao.store.repositories.api``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from yibao.store.api_models import AuditRow
from yibao.store.db import utcnow

#: Column widths of ``audit_log`` (values are cut to them, never refused).
ACTOR, ROLE, ACTION, TARGET, MSGID, DETAIL = 80, 24, 40, 80, 64, 500


def append_audit(
    session: Session,
    actor: str,
    role: str,
    action: str,
    outcome: str = "ok",
    person_id: int | None = None,
    target: str | None = None,
    detail: str | None = None,
    at: dt.datetime | None = None,
) -> None:
    """Add one entry to the session (the caller commits); text cut to the column widths."""
    session.add(
        AuditRow(
            at=at or utcnow(),
            actor=actor[:ACTOR],
            role=role[:ROLE],
            action=action[:ACTION],
            person_id=person_id,
            target=None if target is None else target[:TARGET],
            msgid=None,
            outcome=outcome,
            detail=None if detail is None else detail[:DETAIL],
        )
    )
