"""Certified chronic and special diseases (门诊慢特病认定): ``chronic_certifications`` (a person's
certified disease and its validity dates) and ``chronic_actions`` (who certified,
renewed or ended it, when).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chronic_certifications",
        sa.Column("id", BigId, nullable=False),
        sa.Column("person_id", BigId, nullable=False),
        sa.Column("area", sa.String(6), nullable=False),
        sa.Column("disease", sa.String(20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'ended')", name="ck_chronic_certifications_status"
        ),
        sa.CheckConstraint("valid_to >= valid_from", name="ck_chronic_certifications_dates"),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_chronic_certifications_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_chronic_certifications"),
    )
    op.create_index("ix_chronic_certifications_person_id", "chronic_certifications", ["person_id"])
    op.create_table(
        "chronic_actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("cert_id", BigId, nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.CheckConstraint(
            "action IN ('certify', 'renew', 'end')",
            name="ck_chronic_actions_action",
        ),
        sa.ForeignKeyConstraint(
            ["cert_id"],
            ["chronic_certifications.id"],
            name="fk_chronic_actions_cert_id_chronic_certifications",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_chronic_actions"),
    )


def downgrade() -> None:
    op.drop_table("chronic_actions")
    op.drop_index("ix_chronic_certifications_person_id", table_name="chronic_certifications")
    op.drop_table("chronic_certifications")
