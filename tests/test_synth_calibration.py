"""The calibration table of a generated area (synth.calibration) against hand sums."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from yibao.kernel.arrow import settle_table
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, fund_ratio, generate
from yibao.synth.calibrated import BenefitsError, calibrated_overlay, calibrated_sources
from yibao.synth.calibration import (
    FUND_RATIO_TOLERANCE,
    LEVEL_NAMES,
    PUBLISHED_FUND_RATIO,
    PUBLISHED_FUND_RATIO_BY_LEVEL,
    calibration_rows,
    calibration_table,
)

YEAR = 2025


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calibration")
    generate(out, SynthConfig("360100", 20_000, YEAR, seed=11, chunk_size=10_000))
    return out


def hand_ratios(area: Path, calibrated: bool = True) -> dict[Any, float]:
    """Every part settled through the kernel (the region's policy, with the calibrated
    overlay on top or not); the insurance funds' inpatient payments over the policy scope, by
    scheme and by (scheme, level) (medical assistance left out)."""
    overlays = [calibrated_overlay()] if calibrated else []
    tables = compile_tables(Policy("360100", overlays=overlays), YEAR)
    fund: dict[Any, int] = {}
    scope: dict[Any, int] = {}
    for persons_path in sorted((area / "persons").glob("part-*.parquet")):
        persons = pq.read_table(persons_path).sort_by("psn_no")
        claims = pq.read_table(area / "claims" / persons_path.name)
        table, _ = settle_table(tables, claims, persons)
        settled = table.select(
            ["psn_no", "med_type", "level", "hifp_pay", "hifmi_pay", "hifob_pay", "inscp_scp_amt"]
        ).to_pylist()
        scheme = dict(
            zip(persons["psn_no"].to_pylist(), persons["scheme"].to_pylist(), strict=True)
        )
        for row in settled:
            if row["med_type"] != "inpatient":
                continue
            group = "resident" if scheme[row["psn_no"]] == "resident" else "employee"
            for key in (group, (group, row["level"])):
                fund[key] = fund.get(key, 0) + row["hifp_pay"] + row["hifmi_pay"] + row["hifob_pay"]
                scope[key] = scope.get(key, 0) + row["inscp_scp_amt"]
    return {g: round(100 * fund[g] / scope[g], 1) for g in fund}


def test_fund_ratios_are_the_kernel_s_by_hand_and_within_two_points(area: Path) -> None:
    """The generated area (20,000 persons) is settled under the calibrated benefits: each
    scheme's ratio within 2 points of the bulletin's (at 200,000 persons too, docs), each
    level's the kernel's by hand."""
    assert json.loads((area / "meta.json").read_text())["benefits"] == "calibrated"
    ratios = hand_ratios(area)
    rows = {r["measure"]: r for r in calibration_table(area)}
    for group, label in (("employee", "employees"), ("resident", "residents")):
        row = rows[f"fund payment ratio within policy scope, inpatient, {label}"]
        assert row["generated"] == ratios[group]
        assert row["published"] == PUBLISHED_FUND_RATIO[group]
        assert "National Healthcare Security Administration, 2023" in row["source"]
        assert f"{PUBLISHED_FUND_RATIO[group]}%" in row["source"]
        assert abs(ratios[group] - PUBLISHED_FUND_RATIO[group]) <= FUND_RATIO_TOLERANCE
        assert row["within_tolerance"]
        for level, name in LEVEL_NAMES.items():
            row = rows[f"fund payment ratio within policy scope, inpatient, {label}, {name}"]
            assert row["generated"] == ratios[(group, level)]
            assert row["published"] == PUBLISHED_FUND_RATIO_BY_LEVEL[group][level]
            assert row["within_tolerance"] == (
                abs(row["generated"] - row["published"]) <= FUND_RATIO_TOLERANCE
            )
    assert fund_ratio(area) == {g: ratios[g] for g in ("employee", "resident")}


def test_an_area_under_its_region_s_benefits_stays_below(area: Path, tmp_path: Path) -> None:
    """``--benefits region`` (or a meta.json from before the overlay): the national defaults
    alone, several points below the bulletin (docs/synthetic-data.md); an unknown value is
    refused naming the field."""
    copy = tmp_path / "area"
    shutil.copytree(area, copy)
    meta = json.loads((area / "meta.json").read_text())
    for benefits in ("region", None):
        if benefits is None:
            meta.pop("benefits")
        else:
            meta["benefits"] = benefits
        (copy / "meta.json").write_text(json.dumps(meta))
        ratios = hand_ratios(copy, calibrated=False)
        assert fund_ratio(copy) == {g: ratios[g] for g in ("employee", "resident")}
        assert ratios["employee"] < PUBLISHED_FUND_RATIO["employee"] - FUND_RATIO_TOLERANCE
        assert ratios["resident"] < PUBLISHED_FUND_RATIO["resident"] - FUND_RATIO_TOLERANCE
    meta["benefits"] = "generous"
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(BenefitsError, match="benefits: 'generous'"):
        calibration_table(copy)


def test_the_overlay_cites_a_source_for_every_value() -> None:
    """Every value of ``synth/calibrated.yaml`` cites a listed source; the overlay only sets
    parameters the national defaults have; the national file is left as it is."""
    from yibao.policy.tree import flatten

    overlay = calibrated_overlay()
    national = {p for layer in Policy("000000").chain for p in layer.leaves}
    paths = flatten("calibrated.yaml", overlay)
    assert paths and set(paths) <= national
    assert {leaf.source for leaf in paths.values()} == {"CALIBRATED"}  # type: ignore[union-attr]
    assert "NHSA2023-LEVEL" in calibrated_sources()
    assert Policy("000000").rate(
        "benefits.employee.inpatient.basic.ratio.level3", dt.date(YEAR, 1, 1)
    ) == Decimal("0.80")


def test_the_table_is_json_and_the_income_rows_are_within_tolerance(area: Path) -> None:
    table = calibration_table(area)
    assert json.loads(json.dumps(table)) == table
    assert [r.as_dict() for r in calibration_rows(area)] == table
    income = [r for r in table if r["unit"] == "yuan"]
    assert len(income) == 5 and all(r["within_tolerance"] for r in income)
    assert all("统计公报" in r["source"] for r in income)
    generated = [r["generated"] for r in income]
    assert generated == sorted(generated)


def test_an_area_without_income_has_no_income_rows(area: Path, tmp_path: Path) -> None:
    copy = tmp_path / "area"
    for sub in ("persons", "claims"):
        (copy / sub).mkdir(parents=True)
        for part in sorted((area / sub).glob("part-*.parquet")):
            table = pq.read_table(part)
            if sub == "persons":
                table = table.drop_columns(["household_income"])
            pq.write_table(table, copy / sub / part.name)
    (copy / "meta.json").write_text((area / "meta.json").read_text())
    rows = calibration_table(copy)
    assert [r["unit"] for r in rows] == ["%"] * 8
    assert pc.sum(pq.read_table(copy / "persons")["account_balance"]).as_py() == int(
        np.asarray(pq.read_table(area / "persons")["account_balance"]).sum()
    )


def test_benefits_option_is_recorded_and_checked(tmp_path: Path) -> None:
    """``yibao synth --benefits region`` records it; an unknown value is refused with exit 2
    and one line, nothing written; a simulation of an area whose meta.json names unknown
    benefits is refused before any work."""
    from typer.testing import CliRunner

    from yibao.cli import app

    runner = CliRunner()
    out = tmp_path / "area"
    args = ["synth", "--persons", "300", "--out", str(out), "--seed", "3", "--quiet"]
    res = runner.invoke(app, [*args, "--benefits", "region"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "meta.json").read_text())["benefits"] == "region"
    bad_args = ["synth", "--persons", "300", "--out", str(tmp_path / "bad"), "--quiet"]
    bad = runner.invoke(app, [*bad_args, "--benefits", "generous"])
    assert bad.exit_code == 2 and "benefits must be calibrated or region" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "bad").exists()
    meta = json.loads((out / "meta.json").read_text())
    meta["benefits"] = "generous"
    (out / "meta.json").write_text(json.dumps(meta))
    reform = Path(__file__).parents[1] / "src/yibao/calc/examples/reforms/lift_cap.yaml"
    res = runner.invoke(app, ["simulate", str(reform), "--area", str(out)])
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        "error: --area: meta.json: benefits: 'generous' is not one of calibrated, region"
    )
