"""Less of the database's work for each row a bill writes (PostgreSQL's CPU, measured per
statement of ``bench/bills_batch.py``):

- ``settlements.response`` and ``reversal_response`` compressed with LZ4 on PostgreSQL: a
  2207's answer (~1.7 KB of JSON) makes most rows long enough to be compressed on insert, and
  pglz (the default) took ~10-15 µs a settlement more than LZ4. Answers stay the same JSON;
  values stored before keep pglz; a server built without LZ4 keeps pglz.
- ``request_nonces`` and ``tx_responses`` keyed by what they are looked up and kept unique by,
  (caller, nonce) and (caller, msgid), instead of a surrogate ``id`` nothing read: each
  request's nonce and answer took a sequence value and an index entry more (and the nonces'
  ``ON CONFLICT`` one probe more), ~1-3 µs each. The uniqueness is the same.
- ``audit_log``'s index on ``at`` dropped: no query reads by time (the log is read newest first
  by ``id``, for a person through ``person_id``'s index), and each request's entry paid for it.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

#: table: (its natural key's columns, the unique constraint that was that key)
_KEYED = {
    "request_nonces": (["caller", "nonce"], "uq_request_nonces_caller_nonce"),
    "tx_responses": (["caller", "msgid"], "uq_tx_responses_caller_msgid"),
}


def _compression(method: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "DO $$ BEGIN"
        f" ALTER TABLE settlements ALTER COLUMN response SET COMPRESSION {method},"
        f" ALTER COLUMN reversal_response SET COMPRESSION {method};"
        " EXCEPTION WHEN feature_not_supported THEN NULL;"  # built without LZ4
        " END $$"
    )


def upgrade() -> None:
    _compression("lz4")
    for table, (columns, unique) in _KEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(unique, type_="unique")
            batch.drop_column("id")  # with its primary key (and on PostgreSQL its sequence)
            batch.create_primary_key(f"pk_{table}", columns)
    op.drop_index("ix_audit_log_at", table_name="audit_log")


def downgrade() -> None:
    _compression("default")
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table, (columns, unique) in _KEYED.items():
        if postgresql:  # the rows numbered anew
            op.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT pk_{table},"
                f" ADD COLUMN id BIGSERIAL, ADD CONSTRAINT pk_{table} PRIMARY KEY (id),"
                f" ADD CONSTRAINT {unique} UNIQUE ({', '.join(columns)})"
            )
            continue
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.add_column(sa.Column("id", sa.Integer(), primary_key=True))
            batch.create_unique_constraint(unique, columns)
