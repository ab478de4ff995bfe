"""Accounts: the ``opening_balance`` kind (期初余额, the equity counter account of balances
brought in from before the system, e.g. a loaded area's personal accounts).

Only the CHECK constraint on the kind (``ck_accounts_ck_accounts_kind``) changes. PostgreSQL
drops and adds it. SQLite cannot alter a constraint, and rebuilding ``accounts`` (batch mode)
fails on the postings that reference it; widening a CHECK changes nothing stored, so the
table's SQL text is edited in ``sqlite_schema`` with the schema version bumped, as SQLite
documents for such changes (https://sqlite.org/lang_altertable.html, "otherwise-unsupported
schema changes").

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD = (
    "('cash', 'contributions_receivable', 'fiscal_subsidy_receivable', 'employee_pooling', "
    "'resident_pooling', 'critical_illness', 'large_amount', 'medical_assistance', "
    "'adjustment', 'personal_account')"
)
NEW = OLD[:-1] + ", 'opening_balance')"


def _sqlite_replace(old: str, new: str) -> None:
    conn = op.get_bind()
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
    ).scalar_one()
    if old not in sql:
        raise RuntimeError(f"accounts: the kind check is not {old}")
    version = int(conn.execute(text("PRAGMA schema_version")).scalar_one())
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'accounts'"),
        {"sql": sql.replace(old, new)},
    )
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


def _postgresql_replace(new: str) -> None:
    op.execute(
        "ALTER TABLE accounts DROP CONSTRAINT ck_accounts_ck_accounts_kind, "
        f"ADD CONSTRAINT ck_accounts_ck_accounts_kind CHECK (kind IN {new})"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(OLD, NEW)
    else:
        _postgresql_replace(NEW)


def downgrade() -> None:
    op.execute("DELETE FROM accounts WHERE kind = 'opening_balance' AND balance = 0")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(NEW, OLD)
    else:
        _postgresql_replace(OLD)
