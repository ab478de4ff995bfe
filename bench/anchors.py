"""Anchors: Polars and DuckDB settling the kernel's first two layers, beside yibao's kernel.

    python bench/anchors.py --claims 1000000 [--repeat 3] [--area DIR]
    python bench/anchors.py --area DIR --end-to-end [--repeat 3]

The same generated claims as ``bench/settle_batch.py`` (``yibao synth``, about 5.7 claims per
person; not timed), read into kernel arrays and into one Arrow table of the claims in (person,
date) order with each claim's person's scheme and entitlement date beside it (not timed). Then
three engines settle the same claims:

- Polars: policy scope and basic pooling as expressions, the year-to-date state as running
  totals (``cum_sum().over(...)``) over the sorted input;
- DuckDB: the same two layers in SQL, the running totals as window functions
  (``SUM(...) OVER (PARTITION BY ... ORDER BY row)``);
- yibao's compiled kernel, all seven layers, as ``bench/settle_batch.py`` times it: the part cut
  at person boundaries into batches of ``--batch`` claims settled on ``KernelPool``'s threads.

Each engine has ``--threads`` threads (2: the machine's cores).

Two layers (rules.md §6): policy scope (category-B and cross-region pre-payments, the waiting
period) and the basic pooling fund with its deductible (per admission by level with the
repeat-admission factors, or per year shared by a deductible group), its banded ratios and its
annual cap shared by a cap group. The parameter tables are joined as small tables keyed by
(scheme, med type, level) and cross-region kind. Each engine's six columns (preselfpay_amt,
inscp_scp_amt, cross_prepay, act_pay_dedc, basic_raw, hifp_pay) are checked equal to the
kernel's, to the fen, before any figure is printed. The running totals stand for the kernel's
state only while the year has one parameter version and each cap group one cap (the region's
tables are checked for it); the kernel carries any.

``--end-to-end``: each engine starts from the area's Parquet parts and ends with its columns
written as Parquet (``end_to_end``): yibao as ``bench/settle_batch.py``'s end-to-end figure
(``batch.area.settle_area``: read, seven layers, eight payments written, one part a thread),
Polars and DuckDB reading each part themselves, converting its strings to the kernel's codes and
joining the persons' scheme and entitlement date, then their two layers, their six columns
written; every engine's written columns are checked equal to the kernel's afterwards.

Each engine runs ``--repeat`` times; the median is printed. Last line: ``claims/s: <number>``,
yibao's kernel.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from yibao.batch.area import PAYMENTS, parts, read_part, settle_area, split
from yibao.kernel.entitled import ALWAYS
from yibao.kernel.schema import CLAIM_COLUMNS
from yibao.kernel.settle import Claims, Persons, Result, settle_claims, warm
from yibao.kernel.stream import Batch, KernelPool
from yibao.kernel.tables import (
    ADMISSION,
    EXCESS,
    MED_TYPES,
    SCALE,
    SCHEME_INPUT,
    Tables,
    compile_tables,
)
from yibao.policy import Policy
from yibao.policy.vocab import CROSS_REGIONS
from yibao.synth import SynthConfig, generate

CLAIMS_PER_PERSON = 5.73
#: The columns of the two layers compared.
CHECKED = (
    "preselfpay_amt",
    "inscp_scp_amt",
    "cross_prepay",
    "act_pay_dedc",
    "basic_raw",
    "hifp_pay",
)
HALF = SCALE // 2


def claims_table(claims: Claims, persons: Persons) -> pa.Table:
    """The claims in kernel order with their person's index, scheme and entitlement date."""
    starts = np.r_[True, claims.person[1:] != claims.person[:-1]]
    pidx = np.cumsum(starts) - 1
    return pa.table(
        {
            "row": np.arange(len(claims), dtype=np.int64),
            "pidx": pidx.astype(np.int64),
            "date": claims.date,
            "med_type": claims.med_type,
            "level": claims.level,
            "cross_region": claims.cross_region,
            "total": claims.total,
            "fsp": claims.fully_self_paid,
            "over_limit": claims.over_limit,
            "category_b": claims.category_b,
            "scheme": persons.scheme[pidx],
            "entitled_from": persons.entitled_from[pidx],
        }
    )


def parameter_tables(tables: Tables) -> tuple[pa.Table, pa.Table, int, int, int]:
    """The basic layer's parameters as a table keyed by (scheme, med_type, level), the
    cross-region ratios keyed by kind, the category-B ratio and the numbers of repeat factors
    and bands. Requires one version and one cap per cap group (what running totals can carry)."""
    if len(tables.version_dates) != 1:
        raise SystemExit("the anchors carry one parameter version a year; this region has more")
    _, n_s, n_m, n_l = tables.deductible.shape
    n_r, n_b = tables.repeat.shape[3], tables.band_edges.shape[4]
    rows: dict[str, list[int]] = {
        k: []
        for k in (
            "scheme",
            "med_type",
            "level",
            "style",
            "deductible",
            "basis",
            "cap",
            "cap_group",
            "ded_group",
            *(f"r{k}" for k in range(n_r)),
            *(f"e{k}" for k in range(n_b)),
            *(f"q{k}" for k in range(n_b)),
        )
    }
    caps: dict[tuple[int, int], int] = {}
    for s in range(n_s):
        for m in range(n_m):
            group, cap = int(tables.cap_group[0, s, m]), int(tables.annual_cap[0, s, m])
            if caps.setdefault((s, group), cap) != cap:
                raise SystemExit("a cap group with two caps: running totals cannot carry it")
            for lv in range(n_l):
                values = {
                    "scheme": s,
                    "med_type": m,
                    "level": lv,
                    "style": int(tables.style[0, s, m]),
                    "deductible": int(tables.deductible[0, s, m, lv]),
                    "basis": int(tables.band_basis[0, s, m]),
                    "cap": cap,
                    "cap_group": group,
                    "ded_group": int(tables.ded_group[0, s, m]),
                }
                for k in range(n_r):
                    values[f"r{k}"] = int(tables.repeat[0, s, m, k])
                for k in range(n_b):
                    values[f"e{k}"] = int(tables.band_edges[0, s, m, lv, k])
                    values[f"q{k}"] = int(tables.band_ratios[0, s, m, lv, k])
                for k, v in values.items():
                    rows[k].append(v)
    params = pa.table({k: pa.array(v, pa.int64()) for k, v in rows.items()})
    cross = pa.table(
        {
            "cross_region": np.arange(tables.cross_prepay.shape[1], dtype=np.int64),
            "cross_ratio": tables.cross_prepay[0].astype(np.int64),
        }
    )
    return params, cross, int(tables.prepay_b[0]), n_r, n_b


# --- Polars ------------------------------------------------------------------------------------


def polars_two_layers(
    claims: pl.DataFrame | pl.LazyFrame,
    params: pl.DataFrame,
    cross: pl.DataFrame,
    prepay_b: int,
    n_r: int,
    n_b: int,
) -> pl.DataFrame:
    """Policy scope and basic pooling over claims sorted by (person, date), in Polars."""
    c = pl.col
    zero = pl.lit(0, pl.Int64)

    def rdiv(x: pl.Expr) -> pl.Expr:
        return (x + HALF) // SCALE

    def band_sum(lo: pl.Expr, hi: pl.Expr) -> pl.Expr:
        total: pl.Expr = zero
        for k in range(n_b):
            bottom = zero if k == 0 else c(f"e{k - 1}")
            width = pl.min_horizontal(hi, c(f"e{k}")) - pl.max_horizontal(lo, bottom)
            total = total + pl.when(width > 0).then(c(f"q{k}") * width).otherwise(0)
        return total

    factor: pl.Expr = c(f"r{n_r - 1}")
    for k in range(n_r - 2, -1, -1):
        factor = pl.when(c("admission_no") == k + 1).then(c(f"r{k}")).otherwise(factor)
    lf = (
        claims.lazy()
        .join(params.lazy(), on=["scheme", "med_type", "level"], how="left", maintain_order="left")
        .join(cross.lazy(), on="cross_region", how="left", maintain_order="left")
        .with_columns(
            preselfpay_amt=rdiv(c("category_b") * prepay_b),
            entitled=c("date") >= c("entitled_from"),
        )
        .with_columns(inscp_scp_amt=c("total") - c("fsp") - c("over_limit") - c("preselfpay_amt"))
        .with_columns(
            cross_prepay=pl.when(c("cross_region") != 0)
            .then(rdiv(c("inscp_scp_amt") * c("cross_ratio")))
            .otherwise(0)
        )
        .with_columns(
            base=c("inscp_scp_amt") - c("cross_prepay"),
            admission=c("entitled") & (c("style") == ADMISSION),
            annual=c("entitled") & (c("style") != ADMISSION),
        )
        .with_columns(
            admission_no=c("admission").cast(pl.Int64).cum_sum().over("pidx"),
            ytd=pl.when(c("annual"))
            .then(c("base"))
            .otherwise(0)
            .cum_sum()
            .over("pidx", "ded_group"),
        )
        .with_columns(
            applied_adm=pl.min_horizontal(rdiv(c("deductible") * factor), c("base")),
            grown=pl.max_horizontal(c("ytd") - c("deductible"), 0)
            - pl.max_horizontal(c("ytd") - c("base") - c("deductible"), 0),
        )
        .with_columns(
            act_pay_dedc=pl.when(c("admission"))
            .then(c("applied_adm"))
            .when(c("annual"))
            .then(c("base") - c("grown"))
            .otherwise(0),
            basic_raw=pl.when(c("admission"))
            .then(
                rdiv(
                    pl.when(c("basis") == EXCESS)
                    .then(band_sum(zero, pl.max_horizontal(c("base") - c("applied_adm"), 0)))
                    .otherwise(band_sum(c("applied_adm"), c("base")))
                )
            )
            .when(c("annual"))
            .then(rdiv(c("q0") * c("grown")))
            .otherwise(0),
        )
        .with_columns(raw_ytd=c("basic_raw").cum_sum().over("pidx", "cap_group"))
        .with_columns(
            hifp_pay=pl.min_horizontal(
                c("basic_raw"),
                pl.max_horizontal(
                    c("cap") - pl.min_horizontal(c("raw_ytd") - c("basic_raw"), c("cap")), 0
                ),
            )
        )
        .select(CHECKED)
    )
    return lf.collect()


# --- DuckDB ------------------------------------------------------------------------------------


def duckdb_sql(prepay_b: int, n_r: int, n_b: int) -> str:
    """The two layers as one SQL query over ``claims``, ``params`` and ``cross_ratios``."""

    def rdiv(x: str) -> str:
        return f"(({x}) + {HALF}) // {SCALE}"

    def band_sum(lo: str, hi: str) -> str:
        terms = []
        for k in range(n_b):
            bottom = "0" if k == 0 else f"e{k - 1}"
            width = f"(least({hi}, e{k}) - greatest({lo}, {bottom}))"
            terms.append(f"CASE WHEN {width} > 0 THEN q{k} * {width} ELSE 0 END")
        return " + ".join(terms)

    factor = " ".join(f"WHEN admission_no = {k + 1} THEN r{k}" for k in range(n_r - 1))
    factor = f"CASE {factor} ELSE r{n_r - 1} END" if factor else f"r{n_r - 1}"
    return f"""
WITH scoped AS (
  SELECT c.row, c.pidx, c.date >= c.entitled_from AS entitled, p.*, x.cross_ratio,
         {rdiv(f"c.category_b * {prepay_b}")} AS preselfpay_amt,
         c.total - c.fsp - c.over_limit - {rdiv(f"c.category_b * {prepay_b}")} AS inscp_scp_amt,
         c.cross_region
  FROM claims c
  JOIN params p USING (scheme, med_type, level)
  JOIN cross_ratios x USING (cross_region)
), crossed AS (
  SELECT *, CASE WHEN cross_region <> 0 THEN {rdiv("inscp_scp_amt * cross_ratio")} ELSE 0 END
              AS cross_prepay
  FROM scoped
), based AS (
  SELECT *, inscp_scp_amt - cross_prepay AS base,
         entitled AND style = {ADMISSION} AS admission,
         entitled AND style <> {ADMISSION} AS annual
  FROM crossed
), running AS (
  SELECT *,
    SUM(admission::BIGINT) OVER (PARTITION BY pidx ORDER BY row ROWS UNBOUNDED PRECEDING)
      AS admission_no,
    SUM(CASE WHEN annual THEN base ELSE 0 END)
      OVER (PARTITION BY pidx, ded_group ORDER BY row ROWS UNBOUNDED PRECEDING) AS ytd
  FROM based
), deducted AS (
  SELECT *, least({rdiv(f"deductible * {factor}")}, base) AS applied_adm,
         greatest(ytd - deductible, 0) - greatest(ytd - base - deductible, 0) AS grown
  FROM running
), pooled AS (
  SELECT *,
    CASE WHEN admission THEN applied_adm WHEN annual THEN base - grown ELSE 0 END AS act_pay_dedc,
    CASE WHEN admission THEN
           CASE WHEN basis = {EXCESS}
                THEN {rdiv(band_sum("0", "greatest(base - applied_adm, 0)"))}
                ELSE {rdiv(band_sum("applied_adm", "base"))} END
         WHEN annual THEN {rdiv("q0 * grown")} ELSE 0 END AS basic_raw
  FROM deducted
), capped AS (
  SELECT *, SUM(basic_raw)
      OVER (PARTITION BY pidx, cap_group ORDER BY row ROWS UNBOUNDED PRECEDING) AS raw_ytd
  FROM pooled
)
SELECT {", ".join(CHECKED[:-1])},
       least(basic_raw, greatest(cap - least(raw_ytd - basic_raw, cap), 0)) AS hifp_pay
FROM capped ORDER BY row
"""


def duckdb_two_layers(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """The query's result as Arrow (every claim, in kernel order)."""
    return con.execute(sql).to_arrow_table()


# --- yibao --------------------------------------------------------------------------------------


def kernel_pass(pool: KernelPool, batches: list[Batch]) -> int:
    """The part's batches settled on the pool (as ``bench/settle_batch.py`` times the kernel);
    the basic fund's total."""
    return sum(int(r.columns["hifp_pay"].sum()) for r in pool.stream(batches, columns=CHECKED))


# --- end to end from Parquet (--end-to-end) -----------------------------------------------------

#: The kernel's codes of the strings (``kernel.arrow``), as small tables an engine joins.
CODES = {
    "med_type": {name: k for k, name in enumerate(MED_TYPES)},
    "cross_region": {name: k for k, name in enumerate(CROSS_REGIONS)},
    "scheme": SCHEME_INPUT,
}


def polars_claims(claims_path: Path, persons_path: Path) -> pl.LazyFrame:
    """A part's claims as ``claims_table`` lays them out, read and converted by Polars: the
    strings to the kernel's codes, each claim's person's scheme and entitlement date joined."""
    c = pl.col
    persons = pl.scan_parquet(persons_path).select("psn_no", "scheme", "entitled_from")
    return (
        pl.scan_parquet(claims_path)
        .select(CLAIM_COLUMNS)
        .join(persons, on="psn_no", how="left", maintain_order="left")
        .select(
            row=pl.int_range(pl.len(), dtype=pl.Int64),
            pidx=c("psn_no"),
            date=c("date").cast(pl.Int32).cast(pl.Int64),
            med_type=c("med_type").replace_strict(CODES["med_type"], return_dtype=pl.Int64),
            level=c("level").cast(pl.Int64) - 1,
            cross_region=c("cross_region").replace_strict(
                CODES["cross_region"], default=0, return_dtype=pl.Int64
            ),
            total=c("total"),
            fsp=c("fully_self_paid"),
            over_limit=c("over_limit"),
            category_b=c("category_b"),
            scheme=c("scheme").replace_strict(CODES["scheme"], return_dtype=pl.Int64),
            entitled_from=c("entitled_from").cast(pl.Int32).cast(pl.Int64).fill_null(ALWAYS),
        )
    )


def duckdb_claims_view(
    con: duckdb.DuckDBPyConnection, claims_path: Path, persons_path: Path
) -> None:
    """``claims`` as a view over a part's Parquet files, laid out as ``claims_table``."""
    con.execute(f"""
CREATE OR REPLACE VIEW claims AS
SELECT c.file_row_number AS row, c.psn_no AS pidx, c.date - DATE '1970-01-01' AS date,
       m.code AS med_type, c.level - 1 AS level, coalesce(x.code, 0) AS cross_region,
       c.total, c.fully_self_paid AS fsp, c.over_limit, c.category_b,
       s.code AS scheme, coalesce(p.entitled_from - DATE '1970-01-01', {ALWAYS}) AS entitled_from
FROM read_parquet('{claims_path}', file_row_number = true) c
JOIN read_parquet('{persons_path}') p USING (psn_no)
JOIN med_type_codes m ON m.name = c.med_type
LEFT JOIN cross_region_codes x ON x.name = c.cross_region
JOIN scheme_codes s ON s.name = p.scheme
""")


def end_to_end(
    area: Path, tables: Tables, con: duckdb.DuckDBPyConnection, args: argparse.Namespace
) -> None:
    """Each engine reads every part's Parquet, settles it and writes its columns as Parquet
    (yibao: ``batch.area.settle_area``, one part a thread, seven layers and eight payments;
    Polars and DuckDB: the part's claims converted and joined to their persons in the engine,
    two layers, their six columns), ``--repeat`` times (median); then each engine's written
    columns are checked equal to the kernel's (not timed)."""
    params, cross, prepay_b, n_r, n_b = parameter_tables(tables)
    pl_params, pl_cross = pl.from_arrow(params), pl.from_arrow(cross)
    assert isinstance(pl_params, pl.DataFrame) and isinstance(pl_cross, pl.DataFrame)
    for name, codes in CODES.items():
        con.register(f"{name}_codes", pa.table({"name": list(codes), "code": list(codes.values())}))
    sql = duckdb_sql(prepay_b, n_r, n_b)
    todo = parts(area)

    def kernel(batches: Iterable[Batch]) -> Iterator[Result]:
        for c, p, s in batches:
            result = settle_claims(tables, c, p, s, explain=False)
            yield Result({k: result.columns[k] for k in PAYMENTS}, result.state)

    def polars_run(out: Path) -> None:
        for persons_path, claims_path in todo:
            frame = polars_claims(claims_path, persons_path)
            settled = polars_two_layers(frame, pl_params, pl_cross, prepay_b, n_r, n_b)
            settled.write_parquet(out / claims_path.name)

    def duckdb_run(out: Path) -> None:
        for persons_path, claims_path in todo:
            duckdb_claims_view(con, claims_path, persons_path)
            con.execute(f"COPY ({sql}) TO '{out / claims_path.name}' (FORMAT parquet)")

    runs: dict[str, Callable[[Path], Any]] = {
        "yibao": lambda out: settle_area(area, out, kernel, args.batch, pipelines=args.threads),
        "polars": polars_run,
        "duckdb": duckdb_run,
    }
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for engine, run in runs.items():
            out = Path(tmp) / engine
            out.mkdir()
            seconds[engine], _ = timed(partial(run, out), args.repeat)
        n = 0
        for persons_path, claims_path in todo:  # the check, not timed
            claims, persons = read_part(persons_path, claims_path)
            result = settle_claims(tables, claims, persons, explain=False)
            want = {k: result.columns[k] for k in CHECKED}
            for engine in runs:
                got = pq.read_table(Path(tmp) / engine / claims_path.name)
                check(
                    engine, {k: got[k].to_numpy() for k in CHECKED if k in got.column_names}, want
                )
            n += len(claims)
    print(f"claims: {n}, end to end from Parquet, each engine's columns equal to the kernel's")
    print(f"polars {pl.__version__}, two layers: {n / seconds['polars']:,.0f} claims/s")
    print(f"duckdb {duckdb.__version__}, two layers: {n / seconds['duckdb']:,.0f} claims/s")
    print(f"yibao, seven layers, eight payments: {n / seconds['yibao']:,.0f} claims/s")
    print(f"claims/s: {n / seconds['yibao']:.0f}")


# --- the run -----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """The median wall time of ``repeat`` calls and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def check(engine: str, got: dict[str, np.ndarray[Any, Any]], want: dict[str, Any]) -> None:
    """Every compared column ``got`` has equal to the kernel's, to the fen."""
    for name in got:
        diff = np.flatnonzero(np.asarray(got[name], dtype=np.int64) != want[name])
        if len(diff):
            i = int(diff[0])
            raise SystemExit(
                f"{engine}: {name} differs from the kernel at claim {i} "
                f"({int(got[name][i])} vs {int(want[name][i])}; {len(diff)} claims differ)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--area", type=Path, help="a generated area (default: generate one)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per engine (median)")
    parser.add_argument("--threads", type=int, default=2, help="each engine's threads")
    parser.add_argument("--batch", type=int, default=20_000, help="claims per kernel call")
    parser.add_argument("--region", default="360100")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--end-to-end",
        action="store_true",
        help="each engine reads the Parquet parts, settles and writes Parquet (needs --area)",
    )
    args = parser.parse_args()
    tables = compile_tables(Policy(args.region), 2025)
    warm(tables)
    params, cross, prepay_b, n_r, n_b = parameter_tables(tables)
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.register("params", params)
    con.register("cross_ratios", cross)
    if args.end_to_end:
        if args.area is None:
            raise SystemExit("--end-to-end reads an area: give --area DIR (yibao synth --out DIR)")
        return end_to_end(args.area, tables, con, args)
    sql = duckdb_sql(prepay_b, n_r, n_b)
    pl_params, pl_cross = pl.from_arrow(params), pl.from_arrow(cross)
    assert isinstance(pl_params, pl.DataFrame) and isinstance(pl_cross, pl.DataFrame)
    seconds = {"yibao": 0.0, "polars": 0.0, "duckdb": 0.0}
    n = 0
    pool = KernelPool(tables, args.threads)
    with pool, tempfile.TemporaryDirectory() as tmp:
        area = args.area
        if area is None:
            area = Path(tmp) / "area"
            n_persons = math.ceil(args.claims / CLAIMS_PER_PERSON)
            generate(area, SynthConfig(args.region, n_persons, 2025, args.seed))
        for persons_path, claims_path in parts(area):
            claims, persons = read_part(persons_path, claims_path)
            table = claims_table(claims, persons)
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            con.register("claims", table)
            batches = [(c, p, None) for c, p in split(claims, persons, args.batch)]
            t, _ = timed(partial(kernel_pass, pool, batches), args.repeat)
            seconds["yibao"] += t
            result = settle_claims(tables, claims, persons, explain=False)  # not timed
            want = {k: result.columns[k] for k in CHECKED}
            t, got_pl = timed(
                partial(polars_two_layers, frame, pl_params, pl_cross, prepay_b, n_r, n_b),
                args.repeat,
            )
            seconds["polars"] += t
            check("polars", {k: got_pl[k].to_numpy() for k in CHECKED}, want)
            t, got_db = timed(partial(duckdb_two_layers, con, sql), args.repeat)
            seconds["duckdb"] += t
            check("duckdb", {k: got_db[k].to_numpy() for k in CHECKED}, want)
            n += len(claims)
    print(f"claims: {n}, each engine equal to the kernel to the fen on {', '.join(CHECKED)}")
    print(f"polars {pl.__version__}, two layers: {n / seconds['polars']:,.0f} claims/s")
    print(f"duckdb {duckdb.__version__}, two layers: {n / seconds['duckdb']:,.0f} claims/s")
    print(
        f"yibao compiled kernel, seven layers, {args.batch:,} claims a call: "
        f"{n / seconds['yibao']:,.0f} claims/s"
    )
    print(f"claims/s: {n / seconds['yibao']:.0f}")


if __name__ == "__main__":
    main()
