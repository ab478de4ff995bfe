"""Accounts: a designated institution's accounts with the funds (定点医药机构往来), keyed by
its code: ``institution_payable`` (the medical fees of its settlements not yet cleared) and
``institution_collected`` (the patients' cash it collected at the counter for them).

A nullable column ``institution`` (as long as a visit's ``fixmedins_code``) is added to
``accounts`` and ``code`` widened to 80 characters (``institution_collected:`` + a code); the
kind check gains the two kinds
(read from the database and widened, so the migration composes with others that widen it) and
the owner check names the institution (a person, an institution, or else a pooling area).
PostgreSQL drops and adds the constraints. SQLite cannot alter a constraint and rebuilding
``accounts`` fails on its postings' foreign keys; widening checks changes nothing stored, so the
table's SQL text is edited in ``sqlite_schema``, as in 0004.

Two indexes find a month's (or a day's) settlements and reversals for the clearing statement
and 3201 without reading every settlement: on ``settled_on``, and on ``reversed_on`` where set.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import re
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

KIND = "ck_accounts_ck_accounts_kind"
OWNER = "ck_accounts_ck_accounts_owner"
NEW_KINDS = ("institution_payable", "institution_collected")
INSTITUTION_KINDS = "('institution_payable', 'institution_collected')"
OLD_OWNER = (
    "(kind = 'personal_account' AND person_id IS NOT NULL AND pooling_area IS NULL) OR "
    "(kind <> 'personal_account' AND person_id IS NULL AND pooling_area IS NOT NULL)"
)
NEW_OWNER = (
    "(kind = 'personal_account' AND person_id IS NOT NULL AND pooling_area IS NULL "
    "AND institution IS NULL) OR "
    f"(kind IN {INSTITUTION_KINDS} AND institution IS NOT NULL AND person_id IS NULL "
    "AND pooling_area IS NULL) OR "
    f"(kind <> 'personal_account' AND kind NOT IN {INSTITUTION_KINDS} "
    "AND person_id IS NULL AND pooling_area IS NOT NULL AND institution IS NULL)"
)
_KIND_SQLITE = re.compile(rf"CONSTRAINT {KIND} CHECK \(kind IN \(([^)]*)\)\)")


def _kinds(listed: str) -> list[str]:
    return re.findall(r"'([a-z_]+)'", listed)


def _sql_in(kinds: list[str]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _sqlite_edit(edit: Callable[[str], str]) -> None:
    conn = op.get_bind()
    sql = conn.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
    ).scalar_one()
    new = edit(str(sql))
    version = int(conn.execute(text("PRAGMA schema_version")).scalar_one())
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'accounts'"),
        {"sql": new},
    )
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


def _sqlite_checks(add: bool) -> None:
    def edit(sql: str) -> str:
        found = _KIND_SQLITE.search(sql)
        if found is None or (OLD_OWNER if add else NEW_OWNER) not in sql:
            raise RuntimeError("accounts: the kind or owner check is not as expected")
        kinds = [k for k in _kinds(found.group(1)) if k not in NEW_KINDS]
        if add:
            kinds += NEW_KINDS
        sql = sql.replace(found.group(0), f"CONSTRAINT {KIND} CHECK (kind IN {_sql_in(kinds)})")
        old, new = (OLD_OWNER, NEW_OWNER) if add else (NEW_OWNER, OLD_OWNER)
        code = ("code VARCHAR(60)", "code VARCHAR(80)")
        return sql.replace(old, new).replace(*(code if add else code[::-1]))

    _sqlite_edit(edit)


def _postgresql_checks(add: bool) -> None:
    conn = op.get_bind()
    current = conn.execute(
        text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
        {"n": KIND},
    ).scalar_one()
    kinds = [k for k in _kinds(current) if k not in NEW_KINDS]
    if add:
        kinds += NEW_KINDS
    owner = NEW_OWNER if add else OLD_OWNER
    op.execute(
        f"ALTER TABLE accounts DROP CONSTRAINT {KIND}, DROP CONSTRAINT {OWNER}, "
        f"ADD CONSTRAINT {KIND} CHECK (kind IN {_sql_in(kinds)}), "
        f"ADD CONSTRAINT {OWNER} CHECK ({owner})"
    )


def upgrade() -> None:
    # a month's (or day's) settlements and reversals: the clearing statement, 3201
    op.create_index("ix_settlements_settled_on", "settlements", ["settled_on"])
    op.create_index(
        "ix_settlements_reversed_on",
        "settlements",
        ["reversed_on"],
        sqlite_where=sa.text("reversed_on IS NOT NULL"),
        postgresql_where=sa.text("reversed_on IS NOT NULL"),
    )
    op.add_column("accounts", sa.Column("institution", sa.String(40), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_checks(add=True)
    else:
        op.alter_column("accounts", "code", type_=sa.String(80), existing_type=sa.String(60))
        _postgresql_checks(add=True)


def downgrade() -> None:
    op.drop_index("ix_settlements_reversed_on", "settlements")
    op.drop_index("ix_settlements_settled_on", "settlements")
    # refused (a foreign key, a check) while an institution account holds postings
    op.execute(f"DELETE FROM accounts WHERE kind IN {INSTITUTION_KINDS} AND balance = 0")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_checks(add=False)
    else:
        _postgresql_checks(add=False)
    op.drop_column("accounts", "institution")  # SQLite >= 3.35: ALTER TABLE DROP COLUMN
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("accounts", "code", type_=sa.String(60), existing_type=sa.String(80))
