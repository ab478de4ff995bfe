"""One quiet Spark session (local[2]) for the Spark engine's tests, and a small generated area;
skipped where PySpark or Java is missing (the local engine needs neither)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yibao.batch.spark import SparkOptions, SparkUnavailable, check_available, session
from yibao.synth import SynthConfig, generate

REGION, YEAR = "360100", 2025


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        check_available()
    except SparkUnavailable as exc:
        pytest.skip(str(exc))
    spark = session(SparkOptions(master="local[2]", partitions=3, driver_memory="768m"))
    yield spark
    spark.stop()


@pytest.fixture(scope="session")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three parts of 600 persons (about 10,000 claims), every scheme and aid class."""
    out = tmp_path_factory.mktemp("area")
    generate(out, SynthConfig(REGION, 1800, YEAR, seed=17, chunk_size=600))
    return out
