"""The command line as a whole: every command group is listed, and ``yibao calc`` starts without
the database or the web stack (command groups are imported only when invoked)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib import resources

from typer.testing import CliRunner

from yibao.cli import COMMANDS, app
from yibao.domain.masking import mask_personal

#: Top-level packages ``yibao calc`` must not import.
HEAVY = ("fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "fhir")

GROUPS = (
    "calc",
    "synth",
    "demo",
    "db",
    "person",
    "enrol",
    "enrolment",
    "pay",
    "maternity",
    "chronic",
    "commercial",
    "epidemic",
    "visit",
    "presettle",
    "settle",
    "reverse",
    "supervise",
    "simulate",
    "findings",
    "compare",
    "compare-review",
    "catalogue",
    "dip",
    "drg",
    "ledger",
    "funds",
    "year-end",
    "serve",
    "api",
    "project",
)


def test_help_lists_every_group() -> None:
    assert set(GROUPS) == set(COMMANDS)
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    listed = {line.split()[1] for line in result.output.splitlines() if line.startswith("│ ")}
    assert set(GROUPS) <= listed


def test_every_group_has_its_help() -> None:
    for name in GROUPS:
        result = CliRunner().invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Usage:" in result.output


def test_a_mistyped_command_is_suggested() -> None:
    result = CliRunner().invoke(app, ["setle"])
    assert result.exit_code == 2
    assert "Did you mean 'settle'" in result.output


def test_calc_starts_without_the_database_or_the_web_stack() -> None:
    scenario = str(resources.files("yibao.calc") / "examples" / "settle.yaml")
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.argv = ["yibao", "calc", "settle", {scenario!r}]
        from yibao.cli import main
        try:
            main()
        except SystemExit as exc:
            assert exc.code in (0, None), exc.code
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
        print(json.dumps(loaded), file=sys.stderr)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["settlements"], proc.stdout
    assert json.loads(proc.stderr.strip().splitlines()[-1]) == []


def test_masking_of_printed_records() -> None:
    record = {
        "national_id": "360426198506150019",
        "name": "张三丰",
        "phone": "13812345678",
        "birth_date": "1985-06-15",
        "relatives": [{"psn_name": "李四", "tel": "13912345678", "brdy": "1990-01-01"}],
        "text": "see 360426198506150019",
        "id": 7,
    }
    assert mask_personal(record) == {
        "national_id": "360426********0019",
        "name": "张**",
        "phone": "138****5678",
        "birth_date": None,
        "relatives": [{"psn_name": "李*", "tel": "139****5678", "brdy": None}],
        "text": "see 360426********0019",
        "id": 7,
    }


def test_text_no_record_may_hold_is_refused_naming_the_option(tmp_path: object) -> None:
    """Undecodable bytes in an argument arrive as lone surrogates (``surrogateescape``); they
    and control characters are refused with exit 2, naming the option, before any write."""
    import pathlib

    db = f"sqlite:///{pathlib.Path(str(tmp_path)) / 'x.sqlite'}"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "--db", db]).exit_code == 0
    nid = "36010219850312001X"
    cases = [
        (["settle", "--person", nid, "--total", "100", "--request-id", "x\udcff"], "request_id"),
        (["person", "show", "x\udcff"], "national_id"),
        (["person", "add", nid, "张三", "--household", "h\x01b"], "household"),
        (["reverse", "S\udcff"], "setl_id"),
    ]
    for args, field in cases:
        out = runner.invoke(app, [*args, "--db", db])
        assert out.exit_code == 2, (args, out.output)
        assert f"{field}: contains" in out.output
    shown = runner.invoke(app, ["person", "show", nid, "--db", db])
    assert shown.exit_code == 2 and "not found" in shown.output  # nothing was stored
