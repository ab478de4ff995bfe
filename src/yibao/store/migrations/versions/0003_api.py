"""API service: institutions and key ids, staff accounts and tokens, request nonces, stored
answers by msgid, the append-only audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ROLES = (
    "('institution', 'enrolment_clerk', 'settlement_auditor', 'fund_manager', "
    "'administrator', 'insured_person')"
)
OUTCOMES = "('ok', 'refused', 'denied', 'error')"

PG_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION yibao_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""
PG_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION yibao_audit_append_only()
"""
SQLITE_APPEND_ONLY_TRIGGER = """
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END
"""


def _now() -> sa.TextClause:
    return sa.text("CURRENT_TIMESTAMP")


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("area", sa.String(6), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_institutions"),
        sa.UniqueConstraint("code", name="uq_institutions_code"),
    )
    op.create_table(
        "institution_keys",
        sa.Column("id", BigId, nullable=False),
        sa.Column("institution_id", BigId, nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
            name="fk_institution_keys_institution_id_institutions",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_institution_keys"),
        sa.UniqueConstraint("key_id", name="uq_institution_keys_key_id"),
    )
    op.create_index("ix_institution_keys_institution_id", "institution_keys", ["institution_id"])
    op.create_table(
        "staff_accounts",
        sa.Column("id", BigId, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("person_id", BigId, nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            f"role IN {ROLES} AND role <> 'institution'", name="ck_staff_accounts_role"
        ),
        sa.CheckConstraint(
            "(role = 'insured_person') = (person_id IS NOT NULL)", name="ck_staff_accounts_person"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_staff_accounts_person_id_persons"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_staff_accounts"),
        sa.UniqueConstraint("username", name="uq_staff_accounts_username"),
    )
    op.create_index("ix_staff_accounts_person_id", "staff_accounts", ["person_id"])
    op.create_table(
        "staff_tokens",
        sa.Column("id", BigId, nullable=False),
        sa.Column("account_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["staff_accounts.id"], name="fk_staff_tokens_account_id_staff_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_staff_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_staff_tokens_token_hash"),
    )
    op.create_index("ix_staff_tokens_account_id", "staff_tokens", ["account_id"])
    op.create_table(
        "request_nonces",
        sa.Column("id", BigId, nullable=False),
        sa.Column("caller", sa.String(40), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_request_nonces"),
        sa.UniqueConstraint("caller", "nonce", name="uq_request_nonces_caller_nonce"),
        sa.UniqueConstraint("signature", name="uq_request_nonces_signature"),
    )
    op.create_index("ix_request_nonces_seen_at", "request_nonces", ["seen_at"])
    op.create_table(
        "tx_responses",
        sa.Column("id", BigId, nullable=False),
        sa.Column("caller", sa.String(80), nullable=False),
        sa.Column("msgid", sa.String(64), nullable=False),
        sa.Column("infno", sa.String(8), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("infcode", sa.Integer(), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), server_default=_now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tx_responses"),
        sa.UniqueConstraint("caller", "msgid", name="uq_tx_responses_caller_msgid"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("role", sa.String(24), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("person_id", BigId, nullable=True),
        sa.Column("target", sa.String(80), nullable=True),
        sa.Column("msgid", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.CheckConstraint(f"outcome IN {OUTCOMES}", name="ck_audit_log_outcome"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_person_id", "audit_log", ["person_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY_FUNCTION)
        op.execute(PG_APPEND_ONLY_TRIGGER)
    else:
        op.execute(SQLITE_APPEND_ONLY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS yibao_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only")
    op.drop_index("ix_audit_log_person_id", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("tx_responses")
    op.drop_index("ix_request_nonces_seen_at", table_name="request_nonces")
    op.drop_table("request_nonces")
    op.drop_index("ix_staff_tokens_account_id", table_name="staff_tokens")
    op.drop_table("staff_tokens")
    op.drop_index("ix_staff_accounts_person_id", table_name="staff_accounts")
    op.drop_table("staff_accounts")
    op.drop_index("ix_institution_keys_institution_id", table_name="institution_keys")
    op.drop_table("institution_keys")
    op.drop_table("institutions")
