"""Household disposable income of a generated area (synth.income) and its calibration rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from yibao.synth import SynthConfig, generate
from yibao.synth.calibration import household_quintiles
from yibao.synth.income import (
    NBS_MEAN,
    NBS_QUINTILES,
    boundaries,
    income_year,
    per_capita,
    quintile_means,
)

YEAR = 2025


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("income")
    generate(out, SynthConfig("360100", 30_000, YEAR, seed=3, chunk_size=15_000))
    return out


def test_published_figures_are_the_communiques() -> None:
    # NBS communiqué 2023 (29 Feb 2024): 9215, 20442, 32195, 50220, 95055; mean 39218
    assert NBS_QUINTILES[2023] == (9215, 20442, 32195, 50220, 95055)
    assert NBS_MEAN[2023] == 39218
    assert income_year(2024) == 2023
    assert income_year(2025) == 2023  # the latest communiqué in the table
    assert income_year(2023) == 2022
    assert income_year(2010) == 2021


def test_quantile_function_reproduces_each_quintile_mean() -> None:
    means = quintile_means(2024, 39218.0)  # scale 1
    assert means.tolist() == [9215, 20442, 32195, 50220, 95055]
    b, alpha = boundaries(means)
    # hand: b0 = 0.25 × 9215 = 2303.75; b1 = 2 × 9215 − b0 = 16126.25; b2 = 24757.75 ...
    assert b[0] == pytest.approx(2303.75)
    assert b[1] == pytest.approx(16126.25)
    assert b[2] == pytest.approx(24757.75)
    assert b[4] == pytest.approx(2 * 50220 - (2 * 32195 - b[2]))
    assert alpha == pytest.approx(95055 / (95055 - b[4]))
    # the mean over each fifth of u (fine midpoint grid; the Pareto tail converges slowly)
    n = 2_000_000
    u = (np.arange(n) + 0.5) / n
    x = per_capita(u, means)
    assert np.all(np.diff(x) >= 0)
    fifths = x.reshape(5, -1).mean(axis=1)
    assert fifths[:4] == pytest.approx(means[:4], rel=1e-6)
    assert fifths[4] == pytest.approx(means[4], rel=0.01)


def test_household_income_column(area: Path) -> None:
    t = pq.read_table(area / "persons")
    assert t.schema.field("household_income").type == pa.int64()
    income = t["household_income"].to_numpy()
    assert income.min() > 0 and np.all(income % 100 == 0)  # whole yuan, in fen
    per_household = t.group_by("household_id").aggregate(
        [("household_income", "min"), ("household_income", "max")]
    )
    assert pc.all(
        pc.equal(per_household["household_income_min"], per_household["household_income_max"])
    ).as_py()
    meta = json.loads((area / "meta.json").read_text())
    assert meta["income"]["communique_year"] == 2023
    assert meta["income"]["published_quintiles"] == [9215, 20442, 32195, 50220, 95055]


def test_quintiles_near_published_and_aid_households_lowest(area: Path) -> None:
    generated = household_quintiles(area)
    published = quintile_means(YEAR, 41314.0)
    assert generated is not None
    for g, p in zip(generated, published, strict=True):
        assert abs(g - p) <= 0.10 * p
    t = pq.read_table(
        area / "persons",
        columns=["household_id", "household_income", "assistance_class", "scheme"],
    )
    h = t.group_by("household_id").aggregate(
        [("household_income", "max"), ("household_id", "count"), ("assistance_class", "count")]
    )
    pc_income = h["household_income_max"].to_numpy() / h["household_id_count"].to_numpy() / 100
    aid = h["assistance_class_count"].to_numpy() > 0
    lowest_fifth = np.quantile(pc_income, 0.2)
    assert aid.any() and np.all(pc_income[aid] <= lowest_fifth * 1.05)


def test_quintiles_group_households_as_the_simulation_does(tmp_path: Path) -> None:
    """Seven households in two parts, ranked by income per member (fen, integer division) then
    id: the groups are ranks [0, 2), [2, 3), [3, 5), [5, 6), [6, 7) (first rank of quintile q:
    ⌈q·7/5⌉ = 2, 3, 5, 6), each group's income over its members, as the simulation's report
    groups them (``kernel.quintiles``)."""
    # (household, members, household income in yuan); per member: 900, 1000, 1000, 2000,
    # 3000, 3000 (a tie: id 6 before id 7), 10000
    households = [(7, 1, 3000), (1, 2, 1800), (6, 2, 6000), (3, 1, 1000), (2, 3, 3000)]
    households += [(4, 1, 2000), (5, 2, 20000)]
    rows = [(h, income * 100) for h, members, income in households for _ in range(members)]
    (tmp_path / "persons").mkdir()
    for k, part in enumerate((rows[:5], rows[5:])):
        pq.write_table(
            pa.table(
                {
                    "household_id": pa.array([h for h, _ in part], pa.int64()),
                    "household_income": pa.array([i for _, i in part], pa.int64()),
                }
            ),
            tmp_path / "persons" / f"part-{k:05d}.parquet",
        )
    # by rank: id 1 (900 a member, 2 members, 1,800), id 2 (1000, 3, 3,000), id 3 (1000, 1,
    # 1,000), id 4 (2000, 1, 2,000), id 6 (3000, 2, 6,000), id 7 (3000, 1, 3,000), id 5 (10000)
    expected = [
        round((1800 + 3000) / (2 + 3)),  # ids 1 and 2
        1000.0,  # id 3
        round((2000 + 6000) / (1 + 2)),  # ids 4 and 6
        3000.0,  # id 7
        10000.0,  # id 5
    ]
    assert household_quintiles(tmp_path) == expected
