"""The API commands: add-institution prints a key that signs requests; settings refused without
the secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from yibao.cli.api import app
from yibao.store.migrate import upgrade

runner = CliRunner()


def test_add_institution_and_staff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("YIBAO_DATABASE_URL", url)
    monkeypatch.setenv("YIBAO_API_SECRET", "cli-secret-0123456789")
    r = runner.invoke(app, ["add-institution", "H1", "--name", "Hospital", "--level", "2"])
    assert r.exit_code == 0, r.output
    lines = dict(line.split(" ", 1) for line in r.output.strip().splitlines())
    assert lines["institution"] == "H1" and len(lines["key"]) == 64
    monkeypatch.setenv("YIBAO_NEW_PASSWORD", "a-long-password")
    r = runner.invoke(app, ["add-staff", "alice", "--role", "administrator"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["add-staff", "alice", "--role", "administrator"])
    assert r.exit_code == 2 and "exists" in r.output


def test_refused_without_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YIBAO_API_SECRET", raising=False)
    r = runner.invoke(app, ["add-institution", "H1", "--name", "x"])
    assert r.exit_code == 2
    assert "YIBAO_API_SECRET" in r.output
