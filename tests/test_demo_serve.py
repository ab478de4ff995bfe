"""``yibao demo --serve`` (what ``./dev run`` does) end to end: a tiny demo area served on a
free port; a 2207 signed as the printed command signs it settles the demo person's claim."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.server_support import free_port, wait_answering
from yibao.cli.api import app as api_app

STARTUP_SECONDS = 120


def test_demo_serve_settles_a_signed_claim(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    port = free_port()
    env = {
        **os.environ,
        "YIBAO_DEMO_PERSONS": "200",
        "YIBAO_DATA_DIR": str(data),
        "YIBAO_PORT": str(port),
        "COLUMNS": "200",
    }
    env.pop("YIBAO_API_SECRET", None)
    env.pop("YIBAO_DATABASE_URL", None)
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yibao.cli", "demo", "--serve"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
        try:
            wait_answering(proc, f"{base}/docs", STARTUP_SECONDS, log_path)
            printed = log_path.read_text()
            assert f"{base}/docs" in printed
            assert "api sign --institution H36010000001" in printed
            secret = data / "api-secret"
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600
            assert "generated" in printed and str(secret) in printed

            body_path = data / "2207.json"
            doc = json.loads(body_path.read_text())
            psn_no = doc["input"]["psn_no"]
            assert f"psn_no {psn_no}" in printed
            args = ["sign", "--institution", "H36010000001", "--body", str(body_path)]
            db = f"sqlite:///{data / 'yibao.sqlite'}"
            signed = CliRunner().invoke(api_app, [*args, "--db", db, "--secret-file", str(secret)])
            assert signed.exit_code == 0, signed.output
            headers = dict(line.split(": ", 1) for line in signed.output.strip().splitlines())
            r = httpx.post(
                f"{base}/api/v1/tx", content=body_path.read_bytes(), headers=headers, timeout=30
            )
            answer = r.json()
            assert r.status_code == 200 and answer["infcode"] == 0, answer
            out = answer["output"]
            assert out["psn_no"] == psn_no and out["setl_id"]
            # the README's figures: the demo person is a resident without an assistance class,
            # the demo institution level 2: (20000 - 1000 - 400) x 75% = 13950.00 from the
            # basic fund, 6050.00 for the person (tests/test_readme_walks.py works it through)
            assert (out["scheme"], out["level"], out["medfee_sumamt"]) == (
                "resident",
                2,
                "20000.00",
            )
            assert (out["hifp_pay"], out["fund_pay_sumamt"], out["psn_part_amt"]) == (
                "13950.00",
                "13950.00",
                "6050.00",
            )
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)
