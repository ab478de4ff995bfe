"""``yibao synth --years FIRST-LAST``: a history, one generated area per year in OUT/<year>/."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from yibao.cli import app
from yibao.services.dip_history import history_cases


def test_years_write_one_area_per_year(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        ["synth", "--years", "2023-2024", "--persons", "300", "--out", str(tmp_path), "--quiet"],
    )
    assert r.exit_code == 0, r.output
    metas = {y: json.loads((tmp_path / str(y) / "meta.json").read_text()) for y in (2023, 2024)}
    assert [m["year"] for m in metas.values()] == [2023, 2024]
    assert metas[2023]["seed"] == 0 and metas[2024]["seed"] == 1


def test_bad_years_refused(tmp_path: Path) -> None:
    for bad in ("2024-2022", "20x2-2024", "2000-2015"):
        r = CliRunner().invoke(app, ["synth", "generate", "--years", bad, "--out", str(tmp_path)])
        assert r.exit_code == 2 and "years" in r.output, (bad, r.output)


def test_dip_build_reads_the_history(tmp_path: Path) -> None:
    CliRunner().invoke(
        app,
        ["synth", "--years", "2023-2024", "--persons", "400", "--out", str(tmp_path), "--quiet"],
    )
    cases = history_cases(tmp_path, [2023, 2024])
    assert set(cases.year.tolist()) == {2023, 2024}
    one = history_cases(tmp_path / "2024")
    assert set(one.year.tolist()) == {2024} and len(one) < len(cases)
