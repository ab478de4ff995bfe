"""Supervision findings: ``supervision_findings`` (a rule that fired on a claim of an area's
year; its status, recovery and the ledger transaction of the recovery),
``supervision_evidence`` (the lines and other claims that triggered it) and
``supervision_actions`` (who moved it, when).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
RULES = (
    "('duplicate_item', 'over_quantity', 'sex_age', 'split_admission', 'long_stay', "
    "'dead_or_uninsured', 'above_level', 'visit_frequency')"
)


def upgrade() -> None:
    op.create_table(
        "supervision_findings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(24), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("claim_ref", sa.String(40), nullable=False),
        sa.Column("psn_no", sa.String(40), nullable=False),
        sa.Column("institution", sa.String(30), nullable=False),
        sa.Column("scheme", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("recovery", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("ledger_transaction", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(f"rule IN {RULES}", name="ck_supervision_findings_rule"),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'recovered', 'dismissed')",
            name="ck_supervision_findings_status",
        ),
        sa.CheckConstraint(
            "severity IN ('low', 'medium', 'high')", name="ck_supervision_findings_severity"
        ),
        sa.CheckConstraint(
            "amount >= 0 AND (recovery IS NULL OR recovery > 0)",
            name="ck_supervision_findings_amounts",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_findings"),
        sa.UniqueConstraint(
            "area",
            "year",
            "rule",
            "claim_ref",
            name="uq_supervision_findings_area_year_rule_claim_ref",
        ),
    )
    op.create_table(
        "supervision_evidence",
        sa.Column("id", BigId, nullable=False),
        sa.Column("finding_id", BigId, nullable=False),
        sa.Column("line_sn", sa.String(30), nullable=True),
        sa.Column("other_claim_ref", sa.String(40), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["supervision_findings.id"],
            name="fk_supervision_evidence_finding_id_supervision_findings",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_evidence"),
    )
    op.create_table(
        "supervision_actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("finding_id", BigId, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["supervision_findings.id"],
            name="fk_supervision_actions_finding_id_supervision_findings",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_supervision_actions"),
    )


def downgrade() -> None:
    op.drop_table("supervision_actions")
    op.drop_table("supervision_evidence")
    op.drop_table("supervision_findings")
