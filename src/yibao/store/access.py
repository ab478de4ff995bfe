"""Institution keys and staff tokens withdrawn (吊销): the rows behind ``services.access``."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yibao.store.api_models import (
    InstitutionKeyRow,
    InstitutionRow,
    StaffAccountRow,
    StaffTokenRow,
)


def key_of(session: Session, code: str, key_id: str) -> InstitutionKeyRow | None:
    """The key ``key_id`` of institution ``code`` (active or not), locked for the update."""
    return session.scalar(
        select(InstitutionKeyRow)
        .join(InstitutionRow, InstitutionRow.id == InstitutionKeyRow.institution_id)
        .where(InstitutionRow.code == code, InstitutionKeyRow.key_id == key_id)
        .with_for_update()
    )


def deactivate_key(session: Session, row: InstitutionKeyRow, at: dt.datetime) -> bool:
    """Mark the key revoked at ``at``; False if it already was (its date is kept)."""
    if not row.active:
        return False
    row.active = False
    row.revoked_at = at
    session.flush()
    return True


def account_id(session: Session, username: str) -> int | None:
    found: int | None = session.scalar(
        select(StaffAccountRow.id).where(StaffAccountRow.username == username)
    )
    return found


def revoke_live_tokens(session: Session, account: int, now: dt.datetime) -> int:
    """Revoke the account's tokens not yet revoked nor expired; how many were."""
    result = session.execute(
        update(StaffTokenRow)
        .where(
            StaffTokenRow.account_id == account,
            StaffTokenRow.revoked.is_(False),
            StaffTokenRow.expires_at > now,
        )
        .values(revoked=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)
