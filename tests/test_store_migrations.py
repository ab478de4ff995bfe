"""The shipped Alembic migrations on SQLite and PostgreSQL: they build exactly the models'
schema, run twice harmlessly, and the database enforces its constraints."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from yibao.policy.vocab import SETTLEMENT_AMOUNTS
from yibao.store.db import database_url
from yibao.store.migrate import current, downgrade, head, upgrade
from yibao.store.models import Base


def test_migrations_match_models(db_url: str, engine: Engine) -> None:
    assert upgrade(db_url) == head() == current(db_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    indexes = {i["name"] for i in inspect(engine).get_indexes("enrolments")}
    assert "uq_enrolments_open_person" in indexes


def test_database_enforces_checks(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO persons (national_id, name, sex, birth_date) "
                "VALUES ('360426198506150019', 'x', 'X', '1985-06-15')"
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO accounts (code, kind, pooling_area, normal_side) "
                "VALUES ('personal:1', 'personal_account', '360100', 'credit')"
            )
        )


def test_downgrade_and_upgrade_on_a_fresh_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    assert upgrade(url) == head()
    downgrade(url)
    assert current(url) is None
    assert upgrade(url) == head()


def test_database_url_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YIBAO_DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///yibao.sqlite"
    monkeypatch.setenv("YIBAO_DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_0004_opening_balance_kind_on_a_used_database(db_url: str, engine: Engine) -> None:
    """0004 widens the account kinds on a database whose accounts already carry postings (on
    SQLite by editing the schema text: a table rebuild would trip over the postings)."""

    def add_account(code: str, kind: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (code, kind, pooling_area, normal_side, balance) "
                    "VALUES (:code, :kind, '360100', 'credit', 0)"
                ),
                {"code": code, "kind": kind},
            )

    downgrade(db_url, "0003")
    try:
        add_account("cash:360100", "cash")
        add_account("resident_pooling:360100", "resident_pooling")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO ledger_transactions (kind, occurred_on) VALUES ('t', '2025-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO postings (transaction_id, account_id, amount) "
                    "SELECT t.id, a.id, CASE a.kind WHEN 'cash' THEN 100 ELSE -100 END "
                    "FROM ledger_transactions t, accounts a"
                )
            )
        with pytest.raises(IntegrityError):
            add_account("opening_balance:360100", "opening_balance")
    finally:
        assert upgrade(db_url, "0004") == "0004"
    try:
        add_account("opening_balance:360100", "opening_balance")
        with pytest.raises(IntegrityError):
            add_account("other:360100", "other")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM postings")).scalar_one() == 2
    finally:
        assert upgrade(db_url) == head()


def test_0008_adjustment_kinds_per_scheme(db_url: str, engine: Engine) -> None:
    """0008 replaces the kind ``adjustment`` by one per scheme, keeping the others (on a
    database with postings), and back."""

    def add_account(code: str, kind: str) -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (code, kind, pooling_area, normal_side, balance) "
                    "VALUES (:code, :kind, '340000', 'credit', 0)"
                ),
                {"code": code, "kind": kind},
            )

    upgrade(db_url)
    add_account("opening_balance:340100", "opening_balance")
    add_account("resident_adjustment:340000", "resident_adjustment")
    add_account("employee_adjustment:340000", "employee_adjustment")
    with pytest.raises(IntegrityError):
        add_account("adjustment:340000", "adjustment")
    downgrade(db_url, "0004")  # the empty adjustment accounts go with the kinds
    try:
        add_account("adjustment:340000", "adjustment")
        with pytest.raises(IntegrityError):
            add_account("resident_adjustment:340000", "resident_adjustment")
        with pytest.raises(RuntimeError, match="adjustment:340000"):
            upgrade(db_url)  # an account of the old kind stops the upgrade
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM accounts WHERE kind = 'adjustment'"))
    finally:
        assert upgrade(db_url) == head()
    add_account("resident_adjustment:340000", "resident_adjustment")
    add_account("opening_balance:340200", "opening_balance")


def test_0009_institution_accounts_on_a_used_database(db_url: str, engine: Engine) -> None:
    """0009 adds the institution's accounts (kind and owner checks widened, on SQLite by editing
    the schema text) on a database whose accounts carry postings; an institution account names
    its institution and nothing else, a fund account no institution."""

    def add(code: str, kind: str, area: str | None, institution: str | None) -> None:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO accounts (code, kind, pooling_area, institution, normal_side) "
                    "VALUES (:code, :kind, :area, :inst, 'credit')"
                ),
                {"code": code, "kind": kind, "area": area, "inst": institution},
            )

    downgrade(db_url, "0004")
    try:
        with engine.begin() as conn:
            for code, kind in (
                ("cash:360100", "cash"),
                ("opening_balance:360100", "opening_balance"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO accounts (code, kind, pooling_area, normal_side) "
                        "VALUES (:c, :k, '360100', 'credit')"
                    ),
                    {"c": code, "k": kind},
                )
            conn.execute(
                text(
                    "INSERT INTO ledger_transactions (kind, occurred_on) VALUES ('t', '2025-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO postings (transaction_id, account_id, amount) "
                    "SELECT t.id, a.id, CASE a.kind WHEN 'cash' THEN 100 ELSE -100 END "
                    "FROM ledger_transactions t, accounts a"
                )
            )
    finally:
        assert upgrade(db_url) == head()
    code = "institution_collected:" + "H" * 40  # the longest code a visit holds
    add(code, "institution_collected", None, "H" * 40)
    add("institution_payable:H1", "institution_payable", None, "H1")
    for bad in (
        ("institution_payable:H2", "institution_payable", "360100", None),  # no institution
        ("institution_payable:H3", "institution_payable", "360100", "H3"),  # and an area
        ("cash:360200", "cash", "360200", "H4"),  # a fund with an institution
        ("other:H5", "other", None, "H5"),
    ):
        with pytest.raises(IntegrityError):
            add(*bad)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM postings")).scalar_one() == 2


def test_settlement_amount_columns_are_the_vocabulary(db_url: str, engine: Engine) -> None:
    """The migrated ``settlements`` table (and the model) hold exactly the vocabulary's
    settlement amounts, in order, between ``status`` and ``admission_no``."""
    upgrade(db_url)
    migrated = [c["name"] for c in inspect(engine).get_columns("settlements")]
    modelled = [c.name for c in Base.metadata.tables["settlements"].columns]
    for columns in (migrated, modelled):
        first = columns.index("status") + 1
        last = columns.index("admission_no")
        assert tuple(columns[first:last]) == SETTLEMENT_AMOUNTS


def test_0022_stored_answers_compressed_with_lz4(db_url: str, engine: Engine) -> None:
    """On PostgreSQL a stored answer long enough to be compressed (a 2204's) is compressed
    with LZ4 and reads back byte for byte; SQLite stores it as it is."""
    upgrade(db_url)
    body = '{"infcode":0,"output":[' + ",".join(f'{{"sn":"{i:05d}"}}' for i in range(600)) + "]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tx_responses (caller, msgid, infno, request_sha256, infcode, response)"
                " VALUES ('inst:H1', 'm1', '2204', :sha, 0, :body)"
            ),
            {"sha": "0" * 64, "body": body},
        )
    with engine.connect() as conn:
        assert conn.execute(text("SELECT response FROM tx_responses")).scalar_one() == body
        if engine.dialect.name == "postgresql":
            method = "SELECT pg_column_compression(response) FROM tx_responses"
            assert conn.execute(text(method)).scalar_one() == "lz4"


def test_0023_per_row_costs(db_url: str, engine: Engine) -> None:
    """The nonces and stored answers are keyed by their unique (caller, nonce) and (caller,
    msgid), the audit log has no index on ``at``, and on PostgreSQL a settlement's answers
    (``response``, ``reversal_response``) are compressed with LZ4 when long enough."""
    upgrade(db_url)
    schema = inspect(engine)
    assert schema.get_pk_constraint("request_nonces")["constrained_columns"] == ["caller", "nonce"]
    assert schema.get_pk_constraint("tx_responses")["constrained_columns"] == ["caller", "msgid"]
    assert "id" not in {c["name"] for c in schema.get_columns("tx_responses")}
    assert [i["column_names"] for i in schema.get_indexes("audit_log")] == [["person_id"]]
    if engine.dialect.name != "postgresql":
        return
    with engine.connect() as conn:
        methods = conn.execute(
            text(
                "SELECT attname, attcompression FROM pg_attribute WHERE attrelid ="
                " 'settlements'::regclass AND attname IN ('response', 'reversal_response')"
            )
        )
        assert {name: method for name, method in methods} == {
            "response": "l",
            "reversal_response": "l",
        }
