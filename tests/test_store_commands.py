"""The store's Typer commands on SQLite and PostgreSQL, through ``--db URL --json``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.store.migrate import head

runner = CliRunner()


def run(db_url: str, *args: str, code: int = 0) -> Any:
    result = runner.invoke(app, [*args, "--db", db_url, "--json"])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return json.loads(result.stdout) if code == 0 else json.loads(result.stderr)


def test_commands(db_url: str, tmp_path: Path) -> None:
    emp, rel = nid(1), nid(2)
    assert run(db_url, "db", "upgrade")["revision"] == head()
    added = run(db_url, "person", "add", emp, "张三", "--household", "H1")
    assert added["sex"] == "M" and added["birth_date"] is None  # masked with the ID
    bad = run(db_url, "person", "add", emp[:17] + "0", "张三", code=2)
    assert bad["error"].startswith("national_id: check digit is wrong")
    run(db_url, "person", "add", rel, "李四")
    run(db_url, "person", "relate", emp, rel, "spouse")
    e = run(
        db_url, "enrol", emp, "--kind", "employer", "--area", "360100", "--on", "2024-01-01",
        "--employer", "91360100MA35000001",
    )  # fmt: skip
    assert e["status"] == "active"
    dup = run(db_url, "enrol", emp, "--kind", "resident", "--area", "360100", code=2)
    assert f"enrolment #{e['id']}" in dup["error"]
    for m in ("2024-01", "2024-02", "2024-03"):
        paid = run(
            db_url, "pay", emp, "--kind", "employee", "--period", m, "--wage", "8000",
            "--on", f"{m}-20",
        )  # fmt: skip
    assert paid["total"] == "640.00" and paid["account_credit"] == "160.00"
    bad = run(
        db_url, "pay", emp, "--kind", "employee", "--period", "2024-04", "--wage", "x", code=2
    )
    assert bad["error"].startswith("wage:")
    run(db_url, "enrol", rel, "--kind", "resident", "--area", "360100", "--on", "2023-10-01")
    refused = run(
        db_url, "pay", rel, "--kind", "resident", "--period", "2025", "--on", "2024-11-01",
        "--from-account-of", emp, code=2,
    )  # fmt: skip
    assert "no authorisation" in refused["error"]
    run(db_url, "person", "authorise", emp, rel, "--on", "2024-10-01")
    paid = run(
        db_url, "pay", rel, "--kind", "resident", "--period", "2025", "--on", "2024-11-01",
        "--from-account-of", emp,
    )  # fmt: skip
    assert paid["total"] == "1100.00" and paid["mutual_aid_link_id"] is not None
    moved = run(db_url, "enrolment", "transfer", emp, "--on", "2024-06-01", "--to-area", "340100")
    assert moved["to"]["carried_employee_months"] == 3
    closed = run(db_url, "year-end", "2024")
    assert (closed["insured"], closed["lapsed"], closed["runs"]) == (1, 1, 1)  # rel: no 2024
    assert run(db_url, "year-end", "2024")["runs"] == 2
    check = run(db_url, "ledger", "check")
    assert check["ok"] and check["transactions"] == 4
    funds = run(db_url, "funds", "report", "--area", "360100")
    assert {a["code"]: a["balance"] for a in funds["accounts"]}["cash:360100"] == "1920.00"
    assert funds["personal_accounts"] == {"count": 1, "total": "80.00"}
    shown = run(db_url, "person", "show", rel)
    assert shown["relatives"][0]["kind"] == "spouse"
    assert [(c["year"], c["status"]) for c in shown["coverage_years"]] == [
        (2024, "lapsed"),
        (2025, "insured"),
    ]

    path = tmp_path / "people.csv"
    ids = [nid(i, dt.date(2000, 1, 1)) for i in range(3, 8)]
    pacsv.write_csv(pa.table({"national_id": ids, "name": list("ABCDE")}), path)
    report = run(db_url, "person", "import", str(path))
    assert (report["read"], report["inserted"]) == (5, 5)


def text(db_url: str, *args: str, code: int = 0) -> str:
    """The human output (stdout, or stderr when refused)."""
    result = runner.invoke(app, [*args, "--db", db_url])
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


def test_identity_masked_unless_asked(db_url: str) -> None:
    emp, rel = nid(11), nid(12)
    masked_emp, masked_rel = emp[:6] + "*" * 8 + emp[-4:], rel[:6] + "*" * 8 + rel[-4:]
    run(db_url, "db", "upgrade")
    added = run(db_url, "person", "add", emp, "张三丰", "--phone", "13812345678")
    assert (added["national_id"], added["name"]) == (masked_emp, "张**")
    line = text(db_url, "person", "add", rel, "李四")
    assert masked_rel in line and "李*" in line and rel not in line and "李四" not in line
    run(db_url, "person", "relate", emp, rel, "spouse")
    assert rel not in text(db_url, "person", "relate", emp, rel, "spouse")

    shown = run(db_url, "person", "show", emp)
    assert (shown["national_id"], shown["name"], shown["phone"]) == (
        masked_emp,
        "张**",
        "138****5678",
    )
    assert shown["relatives"] == [{"kind": "spouse", "national_id": masked_rel, "name": "李*"}]
    # the birth date is digits 7-14 of the ID: masked with it (issue 10 item 9)
    assert shown["birth_date"] is None and shown["sex"] == "M"
    human = text(db_url, "person", "show", emp)
    assert masked_emp in human and emp not in human and rel not in human and "张三丰" not in human

    full = run(db_url, "person", "show", emp, "--show-identity")
    assert (full["national_id"], full["name"], full["phone"]) == (emp, "张三丰", "13812345678")
    assert full["birth_date"] == "1985-06-15"
    assert full["relatives"][0]["national_id"] == rel and full["relatives"][0]["name"] == "李四"
    assert emp in text(db_url, "person", "show", emp, "--show-identity")
    assert run(db_url, "person", "add", nid(13), "王五", "--show-identity")["name"] == "王五"

    # refusals name the person masked too (the clerk typed the number)
    refused = run(db_url, "enrolment", "suspend", emp, code=2)
    assert masked_emp in refused["error"] and emp not in refused["error"]
    refused = run(db_url, "enrolment", "suspend", emp, "--show-identity", code=2)
    assert emp in refused["error"]
    assert emp not in text(db_url, "enrolment", "suspend", emp, code=2)

    run(db_url, "enrol", emp, "--kind", "resident", "--area", "360100", "--on", "2024-01-01")
    visit = run(db_url, "visit", "register", emp, "--institution", "H1", "--med-type",
                "outpatient", "--level", "1", "--on", "2024-03-01")  # fmt: skip
    assert visit["psn_no"] == masked_emp
