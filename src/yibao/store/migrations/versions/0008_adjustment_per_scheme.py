"""Accounts: the provincial adjustment fund kept per scheme (省级调剂金, employee and resident):
the kinds ``employee_adjustment`` and ``resident_adjustment`` replace ``adjustment``.

Only the CHECK constraint on the kind (``ck_accounts_ck_accounts_kind``) changes, and only the
one word in it: the list is read from the database and edited, so that other revisions widening
the same list may come before or after this one. PostgreSQL drops and adds the constraint; on
SQLite the table's SQL text is edited in ``sqlite_schema`` as revision 0004 does. An
``adjustment`` account (none was ever opened by yibao) stops the upgrade.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

from alembic import op
from sqlalchemy import text

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None

OLD = ["adjustment"]
NEW = ["employee_adjustment", "resident_adjustment"]
_CONSTRAINT = "ck_accounts_ck_accounts_kind"


def _sql_list(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words)


def _sqlite_replace(old: list[str], new: list[str]) -> None:
    conn = op.get_bind()
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
    ).scalar_one()
    found = re.search(r"kind IN \(([^)]*)\)", sql)
    if found is None or not all(f"'{w}'" in found.group(1) for w in old):
        raise RuntimeError(f"accounts: the kind check does not list {old}")
    words = [w.strip().strip("'") for w in found.group(1).split(",")]
    at = words.index(old[0])
    kept = [w for w in words if w not in old]
    listed = _sql_list(kept[:at] + new + kept[at:])
    version = int(conn.execute(text("PRAGMA schema_version")).scalar_one())
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'accounts'"),
        {"sql": sql[: found.start(1)] + listed + sql[found.end(1) :]},
    )
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


def _postgresql_replace(old: list[str], new: list[str]) -> None:
    conn = op.get_bind()
    definition = conn.execute(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
        {"name": _CONSTRAINT},
    ).scalar_one()
    words = re.findall(r"'([a-z_]+)'", definition)
    if not all(w in words for w in old):
        raise RuntimeError(f"accounts: the kind check does not list {old}")
    at = words.index(old[0])
    kept = [w for w in words if w not in old]
    op.execute(
        f"ALTER TABLE accounts DROP CONSTRAINT {_CONSTRAINT}, ADD CONSTRAINT {_CONSTRAINT} "
        f"CHECK (kind IN ({_sql_list(kept[:at] + new + kept[at:])}))"
    )


def _refuse_accounts_of(kinds: list[str]) -> None:
    found = op.get_bind().execute(
        text(f"SELECT code FROM accounts WHERE kind IN ({_sql_list(kinds)}) LIMIT 1")
    )
    code = found.scalar_one_or_none()
    if code is not None:
        raise RuntimeError(f"accounts: {code} is of a kind this revision removes")


def upgrade() -> None:
    _refuse_accounts_of(OLD)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(OLD, NEW)
    else:
        _postgresql_replace(OLD, NEW)


def downgrade() -> None:
    op.execute(f"DELETE FROM accounts WHERE kind IN ({_sql_list(NEW)}) AND balance = 0")
    _refuse_accounts_of(NEW)
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_replace(NEW, OLD)
    else:
        _postgresql_replace(NEW, OLD)
