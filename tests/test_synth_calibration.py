"""The calibration table of a generated area (synth.calibration) against hand sums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from yibao.kernel.arrow import settle_table
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy
from yibao.synth import SynthConfig, fund_ratio, generate
from yibao.synth.calibration import (
    FUND_RATIO_TOLERANCE,
    PUBLISHED_FUND_RATIO,
    calibration_rows,
    calibration_table,
)

YEAR = 2025


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("calibration")
    generate(out, SynthConfig("360100", 20_000, YEAR, seed=11, chunk_size=10_000))
    return out


def hand_ratios(area: Path) -> dict[str, float]:
    """Every part settled through the kernel; the insurance funds' inpatient payments over the
    policy scope, by scheme (medical assistance left out)."""
    tables = compile_tables(Policy("360100"), YEAR)
    fund = {"employee": 0, "resident": 0}
    scope = {"employee": 0, "resident": 0}
    for persons_path in sorted((area / "persons").glob("part-*.parquet")):
        persons = pq.read_table(persons_path).sort_by("psn_no")
        claims = pq.read_table(area / "claims" / persons_path.name)
        table, _ = settle_table(tables, claims, persons)
        settled = table.select(
            ["psn_no", "med_type", "hifp_pay", "hifmi_pay", "hifob_pay", "inscp_scp_amt"]
        ).to_pylist()
        scheme = dict(
            zip(persons["psn_no"].to_pylist(), persons["scheme"].to_pylist(), strict=True)
        )
        for row in settled:
            if row["med_type"] != "inpatient":
                continue
            group = "resident" if scheme[row["psn_no"]] == "resident" else "employee"
            fund[group] += row["hifp_pay"] + row["hifmi_pay"] + row["hifob_pay"]
            scope[group] += row["inscp_scp_amt"]
    return {g: round(100 * fund[g] / scope[g], 1) for g in fund}


def test_fund_ratios_are_the_kernel_s_by_hand(area: Path) -> None:
    ratios = hand_ratios(area)
    rows = {r["measure"]: r for r in calibration_table(area)}
    for group, label in (("employee", "employees"), ("resident", "residents")):
        row = rows[f"fund payment ratio within policy scope, inpatient, {label}"]
        assert row["generated"] == ratios[group]
        assert row["published"] == PUBLISHED_FUND_RATIO[group]
        assert "National Healthcare Security Administration, 2023" in row["source"]
        assert row["within_tolerance"] == (
            abs(ratios[group] - PUBLISHED_FUND_RATIO[group]) <= FUND_RATIO_TOLERANCE
        )
    assert fund_ratio(area) == ratios
    # the generated area's ratios, deterministic for the seed (docs/synthetic-data.md)
    assert 70 <= ratios["employee"] <= 90 and 55 <= ratios["resident"] <= 75


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
    assert [r["unit"] for r in rows] == ["%", "%"]
    assert pc.sum(pq.read_table(copy / "persons")["account_balance"]).as_py() == int(
        np.asarray(pq.read_table(area / "persons")["account_balance"]).sum()
    )
