"""``batch.area.write_payments``: a part's results written in order, exactly, in row groups of
at least ``ROW_GROUP`` claims, the mostly-zero payments compressed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from yibao.batch import area
from yibao.batch.area import MOSTLY_ZERO, PAYMENTS, write_payments
from yibao.kernel.settle import Result
from yibao.kernel.state import State


def results(sizes: list[int]) -> list[Result]:
    rng = np.random.default_rng(5)
    return [
        Result({c: rng.integers(-(10**9), 10**9, n, dtype=np.int64) for c in PAYMENTS}, State())
        for n in sizes
    ]


def test_results_are_written_in_order_and_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(area, "ROW_GROUP", 10)
    sizes = [3, 0, 4, 25, 1, 9, 2]  # a result larger than a row group, an empty one
    given = results(sizes)
    assert write_payments(tmp_path / "p.parquet", given) == sum(sizes)
    written = pq.read_table(tmp_path / "p.parquet")
    assert written.schema.names == list(PAYMENTS)
    for name in PAYMENTS:
        expected = np.concatenate([r.columns[name] for r in given])
        assert written[name].to_numpy().tolist() == expected.tolist(), name
    meta = pq.read_metadata(tmp_path / "p.parquet")
    rows = [meta.row_group(k).num_rows for k in range(meta.num_row_groups)]
    assert rows == [32, 10, 2]  # 3+0+4+25, 1+9, then the part's end
    compression = {meta.schema.column(k).name: meta.row_group(0).column(k).compression
                   for k in range(meta.num_columns)}  # fmt: skip
    assert {c for c, how in compression.items() if how != "UNCOMPRESSED"} == set(MOSTLY_ZERO)


def test_a_part_without_claims_gets_an_empty_file(tmp_path: Path) -> None:
    assert write_payments(tmp_path / "p.parquet", []) == 0
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 0
