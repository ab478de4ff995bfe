"""Data comparison: ``compare_runs`` (a comparison's inputs' digest, day, sources and
coverage), ``compare_findings`` (its worklists with evidence), ``compare_unmatched`` (the
records no ID matched: record linkage's input) and ``compare_actions`` (the audit of actions).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "compare_runs",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("sources", sa.Text(), nullable=False),
        sa.Column("coverage", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(60), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "compare_findings",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId, sa.ForeignKey("compare_runs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("person_id", sa.BigInteger()),
        sa.Column("id_no", sa.String(18)),
        sa.Column("name", sa.String(100)),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("row_no", sa.BigInteger()),
        sa.Column("on_date", sa.Date()),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), server_default="open", nullable=False),
        sa.UniqueConstraint("run_id", "kind", "source", "row_no", "person_id"),
    )
    op.create_table(
        "compare_unmatched",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("run_id", BigId, sa.ForeignKey("compare_runs.id"), nullable=False, index=True),
        sa.Column("source", sa.String(12), nullable=False),
        sa.Column("row_no", sa.BigInteger(), nullable=False),
        sa.Column("id_no", sa.String(40)),
        sa.Column("name", sa.String(100)),
        sa.Column("sex", sa.String(1)),
        sa.Column("birth_date", sa.Date()),
        sa.Column("address", sa.Text()),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.UniqueConstraint("run_id", "source", "row_no"),
    )
    op.create_table(
        "compare_actions",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "finding_id", BigId, sa.ForeignKey("compare_findings.id"), nullable=False, index=True
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(60), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.Column("seq", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    for table in ("compare_actions", "compare_unmatched", "compare_findings", "compare_runs"):
        op.drop_table(table)
