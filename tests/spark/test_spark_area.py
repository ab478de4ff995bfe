"""An area settled on Spark (local[2], partitioned by household) equals the local batch
settlement of the same area (``batch.area``, part by part), claim by claim, to the fen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.spark.conftest import REGION, YEAR
from yibao.batch.area import parts, read_part
from yibao.batch.spark import (
    CLAIM_ID,
    SETTLED,
    area_tables,
    person_runs,
    settle_area,
    whole_persons,
)
from yibao.kernel.schema import OUTPUT_COLUMNS
from yibao.kernel.settle import settle_claims


def local_settlement(area: Path) -> pa.Table:
    """The local engine: each generated part (whole persons, in order) through the kernel."""
    tables = area_tables(REGION, YEAR)
    out = []
    for persons_path, claims_path in parts(area):
        claims, persons = read_part(persons_path, claims_path)
        ids = pq.read_table(claims_path, columns=[CLAIM_ID, "psn_no"])
        result = settle_claims(tables, claims, persons, explain=False)
        cols = {CLAIM_ID: ids[CLAIM_ID], "psn_no": ids["psn_no"]}
        cols.update({c: pa.array(result.columns[c]) for c in OUTPUT_COLUMNS})
        out.append(pa.table(cols, schema=SETTLED))
    return pa.concat_tables(out).sort_by(CLAIM_ID)


def test_area_on_spark_equals_local_to_the_fen(spark: Any, area: Path, tmp_path: Path) -> None:
    settle_area(spark, area, tmp_path / "settled", REGION, YEAR, partitions=3)
    files = sorted((tmp_path / "settled").glob("part-*.parquet"))
    assert len(files) >= 2  # the households were spread over several partitions
    on_spark = pa.concat_tables(pq.read_table(f) for f in files).sort_by(CLAIM_ID)
    local = local_settlement(area)
    claims = sum(pq.read_metadata(c).num_rows for _, c in parts(area))
    assert on_spark.num_rows == local.num_rows == claims
    for column in SETTLED.names:
        assert on_spark[column].equals(local[column]), column
    # the area is not trivial: every fund layer paid something and the identity holds
    paid = {c: pa.compute.sum(on_spark[c]).as_py() for c in OUTPUT_COLUMNS}
    assert paid["hifp_pay"] > 0 and paid["hifmi_pay"] + paid["hifob_pay"] > 0
    assert paid["fund_pay_sumamt"] == sum(
        paid[c] for c in ("hifp_pay", "hifmi_pay", "hifob_pay", "maf_pay")
    )


def batch(psn: list[int]) -> pa.RecordBatch:
    return pa.record_batch({"psn_no": pa.array(psn, pa.int64()), "n": pa.array(range(len(psn)))})


def test_whole_persons_carries_a_person_split_across_batches() -> None:
    # person 2 spans the first two batches and person 4 the last two; an empty batch in between
    batches = [batch([1, 1, 2]), batch([2, 2, 3]), batch([]), batch([4]), batch([4, 5])]
    tables = list(whole_persons(batches))
    assert [t["psn_no"].to_pylist() for t in tables] == [[1, 1], [2, 2, 2], [3], [4, 4], [5]]
    assert not list(whole_persons([]))
    assert person_runs(np.array([7, 7, 8, 9, 9])).tolist() == [0, 2, 3]
