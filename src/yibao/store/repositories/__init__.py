"""Repositories (Cosmic Python): one per aggregate, each translating between domain objects and
rows inside one session. The SQL machinery they share is ``yibao.store.sql``."""

from yibao.store.repositories.api import ApiRepository, AuditEntry, StaffAccount
from yibao.store.repositories.chronic import ChronicRepository
from yibao.store.repositories.commercial import CommercialRepository
from yibao.store.repositories.contributions import ContributionRepository
from yibao.store.repositories.coverage import CoverageRepository
from yibao.store.repositories.enrolments import EnrolmentRepository
from yibao.store.repositories.fees import FeeRepository
from yibao.store.repositories.ledger import BalanceMismatch, LedgerRepository
from yibao.store.repositories.person_files import FileRows, PersonFileRepository
from yibao.store.repositories.persons import PersonRepository
from yibao.store.repositories.settlement_records import SettlementRecord, StoredSettlement
from yibao.store.repositories.settlements import SettlementRepository
from yibao.store.repositories.supervision import NewFinding, SupervisionRepository
from yibao.store.repositories.year_close import YearCloseCounts
from yibao.store.sql import BulkRead, any_of, insert_rows

__all__ = [
    "ApiRepository",
    "AuditEntry",
    "BalanceMismatch",
    "BulkRead",
    "ChronicRepository",
    "CommercialRepository",
    "ContributionRepository",
    "CoverageRepository",
    "EnrolmentRepository",
    "FeeRepository",
    "FileRows",
    "LedgerRepository",
    "NewFinding",
    "PersonFileRepository",
    "PersonRepository",
    "SettlementRecord",
    "SettlementRepository",
    "StaffAccount",
    "StoredSettlement",
    "SupervisionRepository",
    "YearCloseCounts",
    "any_of",
    "insert_rows",
]
