"""Benefits the policy texts name: cross-region direct settlement (异地就医) and village clinics
and pharmacies as designated institutions.

``institutions.kind`` (hospital, village_clinic, pharmacy; ``policy.vocab.InstitutionKind``),
'hospital' for every institution registered before.

Major epidemics (重大疫情): ``epidemics`` (declared for an area and period, with the listed
diseases and special groups) and ``epidemic_settlements`` (the settlements one covered); the
accounts' kind check gains ``epidemic_advance`` (what an area advanced to its institutions).

The accounts' kind check gains ``cross_region_receivable`` and ``cross_region_payable`` (keyed
by pooling area, as the owner check already requires of a fund kind): read from the database and
widened, so the migration composes with others that widen it. PostgreSQL drops and adds the
constraint; SQLite cannot alter one, so the table's SQL text is edited in ``sqlite_schema``
(widening a check changes nothing stored), as in 0004 and 0009.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

KIND = "ck_accounts_ck_accounts_kind"
NEW_KINDS = ("cross_region_receivable", "cross_region_payable", "epidemic_advance")
_KIND_SQLITE = re.compile(rf"CONSTRAINT {KIND} CHECK \(kind IN \(([^)]*)\)\)")


def _kinds(listed: str) -> list[str]:
    return re.findall(r"'([a-z_]+)'", listed)


def _sql_in(kinds: list[str]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _widened(listed: str, add: bool) -> str:
    kinds = [k for k in _kinds(listed) if k not in NEW_KINDS]
    return _sql_in(kinds + list(NEW_KINDS) if add else kinds)


def _account_kinds(add: bool) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        current = conn.execute(
            text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
            {"n": KIND},
        ).scalar_one()
        op.execute(
            f"ALTER TABLE accounts DROP CONSTRAINT {KIND}, "
            f"ADD CONSTRAINT {KIND} CHECK (kind IN {_widened(current, add)})"
        )
        return
    sql = str(
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'accounts'")
        ).scalar_one()
    )
    found = _KIND_SQLITE.search(sql)
    if found is None:
        raise RuntimeError("accounts: the kind check is not as expected")
    new = sql.replace(
        found.group(0), f"CONSTRAINT {KIND} CHECK (kind IN {_widened(found.group(1), add)})"
    )
    version = int(conn.execute(text("PRAGMA schema_version")).scalar_one())
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'accounts'"),
        {"sql": new},
    )
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _account_kinds(add=True)
    op.create_table(
        "epidemics",
        sa.Column("id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("diseases", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("declared_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ck_epidemics_period"),
        sa.PrimaryKeyConstraint("id", name="pk_epidemics"),
    )
    op.create_index("ix_epidemics_area", "epidemics", ["area"])
    op.create_table(
        "epidemic_settlements",
        sa.Column("setl_id", sa.String(40), nullable=False),
        sa.Column("epidemic_id", BigId, nullable=False),
        sa.Column("exempted", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["epidemic_id"],
            ["epidemics.id"],
            name="fk_epidemic_settlements_epidemic_id_epidemics",
        ),
        sa.PrimaryKeyConstraint("setl_id", name="pk_epidemic_settlements"),
    )
    op.create_index("ix_epidemic_settlements_epidemic_id", "epidemic_settlements", ["epidemic_id"])
    op.add_column(
        "institutions",
        sa.Column("kind", sa.String(16), server_default="hospital", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("epidemic_settlements")
    op.drop_table("epidemics")
    op.drop_column("institutions", "kind")  # SQLite >= 3.35: ALTER TABLE DROP COLUMN
    # refused (a foreign key) while a cross-region account holds postings
    op.execute(f"DELETE FROM accounts WHERE kind IN {_sql_in(list(NEW_KINDS))} AND balance = 0")
    _account_kinds(add=False)
