"""Supplementary commercial insurance (惠民保): ``commercial_purchases`` (a person's purchase of a
region's product for a coverage year) and ``commercial_actions`` (who bought or cancelled it,
when); ``settlements`` gains ``commercial_pay`` (what the product paid, part of the person's
share: the parts check becomes psn_part_amt = commercial_pay + acct_pay + acct_mulaid_pay +
psn_cash_pay) and ``commercial_purchase_id``; the accounts' kind check gains
``commercial_receivable`` (keyed by pooling area: what the insurers owe the area).

A check is widened as 0017 does it: PostgreSQL drops and adds the constraint; SQLite cannot
alter one, so the table's SQL text is edited in ``sqlite_schema`` (the new checks hold for
every stored row: ``commercial_pay`` is 0 in them).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

KIND = "ck_accounts_ck_accounts_kind"
NEW_KINDS = ("commercial_receivable",)
_KIND_SQLITE = re.compile(rf"CONSTRAINT {KIND} CHECK \(kind IN \(([^)]*)\)\)")
PARTS = "ck_settlements_ck_settlements_parts"
OLD_PARTS = (
    "psn_part_amt = acct_pay + acct_mulaid_pay + psn_cash_pay "
    "AND medfee_sumamt = fund_pay_sumamt + psn_part_amt"
)
NEW_PARTS = (
    "psn_part_amt = commercial_pay + acct_pay + acct_mulaid_pay + psn_cash_pay "
    "AND medfee_sumamt = fund_pay_sumamt + psn_part_amt"
)
COMMERCIAL = "ck_settlements_commercial"
FK = "fk_settlements_commercial_purchase_id_commercial_purchases"
FK_SQLITE = f"CONSTRAINT {FK} REFERENCES commercial_purchases (id)"
COMMERCIAL_CHECK = (
    "commercial_pay >= 0 AND (commercial_pay = 0 OR commercial_purchase_id IS NOT NULL)"
)


def _kinds(listed: str) -> list[str]:
    return re.findall(r"'([a-z_]+)'", listed)


def _sql_in(kinds: list[str]) -> str:
    return "(" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _widened(listed: str, add: bool) -> str:
    kinds = [k for k in _kinds(listed) if k not in NEW_KINDS]
    return _sql_in(kinds + list(NEW_KINDS) if add else kinds)


def _edit_sqlite(table: str, edit: object) -> None:
    """Replace ``table``'s SQL text in ``sqlite_schema`` by ``edit(sql)``."""
    conn = op.get_bind()
    sql = str(
        conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"), {"t": table}
        ).scalar_one()
    )
    assert callable(edit)
    new = edit(sql)
    version = int(conn.execute(text("PRAGMA schema_version")).scalar_one())
    conn.execute(text("PRAGMA writable_schema = ON"))
    conn.execute(
        text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = :t"),
        {"sql": new, "t": table},
    )
    conn.execute(text(f"PRAGMA schema_version = {version + 1}"))
    conn.execute(text("PRAGMA writable_schema = OFF"))


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

    def edit(sql: str) -> str:
        found = _KIND_SQLITE.search(sql)
        if found is None:
            raise RuntimeError("accounts: the kind check is not as expected")
        return sql.replace(
            found.group(0), f"CONSTRAINT {KIND} CHECK (kind IN {_widened(found.group(1), add)})"
        )

    _edit_sqlite("accounts", edit)


def _settlement_checks(add: bool) -> None:
    conn = op.get_bind()
    old, new = (OLD_PARTS, NEW_PARTS) if add else (NEW_PARTS, OLD_PARTS)
    if conn.dialect.name != "sqlite":
        extra = f", ADD CONSTRAINT {COMMERCIAL} CHECK ({COMMERCIAL_CHECK})" if add else ""
        drop = "" if add else f", DROP CONSTRAINT {COMMERCIAL}"
        op.execute(
            f"ALTER TABLE settlements DROP CONSTRAINT {PARTS}{drop}, "
            f"ADD CONSTRAINT {PARTS} CHECK ({new}){extra}"
        )
        return

    def edit(sql: str) -> str:
        if old not in sql:
            raise RuntimeError("settlements: the parts check is not as expected")
        sql = sql.replace(old, new)
        added = f", CONSTRAINT {COMMERCIAL} CHECK ({COMMERCIAL_CHECK})"
        if add:
            # before the table's closing parenthesis
            head, _, tail = sql.rpartition(")")
            return f"{head}{added}){tail}"
        return sql.replace(added, "")

    _edit_sqlite("settlements", edit)


def upgrade() -> None:
    _account_kinds(add=True)
    op.create_table(
        "commercial_purchases",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("product", sa.String(40), nullable=False),
        sa.Column("insurer", sa.String(40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("bought_on", sa.Date(), nullable=False),
        sa.Column("covers_from", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'cancelled')", name="ck_commercial_purchases_status"
        ),
        sa.CheckConstraint(
            "(status = 'cancelled') = (cancelled_on IS NOT NULL)",
            name="ck_commercial_purchases_cancelled",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_commercial_purchases_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_commercial_purchases"),
    )
    op.create_index("ix_commercial_purchases_person_id", "commercial_purchases", ["person_id"])
    op.create_index(
        "uq_commercial_purchases_person_id_year",
        "commercial_purchases",
        ["person_id", "year"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_table(
        "commercial_actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("purchase_id", BigId, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.CheckConstraint("action IN ('buy', 'cancel')", name="ck_commercial_actions_action"),
        sa.ForeignKeyConstraint(
            ["purchase_id"],
            ["commercial_purchases.id"],
            name="fk_commercial_actions_purchase_id_commercial_purchases",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_commercial_actions"),
    )
    op.add_column(
        "settlements",
        sa.Column("commercial_pay", sa.BigInteger(), server_default="0", nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":  # SQLite adds a column with its reference only
        op.execute(f"ALTER TABLE settlements ADD COLUMN commercial_purchase_id INTEGER {FK_SQLITE}")
    else:
        op.add_column("settlements", sa.Column("commercial_purchase_id", BigId, nullable=True))
        op.create_foreign_key(
            FK, "settlements", "commercial_purchases", ["commercial_purchase_id"], ["id"]
        )
    op.create_index(
        "ix_settlements_commercial_purchase_id", "settlements", ["commercial_purchase_id"]
    )
    _settlement_checks(add=True)


def downgrade() -> None:
    _settlement_checks(add=False)
    op.drop_index("ix_settlements_commercial_purchase_id", table_name="settlements")
    if op.get_bind().dialect.name == "sqlite":  # a column with a reference cannot be dropped
        _edit_sqlite("settlements", lambda sql: sql.replace(f" {FK_SQLITE}", ""))
    else:
        op.drop_constraint(FK, "settlements", type_="foreignkey")
    op.drop_column("settlements", "commercial_purchase_id")  # SQLite >= 3.35
    op.drop_column("settlements", "commercial_pay")
    op.drop_table("commercial_actions")
    op.drop_index("uq_commercial_purchases_person_id_year", table_name="commercial_purchases")
    op.drop_index("ix_commercial_purchases_person_id", table_name="commercial_purchases")
    op.drop_table("commercial_purchases")
    # refused (a foreign key) while a commercial account holds postings
    op.execute(f"DELETE FROM accounts WHERE kind IN {_sql_in(list(NEW_KINDS))} AND balance = 0")
    _account_kinds(add=False)
