"""Apache Spark engine: the one settlement kernel over an area too large for one machine.

The area's claims are joined to their persons and the rows are partitioned by household (every
member of a household, hence every claim of a person, in one partition), sorted inside each
partition by (person, date, claim id) — the order in which the local engine settles a generated
part — and handed to the kernel (``kernel.settle.settle_claims``) through
``DataFrame.mapInArrow``: each Python worker receives its partition as Arrow record batches, cuts
them at person boundaries (a person split across two batches is carried into the next) and
settles whole persons in order with their year-to-date state. Input and output are Parquet. The
results equal the local engine's to the fen (``tests/spark``).

``session`` starts (or joins) a Spark session: ``local[N]`` on one machine, a cluster's master URL
in production. PySpark is imported only here and only when the Spark engine is asked for: the
local engine needs neither PySpark nor Java (``pip install 'yibao[spark]'`` adds them). Workers
run the driver's Python (``sys.executable``; on a cluster the same virtual environment must exist
at the same path on every node) and share the compiled kernel's on-disk cache
(``kernel.jit.cache_dir``, passed as ``NUMBA_CACHE_DIR``; the driver compiles or loads it before
the job, so that on one machine no worker compiles).
"""

from __future__ import annotations

import os
import pickle
import resource
import shutil
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from yibao.kernel.arrow import claims_from_arrow, persons_from_arrow
from yibao.kernel.schema import CLAIM_COLUMNS, OUTPUT_COLUMNS, PERSON_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from yibao.batch.simulation.aggregate import Accumulator
    from yibao.batch.simulation.engine import Scenario
    from yibao.kernel.tables import Tables

#: Rows per Arrow batch handed to a worker (Spark's default is 10,000: the kernel's fixed cost per
#: call is small, but fewer, larger batches copy less).
ARROW_BATCH = 100_000
#: Claims per partition at most (``partitions_for``): a partition's sorted run stays a few
#: hundred MB in the JVM, and a province's 600 million claims make a few hundred tasks.
CLAIMS_PER_PARTITION = 2_000_000
#: The local master of the tests and of one machine.
LOCAL = "local[2]"
#: The household key by which rows are partitioned (``synth`` writes it on every person).
HOUSEHOLD = "household_id"
#: The claim key that breaks ties between a person's claims of one day (the generated order).
CLAIM_ID = "claim_id"
#: What the Spark engine writes per claim: the keys, then the kernel's amounts (fen).
SETTLED = pa.schema(
    [(CLAIM_ID, pa.int64()), ("psn_no", pa.int64())] + [(c, pa.int64()) for c in OUTPUT_COLUMNS]
)


def spark_ddl(schema: pa.Schema) -> str:
    """An Arrow schema (int64, float64, bool, binary, string) as the DDL of ``mapInArrow``."""
    names = {
        pa.int64(): "long",
        pa.bool_(): "boolean",
        pa.float64(): "double",
        pa.binary(): "binary",
        pa.string(): "string",
    }
    return ", ".join(f"{f.name} {names[f.type]}" for f in schema)


Partition = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


class SparkUnavailable(RuntimeError):
    """The Spark engine was asked for where it cannot run (no PySpark, no Java)."""


@dataclass(frozen=True)
class SparkOptions:
    """How the session is started: ``master`` (``local[N]`` or a cluster URL), the least number
    of partitions of the shuffle by household (an area gets one more per ``CLAIMS_PER_PARTITION``
    claims: ``partitions_for``), and the memory of the driver and of each executor."""

    master: str = LOCAL
    partitions: int = 4
    #: None: Spark's own (``spark-defaults.conf`` of the cluster, else 1g)
    driver_memory: str | None = None
    executor_memory: str | None = None
    app: str = "yibao"


def check_available() -> None:
    """Refuse early, with one line, where PySpark or Java is missing."""
    try:
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailable("PySpark is not installed (pip install 'yibao[spark]')") from exc
    java_home = os.environ.get("JAVA_HOME")
    if shutil.which("java") is None and not (java_home and Path(java_home, "bin", "java").exists()):
        raise SparkUnavailable("no Java on this machine (Spark needs Java 17+)")


def session(options: SparkOptions | None = None) -> SparkSession:
    """A Spark session for the kernel (an existing one is reused: its options stay)."""
    check_available()
    from pyspark.sql import SparkSession

    from yibao.kernel.jit import cache_dir

    opts = options or SparkOptions()
    # the workers run this interpreter (the venv's), with this package and the kernel's cache
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    log4j = Path(__file__).with_name("spark_log4j2.properties")
    quiet = f"-Dlog4j2.configurationFile={log4j}"
    builder: Any = SparkSession.builder
    conf = (
        builder.master(opts.master)
        .appName(opts.app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(opts.partitions))
        .config("spark.sql.adaptive.enabled", "false")  # keep the partitions asked for
        .config("spark.driver.extraJavaOptions", quiet)
        .config("spark.executor.extraJavaOptions", quiet)
        .config("spark.pyspark.python", sys.executable)
        .config("spark.executorEnv.NUMBA_CACHE_DIR", str(cache_dir()))
        .config("spark.python.worker.reuse", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH))
    )
    for key, value in (
        ("spark.driver.memory", opts.driver_memory),
        ("spark.executor.memory", opts.executor_memory),
    ):
        if value is not None:
            conf = conf.config(key, value)
    with warnings.catch_warnings():  # PySpark's caution about pandas 3 (see map_in_arrow)
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        spark: SparkSession = conf.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def map_in_arrow(rows: DataFrame, fn: Partition, schema: pa.Schema) -> DataFrame:
    """``rows.mapInArrow(fn)`` with output ``schema``. mapInArrow passes Arrow batches, not
    pandas frames: PySpark's caution about pandas 3 does not concern it."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
        return rows.mapInArrow(fn, spark_ddl(schema))


def person_runs(psn: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Where each run of equal person keys starts (rows sorted by person)."""
    if not len(psn):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, psn[1:] != psn[:-1]])


def settle_rows(tables: Tables, rows: pa.Table) -> pa.Table:
    """Settle whole persons' claims joined to their person columns, sorted by (person, date,
    claim id): the claim keys and the kernel's amounts, in the rows' order."""
    from yibao.kernel.settle import settle_claims

    claims = claims_from_arrow(rows.select(list(CLAIM_COLUMNS)))
    starts = person_runs(claims.person)
    persons = persons_from_arrow(rows.select(list(PERSON_COLUMNS)).take(pa.array(starts)))
    first = np.zeros(len(claims), dtype=np.int64)
    first[starts[1:]] = 1
    claims.person = np.cumsum(first)  # segment numbers 0..P-1
    result = settle_claims(tables, claims, persons, explain=False)
    columns = {CLAIM_ID: rows[CLAIM_ID], "psn_no": rows["psn_no"]}
    columns.update({c: pa.array(result.columns[c]) for c in OUTPUT_COLUMNS})
    return pa.table(columns, schema=SETTLED)


def whole_persons(batches: Iterable[pa.RecordBatch], key: str = "psn_no") -> Iterator[pa.Table]:
    """The rows of a partition (sorted by ``key``: person, or household) again as tables of
    whole persons (households): the last one of a batch is carried into the next, where the
    rest of their rows are."""
    carry: pa.Table | None = None
    for batch in batches:
        if not batch.num_rows:
            continue
        table = pa.Table.from_batches([batch])
        if carry is not None:
            table = pa.concat_tables([carry, table])
        keys = np.asarray(table[key].to_numpy(), dtype=np.int64)
        cut = int(person_runs(keys)[-1])  # where the last (perhaps unfinished) one starts
        carry = table.slice(cut)
        if cut:
            yield table.slice(0, cut).combine_chunks()
    if carry is not None and carry.num_rows:
        yield carry.combine_chunks()


_TABLES: dict[tuple[str, int], Tables] = {}


def area_tables(region: str, year: int) -> Tables:
    """The kernel's tables of the region's policy for the year, built once per worker."""
    from yibao.kernel.tables import compile_tables
    from yibao.policy import Policy

    key = (region, year)
    if key not in _TABLES:
        _TABLES[key] = compile_tables(Policy(region), year)
    return _TABLES[key]


def settler(region: str, year: int) -> Partition:
    """The function ``mapInArrow`` runs on each partition (pickled to the workers: it carries
    the region and year only, and builds the tables there)."""

    def settle_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        tables = area_tables(region, year)
        for rows in whole_persons(batches):
            yield from settle_rows(tables, rows).to_batches()

    return settle_partition


def partitions_for(spark: SparkSession, area: Path | str, least: int | None) -> int:
    """The partitions of an area: ``least`` (else the session's shuffle partitions), or one per
    ``CLAIMS_PER_PARTITION`` claims (from the Parquet footers) where that is more."""
    import pyarrow.parquet as pq

    n = least or int(spark.conf.get("spark.sql.shuffle.partitions") or 4)
    claims = Path(area) / "claims"
    if claims.is_dir():  # a local folder (a cluster's URL is read by Spark alone)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in claims.glob("*.parquet"))
        n = max(n, -(-rows // CLAIMS_PER_PARTITION))
    return n


def claim_order(claims: DataFrame) -> Any:
    """The tie-break of a person's claims of one day: the claim id (``yibao synth`` numbers
    them in the order it writes them), else the order in which the files are read."""
    from pyspark.sql import functions as F

    return F.col(CLAIM_ID) if CLAIM_ID in claims.columns else F.monotonically_increasing_id()


def area_rows(spark: SparkSession, area: Path | str, partitions: int) -> DataFrame:
    """An area's claims joined to their persons, partitioned by household and sorted inside each
    partition by (person, date, claim id)."""
    root = Path(area)
    persons = spark.read.parquet(str(root / "persons")).select(HOUSEHOLD, *PERSON_COLUMNS)
    claims = spark.read.parquet(str(root / "claims"))
    claims = claims.select(claim_order(claims).alias(CLAIM_ID), *CLAIM_COLUMNS)
    rows = claims.join(persons, "psn_no")
    return rows.repartition(partitions, HOUSEHOLD).sortWithinPartitions("psn_no", "date", CLAIM_ID)


def settle_area(
    spark: SparkSession,
    area: Path | str,
    out: Path | str,
    region: str,
    year: int,
    partitions: int | None = None,
) -> None:
    """Settle an area (``persons/``, ``claims/`` Parquet, as ``yibao synth`` writes it) on
    Spark under the region's policy for the year; write each claim's amounts as Parquet to
    ``out`` (one file per partition)."""
    from yibao.kernel.settle import warm

    warm(area_tables(region, year))  # the compiled kernel in its on-disk cache before the job
    rows = area_rows(spark, area, partitions_for(spark, area, partitions))
    settled = map_in_arrow(rows, settler(region, year), SETTLED)
    settled.write.mode("overwrite").parquet(str(out))


# --- policy simulation (``yibao simulate --engine spark``) -------------------------------------


def household_rows(spark: SparkSession, area: Path | str, partitions: int) -> DataFrame:
    """An area's persons and their claims as one DataFrame (a person row has no ``claim_id``;
    a claim row carries its person's ``household_id``), partitioned by household and sorted
    inside each partition by (household, person, date, claim id): every household whole in one
    partition, its rows together, each person's claims in the generated order."""
    from yibao.batch.simulation.engine import CLAIM_INPUT, INCOME, PERSON_INPUT

    root = Path(area)
    persons = spark.read.parquet(str(root / "persons"))
    person_columns = [*PERSON_INPUT, *([INCOME] if INCOME in persons.columns else [])]
    persons = persons.select(*person_columns)
    claims = spark.read.parquet(str(root / "claims"))
    claims = claims.select(claim_order(claims).alias(CLAIM_ID), *CLAIM_INPUT).join(
        persons.select("psn_no", HOUSEHOLD), "psn_no"
    )
    rows = persons.unionByName(claims, allowMissingColumns=True)
    return rows.repartition(partitions, HOUSEHOLD).sortWithinPartitions(
        HOUSEHOLD, "psn_no", "date", CLAIM_ID
    )


def split_rows(rows: pa.Table, person_columns: list[str]) -> tuple[pa.Table, pa.Table]:
    """Households' mixed rows as the seam takes them: (claims, persons)."""
    import pyarrow.compute as pc

    from yibao.batch.simulation.engine import CLAIM_INPUT

    is_claim = pc.is_valid(rows[CLAIM_ID])
    claims = rows.filter(is_claim).select(list(CLAIM_INPUT))
    persons = rows.filter(pc.invert(is_claim)).select(person_columns)
    return claims, persons


def simulator(scenarios: Sequence[Scenario], year: int, person_columns: list[str]) -> Partition:
    """What ``mapInArrow`` runs on each partition: whole households through the seam
    (``simulation.engine.settle_households``), the per-person sums out."""

    def simulate_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from yibao.batch.simulation.engine import settle_households

        for rows in whole_persons(batches, HOUSEHOLD):
            claims, persons = split_rows(rows, person_columns)
            yield from settle_households(claims, persons, scenarios, year).to_batches()

    return simulate_partition


#: what a partition returns: its partial totals (``simulation.aggregate``, pickled), the
#: seconds its Python worker spent on it (wall, waiting for rows included, and CPU) and the
#: worker's peak resident memory (KiB)
PARTIAL = pa.schema(
    [
        ("accumulator", pa.binary()),
        ("seconds", pa.float64()),
        ("cpu_seconds", pa.float64()),
        ("max_rss_kib", pa.int64()),
    ]
)


#: relative error of the approximate quantiles that bracket each quintile cut (``quintile_cuts``)
QUANTILE_ERROR = 0.001


def household_incomes(spark: SparkSession, area: Path | str) -> DataFrame | None:
    """One row per household of the area's persons: ``key`` (``household_id``) and ``pc``, its
    income per member in fen as the simulation ranks it (``kernel.quintiles.per_member``: the
    largest ``household_income`` of its members, none or negative as 0, integer-divided by the
    members); None when the persons have no ``household_income``."""
    from pyspark.sql import functions as F

    from yibao.batch.simulation.engine import INCOME

    persons = spark.read.parquet(str(Path(area) / "persons"))
    if INCOME not in persons.columns:
        return None
    grouped = persons.groupBy(HOUSEHOLD).agg(
        F.count(F.lit(1)).alias("members"), F.max(INCOME).alias("income")
    )
    return grouped.select(
        F.col(HOUSEHOLD).cast("long").alias("key"),
        F.expr("greatest(coalesce(cast(income as long), 0L), 0L) div members").alias("pc"),
    )


def quintile_cuts(spark: SparkSession, area: Path | str) -> list[tuple[int, int]] | None:
    """The area's exact quintile cut points (``kernel.quintiles.quintile_cuts``: the (income per
    member, household id) of the households at ranks ⌈q·n/5⌉), computed on Spark from the
    persons alone, before the claims are settled; None without household income.

    Exact without sorting every household: approximate quantiles (``percentile_approx``,
    relative error ``QUANTILE_ERROR``, in the job that counts the households) a few errors
    either side of each quintile bracket its cut; one pass counts the households below each
    bracket, one collects the households inside the brackets (≈ 5 errors of the households
    each), and the driver sorts those. Should a bracket miss its rank (the approximation's
    guarantee broken, or fewer than 500 households), it is widened to every household.
    """
    from pyspark.sql import functions as F

    rows = household_incomes(spark, area)
    if rows is None:
        return None
    from yibao.kernel.quintiles import cut_ranks

    rows = rows.cache()
    try:
        # one job: the count and, around each quintile q/5, approximate quantiles: the cut's
        # rank r = ⌈q·n/5⌉ lies in [q/5, q/5 + 1/n) of n, inside (q/5 − 2ε, q/5 + 3ε) from
        # 500 households on (a smaller area falls back to the widening below)
        err = QUANTILE_ERROR
        probs = [q / 5 + d for d in (-2 * err, 3 * err) for q in range(1, 5)]
        stats = rows.agg(
            F.count(F.lit(1)).alias("n"),
            F.percentile_approx("pc", [min(max(p, 0.0), 1.0) for p in probs], round(1 / err)).alias(
                "q"
            ),
        ).collect()[0]
        ranks = cut_ranks(int(stats["n"]))
        if not ranks:
            return []
        found = [int(x) for x in stats["q"]]
        brackets: list[tuple[int | None, int | None]] = [
            (found[i], found[4 + i]) for i in range(len(ranks))
        ]
        for _ in range(2):
            cuts = _cuts_in(rows, ranks, brackets, F)
            missed = [i for i, c in enumerate(cuts) if c is None]
            if not missed:
                return [c for c in cuts if c is not None]
            brackets = [(None, None) if i in missed else b for i, b in enumerate(brackets)]
        raise RuntimeError("quintile cut points not found")  # every household was collected
    finally:
        rows.unpersist()


def _cuts_in(
    rows: DataFrame, ranks: list[int], brackets: list[tuple[int | None, int | None]], F: Any
) -> list[tuple[int, int] | None]:
    """Each rank's (pc, key) from the households inside its bracket (None: ±infinity), or None
    when the rank is not inside it."""

    def inside(lo: int | None, hi: int | None) -> Any:
        cond = F.lit(True)
        if lo is not None:
            cond = cond & (F.col("pc") >= lo)
        if hi is not None:
            cond = cond & (F.col("pc") <= hi)
        return cond

    below = rows.agg(
        *[
            F.sum(F.when(F.col("pc") < lo, 1).otherwise(0)).alias(f"b{i}")
            if lo is not None
            else F.lit(0).alias(f"b{i}")
            for i, (lo, _) in enumerate(brackets)
        ]
    ).collect()[0]
    any_inside = F.lit(False)
    for lo, hi in brackets:
        any_inside = any_inside | inside(lo, hi)
    found = sorted((int(r["pc"]), int(r["key"])) for r in rows.where(any_inside).collect())
    out: list[tuple[int, int] | None] = []
    for i, (rank, (lo, hi)) in enumerate(zip(ranks, brackets, strict=True)):
        mine = [c for c in found if (lo is None or c[0] >= lo) and (hi is None or c[0] <= hi)]
        at = rank - int(below[f"b{i}"] or 0)
        out.append(mine[at] if 0 <= at < len(mine) else None)
    return out


def reducer(
    scenarios: Sequence[Scenario],
    year: int,
    person_columns: list[str],
    cuts: list[tuple[int, int]] | None = None,
) -> Partition:
    """Each partition's per-person sums reduced there to its slice of the totals
    (``aggregate.Accumulator``: sums by scheme, and its households — whole, the rows being
    partitioned by household — reduced to their burden aggregates under the area's quintile
    ``cuts``: ``Accumulator.reduce_households``), one pickled row of a fixed size whatever the
    households: the driver merges them."""
    per_person = simulator(scenarios, year, person_columns)

    def reduce_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from yibao.batch.simulation.aggregate import Accumulator

        start, cpu = time.perf_counter(), time.process_time()
        acc = Accumulator(len(scenarios))
        for batch in per_person(batches):
            acc.add(pa.Table.from_batches([batch]))
        acc.reduce_households(cuts)
        blob = pickle.dumps(acc, protocol=pickle.HIGHEST_PROTOCOL)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        row = [[blob], [wall], [cpu], [rss]]
        yield pa.record_batch(row, schema=PARTIAL)

    return reduce_partition


def person_sums(
    spark: SparkSession,
    area: Path | str,
    scenarios: Sequence[Scenario],
    year: int,
    partitions: int | None = None,
) -> DataFrame:
    """The seam's per-person table of the area under every scenario, as a Spark DataFrame (to
    write as Parquet, or to reduce)."""
    from yibao.batch.simulation.engine import output_schema

    rows, columns = _prepared(spark, area, scenarios, partitions)
    schema = output_schema(len(scenarios))
    return map_in_arrow(rows, simulator(scenarios, year, columns), schema)


def _prepared(
    spark: SparkSession, area: Path | str, scenarios: Sequence[Scenario], partitions: int | None
) -> tuple[DataFrame, list[str]]:
    from yibao.batch.simulation.engine import PERSON_INPUT
    from yibao.kernel.settle import warm

    warm(scenarios[0].tables)  # the compiled kernel in its on-disk cache before the job
    rows = household_rows(spark, area, partitions_for(spark, area, partitions))
    columns = [c for c in rows.columns if c in PERSON_INPUT or c == "household_income"]
    return rows, columns


def simulate_area(
    area: Path | str,
    scenarios: Sequence[Scenario],
    year: int,
    master: str | None = None,
    on_part: Callable[[int, int], None] | None = None,
    options: SparkOptions | None = None,
    persons_out: Path | str | None = None,
    stats: list[dict[str, float]] | None = None,
) -> Accumulator:
    """The Spark engine of ``yibao simulate``: every household of ``area`` under every scenario
    (baseline first), each partition reduced to its slice of the totals on its executor, the
    slices merged here. ``on_part(claims, persons)`` is called as each slice arrives;
    ``persons_out`` also writes the per-person sums as Parquet (a second pass); ``stats``
    receives per partition its claims, persons, the worker's seconds on it and peak memory."""
    from yibao.batch.simulation.aggregate import Accumulator

    opts = options or SparkOptions()
    if master:
        opts = replace(opts, master=master)
    spark = session(opts)
    rows, columns = _prepared(spark, area, scenarios, opts.partitions)
    if persons_out is not None:
        person_sums(spark, area, scenarios, year, opts.partitions).write.mode("overwrite").parquet(
            str(persons_out)
        )
    cuts = quintile_cuts(spark, area)  # the first pass: persons only
    partial = map_in_arrow(rows, reducer(scenarios, year, columns, cuts), PARTIAL)
    total = Accumulator(len(scenarios))
    for row in partial.collect():  # every partition at once: a few small rows
        acc: Accumulator = pickle.loads(row["accumulator"])
        total.merge(acc)
        if stats is not None:
            stats.append(
                {
                    "claims": acc.claims,
                    "persons": acc.persons,
                    "seconds": row["seconds"],
                    "cpu_seconds": row["cpu_seconds"],
                    "max_rss_kib": row["max_rss_kib"],
                }
            )
        if on_part is not None:
            on_part(acc.claims, acc.persons)
    return total
