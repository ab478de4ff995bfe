"""The command line's reads of a person's file and identity are audited, and the birth date
(digits 7-14 of an 18-digit national ID) is masked wherever the ID is (issue 10, item 9). On
SQLite and PostgreSQL."""

from __future__ import annotations

import getpass
import json
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.cli import app
from yibao.services import access
from yibao.store.api_models import AuditRow

runner = CliRunner()


def cli(db_url: str, *args: str, code: int = 0, as_json: bool = True) -> Any:
    result = runner.invoke(app, [*args, "--db", db_url, *(["--json"] if as_json else [])])
    assert result.exit_code == code, (result.stdout, result.stderr)
    if not as_json:
        return result.stdout
    return json.loads(result.stdout) if code == 0 else json.loads(result.stderr)


def audit_rows(engine: Engine) -> list[AuditRow]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))


def test_birth_date_masked_with_the_id(db_url: str) -> None:
    emp = nid(21)  # born 1985-06-15: "19850615" are digits 7-14
    cli(db_url, "db", "upgrade")
    added = cli(db_url, "person", "add", emp, "张三丰")
    assert added["birth_date"] is None and added["national_id"] == emp[:6] + "*" * 8 + emp[-4:]
    line = cli(db_url, "person", "add", nid(23), "李四", as_json=False)
    assert "1985" not in line and "(M)" in line
    for out in (
        cli(db_url, "person", "show", emp),
        cli(db_url, "person", "show", emp, as_json=False),
    ):
        assert "1985" not in json.dumps(out)
    assert cli(db_url, "person", "show", emp, "--show-identity")["birth_date"] == "1985-06-15"


def test_person_show_audited_with_operator(
    db_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    emp = nid(31)
    cli(db_url, "db", "upgrade")
    pid = cli(db_url, "person", "add", emp, "王五")["id"]
    assert audit_rows(engine) == []  # a masked write is not a read of a file
    monkeypatch.delenv("YIBAO_OPERATOR", raising=False)
    cli(db_url, "person", "show", emp)
    cli(db_url, "person", "show", emp, "--show-identity", "--operator", "clerk-7", as_json=False)
    monkeypatch.setenv("YIBAO_OPERATOR", "clerk-8")
    cli(db_url, "person", "show", emp)
    rows = [
        (r.actor, r.role, r.action, r.person_id, r.target, r.detail) for r in audit_rows(engine)
    ]
    assert rows == [
        (f"cli:{getpass.getuser()}", "cli", "cli:person show", pid, f"person:{pid}",
         "identity masked"),
        ("cli:clerk-7", "cli", "cli:person show", pid, f"person:{pid}",
         "identity shown (--show-identity)"),
        ("cli:clerk-8", "cli", "cli:person show", pid, f"person:{pid}", "identity masked"),
    ]  # fmt: skip
    assert all(emp not in str(r) for r in rows)


def test_identity_shown_by_any_command_audited(db_url: str, engine: Engine) -> None:
    emp = nid(41)
    cli(db_url, "db", "upgrade")
    pid = cli(db_url, "person", "add", emp, "赵六", "--show-identity", "--operator", "a")["id"]
    args = ("enrol", emp, "--kind", "resident", "--area", "360100", "--on", "2024-01-01")
    cli(db_url, *args)  # masked: not audited
    cli(db_url, "enrolment", "suspend", emp, "--show-identity", "--operator", "b")
    rows = [(r.actor, r.action, r.person_id, r.detail) for r in audit_rows(engine)]
    assert rows == [
        ("cli:a", "cli:person add", pid, "identity shown (--show-identity)"),
        ("cli:b", "cli:enrolment suspend", pid, "identity shown (--show-identity)"),
    ]


def test_nothing_printed_when_the_read_cannot_be_audited(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emp = nid(51)
    cli(db_url, "db", "upgrade")
    cli(db_url, "person", "add", emp, "钱七")

    def broken(*_: Any, **__: Any) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("disk full"))

    monkeypatch.setattr(access, "record_cli_read", broken)
    result = runner.invoke(app, ["person", "show", emp, "--show-identity", "--db", db_url])
    assert result.exit_code == 3
    assert result.stdout == "" and "audit log" in result.stderr and emp not in result.stderr
