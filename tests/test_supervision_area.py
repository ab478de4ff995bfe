"""The year's supervision run over a generated area with planted irregularities: every planted
case is found (recall 100% for the deterministic rules), false positives are counted; claims and
lines still agree after planting; ``yibao supervise`` prints and writes the findings."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from yibao.cli import app
from yibao.services.supervision.area import read_truth, score, supervise_area
from yibao.synth.config import SynthConfig
from yibao.synth.writer import generate

REGION, YEAR = "360100", 2025


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("planted")
    generate(out, SynthConfig(REGION, 3000, YEAR, 7, 1500, irregular=0.02))
    return out


def test_every_planted_case_is_found(area: Path) -> None:
    run = supervise_area(area, REGION, YEAR, threads=1)
    truth = read_truth(area)
    scores = score(run, truth)
    assert {s.rule for s in scores if s.planted} == {s.rule for s in scores}
    for s in scores:
        assert s.found == s.planted, s
        assert s.findings == s.found + s.false_positives


def test_planted_claims_and_lines_agree_to_the_fen(area: Path) -> None:
    """Totals are the sums of the lines after planting; each line's number is unique in its
    claim; claims ascend."""
    for part in sorted((area / "claims").glob("part-*.parquet")):
        claims = pq.read_table(part)
        lines = pq.read_table(area / "lines" / part.name)
        per = lines.group_by("claim_id").aggregate(
            [("amount", "sum"), ("feedetl_sn", "count_distinct"), ("feedetl_sn", "count")]
        )
        sums = dict(zip(per["claim_id"].to_pylist(), per["amount_sum"].to_pylist(), strict=True))
        assert per["feedetl_sn_count_distinct"].to_pylist() == per["feedetl_sn_count"].to_pylist()
        for cid, total in zip(
            claims["claim_id"].to_pylist(), claims["total"].to_pylist(), strict=True
        ):
            assert sums.get(cid, 0) == total
        ids = claims["claim_id"].to_pylist()
        assert ids == sorted(ids)


def test_a_rerun_finds_the_same(area: Path) -> None:
    one = supervise_area(area, REGION, YEAR, threads=2)
    two = supervise_area(area, REGION, YEAR, threads=1)
    assert one.counts() == two.counts()
    assert one.evidence.sort_by(
        [("rule", "ascending"), ("claim_id", "ascending"), ("feedetl_sn", "ascending")]
    ).equals(
        two.evidence.sort_by(
            [("rule", "ascending"), ("claim_id", "ascending"), ("feedetl_sn", "ascending")]
        )
    )


def test_cli_supervise_writes_findings_and_scores(area: Path, tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    result = CliRunner().invoke(
        app,
        ["supervise", "--year", str(YEAR), "--area-dir", str(area), "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert (
        doc["planted"]["split_admission"]["found"] == doc["planted"]["split_admission"]["planted"]
    )
    found = pq.read_table(out)
    assert found.num_rows >= sum(doc["findings"].values())
    assert set(pc.unique(found["rule"]).to_pylist()) <= set(doc["findings"])


def test_cli_supervise_refuses_a_folder_that_is_not_an_area(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["supervise", "--year", "2025", "--area-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--area-dir" in result.output
