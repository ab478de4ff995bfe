"""Tables of the API service (migration ``0003``): institutions and their key ids, staff
accounts and bearer tokens, seen request nonces, stored answers by msgid, the audit log; files
exchanged with institutions (migration ``0019``).

Registered on the same ``Base`` as ``models.py`` (``yibao.store`` imports this module, so the
migration test and Alembic see one metadata).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from yibao.store.models import Base, BigId

ROLES = (
    "('institution', 'enrolment_clerk', 'settlement_auditor', 'fund_manager', "
    "'administrator', 'insured_person')"
)
OUTCOMES = "('ok', 'refused', 'denied', 'error')"


class InstitutionRow(Base):
    """A designated medical institution or pharmacy (定点医药机构), by its code."""

    __tablename__ = "institutions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[int | None] = mapped_column(Integer)
    area: Mapped[str | None] = mapped_column(String(6))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    # 定点医药机构类别 (``policy.vocab.InstitutionKind``): hospital, village_clinic, pharmacy
    kind: Mapped[str] = mapped_column(String(16), server_default="hospital")


class InstitutionKeyRow(Base):
    """A signing key id; the key itself is derived from the master secret, never stored."""

    __tablename__ = "institution_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    institution_id: Mapped[int] = mapped_column(ForeignKey("institutions.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class StaffAccountRow(Base):
    __tablename__ = "staff_accounts"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES} AND role <> 'institution'", name="role"),
        CheckConstraint("(role = 'insured_person') = (person_id IS NOT NULL)", name="person"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(24))
    password_hash: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class StaffTokenRow(Base):
    """A bearer token, stored as its SHA-256."""

    __tablename__ = "staff_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class RequestNonceRow(Base):
    """Signed requests already seen: a replay (same signature or same nonce) is refused."""

    __tablename__ = "request_nonces"

    caller: Mapped[str] = mapped_column(String(40), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    signature: Mapped[str] = mapped_column(String(64), unique=True)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class TxResponseRow(Base):
    """The first answer to a msgid (per caller): a retry gets it back and changes nothing."""

    __tablename__ = "tx_responses"

    caller: Mapped[str] = mapped_column(String(80), primary_key=True)
    msgid: Mapped[str] = mapped_column(String(64), primary_key=True)
    infno: Mapped[str] = mapped_column(String(8))
    request_sha256: Mapped[str] = mapped_column(String(64))
    infcode: Mapped[int] = mapped_column(Integer)
    response: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, server_default=func.now())


class AuditRow(Base):
    """Append-only (PostgreSQL refuses UPDATE and DELETE by trigger; SQLite UPDATE)."""

    __tablename__ = "audit_log"
    __table_args__ = (CheckConstraint(f"outcome IN {OUTCOMES}", name="outcome"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(24))
    action: Mapped[str] = mapped_column(String(40))
    person_id: Mapped[int | None] = mapped_column(BigId, index=True)
    target: Mapped[str | None] = mapped_column(String(80))
    msgid: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)


class ExchangeFileRow(Base):
    """A file exchanged with an institution (the platform's 9101 upload, 9102 download): what
    it sent (a 3202 detail file, ``upload``) or what yibao made for it (a 3202 result,
    ``result``), kept until ``expires_at``."""

    __tablename__ = "exchange_files"
    __table_args__ = (
        CheckConstraint("kind IN ('upload', 'result')", name="kind"),
        CheckConstraint("size >= 0", name="size"),
    )

    file_qury_no: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
