"""What a transaction handler gets: the caller, the msgid, units of work whose commit also
stores the msgid marker and the audit entries (so a write, its audit record and its idempotency
key commit together or not at all)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from yibao.api.http.auth import Principal
from yibao.api.http.settings import Settings
from yibao.domain.masking import mask_name, mask_national_id, mask_phone
from yibao.services import clock
from yibao.services.fees.source import CatalogueSource
from yibao.store.db import make_session_factory
from yibao.store.repositories import ApiRepository, AuditEntry
from yibao.store.uow import JoinedUnitOfWork, UnitOfWork


class ApiUnitOfWork(UnitOfWork):
    """A unit of work whose ``commit`` first writes the transaction's msgid marker and pending
    audit entries in the same database transaction."""

    def __init__(self, session_factory: sessionmaker[Session], ctx: TxContext) -> None:
        super().__init__(session_factory)
        self.ctx = ctx

    def commit(self) -> None:
        self.session.flush()
        self.ctx.before_commit(self.session)
        super().commit()


@dataclass
class TxContext:
    engine: Engine
    settings: Settings
    principal: Principal
    msgid: str
    infno: str
    request_sha256: str
    audits: list[AuditEntry] = field(default_factory=list)
    marked: bool = False
    today: dt.date = field(default_factory=clock.today)
    #: Where the fee services get a region's catalogue (None: ``services.fees.source``'s).
    catalogues: CatalogueSource | None = None

    @property
    def action(self) -> str:
        return f"tx:{self.infno}"

    @property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    def uow(self) -> UnitOfWork:
        """A unit of work for a service that writes."""
        return ApiUnitOfWork(self.session_factory, self)

    def read_uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    def audit(
        self,
        person_id: int | None = None,
        target: str | None = None,
        detail: str | None = None,
        outcome: str = "ok",
    ) -> None:
        self.audits.append(
            AuditEntry(
                actor=self.principal.actor,
                role=self.principal.role.value,
                action=self.action,
                outcome=outcome,
                person_id=person_id,
                target=target,
                msgid=self.msgid,
                detail=detail,
            )
        )

    def before_commit(self, session: Session) -> None:
        repo = ApiRepository(session)
        if not self.marked:
            repo.mark_msgid(self.principal.actor, self.msgid, self.infno, self.request_sha256)
        for entry in self.audits:
            repo.audit(entry)
        session.flush()
        self.audits = []
        self.marked = True

    def joined(self, session: Session) -> BatchTxContext:
        """This request's context inside a batch transaction (``BatchTxContext``)."""
        return BatchTxContext(
            engine=self.engine,
            settings=self.settings,
            principal=self.principal,
            msgid=self.msgid,
            infno=self.infno,
            request_sha256=self.request_sha256,
            today=self.today,
            catalogues=self.catalogues,
            session=session,
        )

    # ------------------------------------------------------------------- personal data
    def identity(
        self, person_id: int | None, national_id: str | None, name: str | None
    ) -> dict[str, Any]:
        if self.principal.sees_identity(person_id):
            return {"certno": national_id, "psn_name": name}
        return {"certno": mask_national_id(national_id), "psn_name": mask_name(name)}

    def phone(self, person_id: int | None, phone: str | None) -> str | None:
        return phone if self.principal.sees_identity(person_id) else mask_phone(phone)


@dataclass
class BatchTxContext(TxContext):
    """A request's context inside a batch of requests settled in one database transaction
    (``api.serving.batch``): its units of work join the batch's session (the batch runs the
    request in a savepoint of its own and stores its answer and audit entries with the
    others'), so ``commit`` writes without committing and writes no msgid marker."""

    session: Session | None = None

    def uow(self) -> UnitOfWork:
        assert self.session is not None
        return JoinedUnitOfWork(self.session)

    def read_uow(self) -> UnitOfWork:
        assert self.session is not None
        return JoinedUnitOfWork(self.session)
