"""``yibao simulate --engine spark`` (local[2]) gives the local engine's output exactly: the
report to the fen, and every person's sums under every scenario; households stay whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from tests.spark.conftest import REGION, YEAR
from yibao.batch.area import parts
from yibao.batch.simulation.engine import (
    CLAIM_INPUT,
    INCOME,
    PERSON_INPUT,
    scenario,
    settle_households,
)
from yibao.batch.simulation.reform import load_reforms
from yibao.batch.spark import person_sums
from yibao.cli import app
from yibao.policy import Policy
from yibao.synth.calibration import calibration_table, inpatient_fund_sums_by_level

EXAMPLES = Path(__file__).parents[2] / "src/yibao/calc/examples/reforms"
REFORMS = [EXAMPLES / "lower_deductible.yaml", EXAMPLES / "lift_cap.yaml"]


def simulate(*args: str) -> Any:
    result = CliRunner().invoke(app, ["simulate", *args], env={"COLUMNS": "200"})
    return result


def test_spark_and_local_give_the_same_report(spark: Any, area: Path) -> None:
    args = [*map(str, REFORMS), "--area", str(area), "--json"]
    local = simulate(*args)
    on_spark = simulate(*args, "--engine", "spark", "--master", "local[2]")
    assert local.exit_code == 0, local.output
    assert on_spark.exit_code == 0, on_spark.output
    a, b = json.loads(local.stdout), json.loads(on_spark.stdout)
    assert (a.pop("engine"), b.pop("engine")) == ("local", "spark")
    assert a == b
    # the calibration table, from each engine's own sums of the baseline, is the one of a
    # separate settlement of the area
    assert a["calibration"] == json.loads(json.dumps(calibration_table(area)))
    # the reforms changed something: the comparison is not of two empty reports
    assert a["claims"] > 5000
    assert any(r["affected"]["persons"] for r in a["reforms"]), a["reforms"]


def test_every_person_equal_and_households_whole(spark: Any, area: Path, tmp_path: Path) -> None:
    scenarios = [scenario("baseline", Policy(REGION), YEAR)]
    scenarios += [scenario(r.name, p, YEAR) for r, p in load_reforms(REFORMS, REGION)]
    out = tmp_path / "persons"
    person_sums(spark, area, scenarios, YEAR, partitions=3).write.parquet(str(out))
    files = sorted(out.glob("part-*.parquet"))
    on_spark = pa.concat_tables(pq.read_table(f) for f in files).sort_by("psn_no")
    local = pa.concat_tables(
        settle_households(
            pq.read_table(c, columns=list(CLAIM_INPUT)),
            pq.read_table(p, columns=[*PERSON_INPUT, INCOME]),  # as the local engine reads
            scenarios,
            YEAR,
        )
        for p, c in parts(area)
    ).sort_by("psn_no")
    assert on_spark.schema.names == local.schema.names
    assert on_spark.num_rows == local.num_rows == 1800  # persons without claims too
    for name in local.schema.names:
        assert on_spark[name].to_pylist() == local[name].to_pylist(), name
    # each household in exactly one partition (file), with all its members
    seen: dict[int, int] = {}
    for k, f in enumerate(files):
        for h in np.unique(pq.read_table(f, columns=["household_id"])["household_id"]):
            assert seen.setdefault(int(h), k) == k
    assert len(files) >= 2


def test_spark_refused_in_one_line_before_work(area: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\npolicy:\n  benefitz:\n    x: 1\n", encoding="utf-8")
    result = simulate(str(bad), "--area", str(area), "--engine", "spark")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {bad}: policy.benefitz.x: unknown parameter"
    ]
    result = simulate(str(REFORMS[0]), "--area", str(area), "--master", "local[2]")
    assert result.exit_code == 2
    assert result.output.strip() == "error: --master: only with --engine spark"


def local_cuts(area: Path) -> list[tuple[int, int]]:
    """The local engine's exact quintile cut points, from the persons' Parquet."""
    from yibao.kernel.quintiles import per_member
    from yibao.kernel.quintiles import quintile_cuts as cuts

    persons = pa.concat_tables(
        pq.read_table(p, columns=["household_id", INCOME]) for p, _ in parts(area)
    )
    grouped = persons.group_by("household_id").aggregate(
        [(INCOME, "max"), ("household_id", "count")]
    )
    h = {
        "key": np.asarray(grouped["household_id"].to_numpy(), dtype=np.int64),
        "income": np.asarray(grouped[f"{INCOME}_max"].to_numpy(), dtype=np.int64),
        "members": np.asarray(grouped["household_id_count"].to_numpy(), dtype=np.int64),
    }
    return cuts(h["key"], per_member(h["income"], h["members"]))


def test_quintile_cuts_on_spark_are_the_exact_ones(spark: Any, area: Path) -> None:
    """The first pass (persons only) finds the same cut points as the local engine's sort, and
    a bracket that misses its rank is widened until it holds it."""
    from pyspark.sql import functions as F

    from yibao.batch.spark import _cuts_in, household_incomes, quintile_cuts
    from yibao.kernel.quintiles import cut_ranks

    expected = local_cuts(area)
    assert len(expected) == 4 and expected == sorted(expected)
    assert quintile_cuts(spark, area) == expected
    rows = household_incomes(spark, area)
    assert rows is not None
    ranks = cut_ranks(rows.count())
    # brackets that hold no cut (all below the lowest income): not found
    assert _cuts_in(rows, ranks, [(-2, -1)] * 4, F) == [None] * 4
    # unbounded brackets: every household collected, the exact cuts
    assert _cuts_in(rows, ranks, [(None, None)] * 4, F) == expected


def test_the_calibration_sums_on_spark_are_the_area_s(spark: Any, area: Path) -> None:
    """The baseline's inpatient sums by scheme and level, summed on the executors, equal to the
    fen those of a separate settlement of the area (``synth.calibration``)."""
    from yibao.batch.simulation.run import plan, settle

    p = plan(area, [REFORMS[0]])
    acc = settle(p, "spark", "local[2]")
    expected = inpatient_fund_sums_by_level(area)
    assert acc.inpatient_by_level() == expected
    assert all(fund > 0 and scope > fund for fund, scope in expected.values()), expected


def test_a_partition_sends_burden_aggregates_not_households(spark: Any, area: Path) -> None:
    """The driver receives, per partition, sums and a ``Burden`` of fixed size: no household."""
    import pickle

    from yibao.batch.spark import PARTIAL, _prepared, map_in_arrow, quintile_cuts, reducer

    scenarios = [scenario("baseline", Policy(REGION), YEAR)]
    rows, columns = _prepared(spark, area, scenarios, 3)
    cuts = quintile_cuts(spark, area)
    partial = map_in_arrow(rows, reducer(scenarios, YEAR, columns, cuts), PARTIAL).collect()
    accs = [pickle.loads(r["accumulator"]) for r in partial]
    assert accs and all(a.parts == [] and a.burden is not None for a in accs)
    assert sum(a.burden.households for a in accs) == len(
        {*pq.read_table(area / "persons")["household_id"].to_pylist()}
    )
