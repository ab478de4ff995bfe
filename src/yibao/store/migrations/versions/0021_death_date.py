"""The registry's date of death: ``persons.died_on`` (nullable; set by
``services.registry.record_death``). Settlement on or after it is refused (rule
``dead_or_uninsured``); the batch run reads it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("persons", sa.Column("died_on", sa.Date(), nullable=True))


def downgrade() -> None:
    op.drop_column("persons", "died_on")  # SQLite >= 3.35: ALTER TABLE DROP COLUMN
