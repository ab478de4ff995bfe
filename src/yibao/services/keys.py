"""Institution signing keys: which key an institution signs with."""

from __future__ import annotations

from sqlalchemy import select

from yibao.store.api_models import InstitutionKeyRow, InstitutionRow
from yibao.store.uow import UnitOfWork


def newest_key_id(uow: UnitOfWork, code: str) -> str | None:
    """The newest active key id of the active institution ``code`` (None: no such key)."""
    with uow:
        found: str | None = uow.session.scalar(
            select(InstitutionKeyRow.key_id)
            .join(InstitutionRow, InstitutionRow.id == InstitutionKeyRow.institution_id)
            .where(
                InstitutionRow.code == code,
                InstitutionRow.active.is_(True),
                InstitutionKeyRow.active.is_(True),
            )
            .order_by(InstitutionKeyRow.id.desc())
            .limit(1)
        )
    return found
