"""``yibao api sign``: the headers it prints sign the body so that the service accepts it (with
a given key, or with the key derived from the master secret and the newest key id), and the
demo's helpers (private files, the printed curl command)."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from yibao.api.http.app import create_app
from yibao.api.http.security import sign
from yibao.api.http.settings import Settings
from yibao.cli import demo
from yibao.cli.api import app
from yibao.domain.credentials import institution_key
from yibao.services.accounts import NewInstitution, issue_institution
from yibao.services.demo import private_file
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

runner = CliRunner()
SECRET = "sign-test-secret-0123456789"
CODE = "H36010000001"
TX = "/api/v1/tx"


def headers_of(output: str) -> dict[str, str]:
    pairs = (line.split(": ", 1) for line in output.strip().splitlines())
    return {name: value for name, value in pairs}


def body_file(tmp_path: Path) -> Path:
    doc = {
        "infno": "1101",
        "msgid": "sign-1",
        "fixmedins_code": CODE,
        "opter": "clerk-1",
        "inf_time": "2025-06-01 10:00:00",
        "input": {"psn_no": "1", "date": "2025-06-01"},
    }
    path = tmp_path / "1101.json"
    path.write_bytes(orjson.dumps(doc))
    return path


def test_sign_with_a_given_key(tmp_path: Path) -> None:
    body = body_file(tmp_path)
    r = runner.invoke(
        app, ["sign", "--institution", CODE, "--key-id", "k1", "--key", "abc", "--body", str(body)]
    )
    assert r.exit_code == 0, r.output
    h = headers_of(r.output)
    assert list(h) == [
        "Content-Type",
        "X-Yibao-Institution",
        "X-Yibao-Key-Id",
        "X-Yibao-Timestamp",
        "X-Yibao-Nonce",
        "X-Yibao-Signature",
    ]
    assert h["X-Yibao-Institution"] == CODE and h["X-Yibao-Key-Id"] == "k1"
    expected = sign(
        "abc", h["X-Yibao-Timestamp"], h["X-Yibao-Nonce"], "POST", TX, body.read_bytes()
    )
    assert h["X-Yibao-Signature"] == expected
    # a GET signs the empty body and sends no content type
    given = ["sign", "--institution", CODE, "--key-id", "k1", "--key", "abc"]
    r = runner.invoke(app, [*given, "--method", "get", "--path", "/api/v1/settlements/S1"])
    h = headers_of(r.output)
    assert "Content-Type" not in h
    assert h["X-Yibao-Signature"] == sign(
        "abc", h["X-Yibao-Timestamp"], h["X-Yibao-Nonce"], "GET", "/api/v1/settlements/S1", b""
    )


def test_sign_derives_the_key_and_the_service_accepts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    spec = NewInstitution(code=CODE, name="demo", level=2, area="360100")
    issue_institution(UnitOfWork.for_engine(engine), SECRET, spec)
    newest = issue_institution(
        UnitOfWork.for_engine(engine), SECRET, spec
    )  # a second key: the newest is used
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    body = body_file(tmp_path)
    monkeypatch.delenv("YIBAO_API_SECRET", raising=False)
    args = ["sign", "--institution", CODE, "--body", str(body), "--db", url]
    r = runner.invoke(app, [*args, "--secret-file", str(secret_file)])
    assert r.exit_code == 0, r.output
    h = headers_of(r.output)
    assert h["X-Yibao-Key-Id"] == newest.key_id
    key = institution_key(SECRET, CODE, newest.key_id)
    assert h["X-Yibao-Signature"] == sign(
        key, h["X-Yibao-Timestamp"], h["X-Yibao-Nonce"], "POST", TX, body.read_bytes()
    )
    settings = Settings(api_secret=SecretStr(SECRET), database_url=url)
    with TestClient(create_app(settings, engine=engine)) as client:
        answer = client.post(TX, content=body.read_bytes(), headers=h).json()
        # authenticated: the person is unknown in this empty database (3001), not 2001
        assert answer["infcode"] == 3001, answer
        # the secret from the environment works the same
        monkeypatch.setenv("YIBAO_API_SECRET", SECRET)
        again = headers_of(runner.invoke(app, args).output)
        replay = client.post(TX, content=body.read_bytes(), headers=again).json()
        assert replay == answer  # same msgid: the stored answer
    engine.dispose()


def test_sign_refusals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'api.sqlite'}"
    upgrade(url)
    monkeypatch.setenv("YIBAO_API_SECRET", SECRET)
    body = body_file(tmp_path)
    r = runner.invoke(app, ["sign", "--institution", "NOPE", "--body", str(body), "--db", url])
    assert r.exit_code == 2 and "no active key" in r.output
    r = runner.invoke(app, ["sign", "--institution", CODE, "--body", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "--body" in r.output
    r = runner.invoke(app, ["sign", "--institution", CODE, "--key", "k", "--body", str(body)])
    assert r.exit_code == 2 and "--key-id" in r.output
    monkeypatch.delenv("YIBAO_API_SECRET")
    r = runner.invoke(app, ["sign", "--institution", CODE, "--body", str(body), "--db", url])
    assert r.exit_code == 2 and "YIBAO_API_SECRET" in r.output


def test_demo_private_file_and_curl_command(tmp_path: Path) -> None:
    path = tmp_path / "api-secret"
    value, made = private_file(path, lambda: "s3cret")
    assert (value, made) == ("s3cret", True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert private_file(path, lambda: "other") == ("s3cret", False)
    cmd = demo.curl_command(
        "http://127.0.0.1:8000",
        Path("data/demo/2207.json"),
        "sqlite:///data/demo/yibao.sqlite",
        Path("data/demo/api-secret"),
        yibao="yibao",
    )
    assert cmd == (
        "curl -s http://127.0.0.1:8000/api/v1/tx --data-binary @data/demo/2207.json "
        "-H @<(yibao api sign --institution H36010000001 --body data/demo/2207.json "
        "--db sqlite:///data/demo/yibao.sqlite --secret-file data/demo/api-secret)"
    )
