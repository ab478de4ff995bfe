"""One quiet Spark session (local[2]) for the Spark engine's tests; skipped where PySpark or Java
is missing (the local engine needs neither)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from yibao.batch.spark import SparkOptions, SparkUnavailable, check_available, session


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    try:
        check_available()
    except SparkUnavailable as exc:
        pytest.skip(str(exc))
    spark = session(SparkOptions(master="local[2]", partitions=3, driver_memory="768m"))
    yield spark
    spark.stop()
