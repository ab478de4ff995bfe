"""The unit of work (Cosmic Python): one database transaction, its repositories, explicit commit.

    with UnitOfWork(session_factory) as uow:
        person = uow.persons.require("360426199101010071")
        ...
        uow.commit()

Leaving the block without ``commit()`` rolls everything back. Every ledger transaction posted
in this unit must sum to zero: on PostgreSQL the deferred constraint trigger checks it at COMMIT,
whatever wrote the postings; elsewhere ``commit()`` checks it first.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from yibao.domain.errors import UnbalancedTransaction
from yibao.domain.ledger import AccountRef
from yibao.store.db import make_engine, make_session_factory
from yibao.store.repositories import (
    ChronicRepository,
    CommercialRepository,
    ContributionRepository,
    CoverageRepository,
    EnrolmentRepository,
    FeeRepository,
    LedgerRepository,
    PersonFileRepository,
    PersonRepository,
    SettlementRepository,
    SupervisionRepository,
)


class UnitOfWork:
    chronic: ChronicRepository
    commercial: CommercialRepository
    persons: PersonRepository
    person_files: PersonFileRepository
    enrolments: EnrolmentRepository
    coverage: CoverageRepository
    ledger: LedgerRepository
    contributions: ContributionRepository
    settlements: SettlementRepository
    fees: FeeRepository
    supervision: SupervisionRepository
    session: Session

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self._account_ids: dict[AccountRef, int] = {}
        self._open = False

    @classmethod
    def for_engine(cls, engine: Engine) -> UnitOfWork:
        return cls(make_session_factory(engine))

    @classmethod
    def for_url(cls, url: str | None = None) -> UnitOfWork:
        return cls.for_engine(make_engine(url))

    @property
    def dialect(self) -> str:
        bind = self.session_factory.kw.get("bind")
        return bind.dialect.name if isinstance(bind, Engine) else "unknown"

    def __enter__(self) -> Self:
        if self._open:  # a nested block would leak the outer session and its transaction
            raise RuntimeError("this unit of work is already open: use a new one for a new block")
        self._open = True
        self._attach(self.session_factory())
        return self

    def _attach(self, session: Session) -> None:
        """The repositories over ``session``."""
        self.session = session
        self.persons = PersonRepository(self.session)
        self.person_files = PersonFileRepository(self.session)
        self.enrolments = EnrolmentRepository(self.session)
        self.coverage = CoverageRepository(self.session)
        self.ledger = LedgerRepository(self.session, self._account_ids)
        self.contributions = ContributionRepository(self.session)
        self.settlements = SettlementRepository(self.session)
        self.fees = FeeRepository(self.session)
        self.supervision = SupervisionRepository(self.session)
        self.chronic = ChronicRepository(self.session)
        self.commercial = CommercialRepository(self.session)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
            self.session.close()
        finally:
            self._open = False

    def flush(self) -> None:
        self.session.flush()

    def commit(self) -> None:
        self.session.flush()
        if self.dialect != "postgresql":  # there the deferred trigger checks at COMMIT
            self.ledger.check_pending()
        # last: the busy fund account rows are locked until COMMIT, the funds' month totals
        # after them (one statement on PostgreSQL)
        self.ledger.apply_moves_and_months()
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            if "postings_balanced" in str(exc) or "unbalanced" in str(exc):
                raise UnbalancedTransaction("(checked at commit)", 0) from exc
            raise
        self.ledger.remember_committed()
        self.ledger.committed()

    def rollback(self) -> None:
        self.session.rollback()
        self.ledger.committed()


class JoinedUnitOfWork(UnitOfWork):
    """A unit of work inside a transaction its caller opened, on the caller's session: its
    ``commit`` writes what it holds (flush, balance moves), and leaving it rolls nothing back;
    the caller commits or rolls back the whole (the API's batches run each request of a batch
    in its own savepoint of one transaction: ``api.serving.batch``)."""

    def __init__(self, session: Session) -> None:
        super().__init__(make_session_factory(session.get_bind()))  # type: ignore[arg-type]
        self._joined = session

    @property
    def dialect(self) -> str:
        return self._joined.get_bind().dialect.name

    def __enter__(self) -> Self:
        if self._open:
            raise RuntimeError("this unit of work is already open: use a new one for a new block")
        self._open = True
        self._attach(self._joined)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._open = False

    def commit(self) -> None:
        self.session.flush()
        if self.dialect != "postgresql":
            self.ledger.check_pending()
        self.ledger.apply_moves()

    def rollback(self) -> None:
        """Nothing here: the caller rolls back (its savepoint or its transaction)."""
