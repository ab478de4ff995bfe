"""Probabilistic record linkage (概率匹配) of department records whose national ID is wrong or
missing against the registry, with Splink (Fellegi–Sunter) on DuckDB (docs/linkage.md).

The records (``row_no``, ``source``, ``name``, ``sex``, ``birth_date``, ``address``, ``id_no``)
are linked to the registry's persons (``psn_no``, ``name``, ``sex``, ``birth_date``,
``address``, ``id_no``). Candidate pairs come from blocking rules (same birth date; same name
by pinyin and birth year); each pair's match weight is the sum of the log₂ Bayes factors of its
fields' comparison levels: the name (characters, pinyin, Jaro–Winkler on pinyin), the birth date
(exact, one digit off), the sex, the address (Jaro–Winkler on characters) and the ID as written
(one or two digits off). The u probabilities come from random sampling (a fixed seed), the m
probabilities from expectation maximisation. A record's best candidate at or above
``compare.linkage.match_threshold`` with no rival at or above the review threshold is ``auto``;
the other candidates at or above ``compare.linkage.review_threshold`` go to the review list.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from yibao.domain.errors import InvalidField
from yibao.policy.params import Policy

#: The columns of the records to link and of the registry (compare-contract.md).
RECORD_COLUMNS = ("source", "row_no", "name", "sex", "birth_date", "address", "id_no")
REGISTRY_COLUMNS = ("psn_no", "name", "sex", "birth_date", "address", "id_no")
#: The fields compared, in the order of their comparison levels' columns (``gamma_<field>``).
FIELDS = ("name", "birth_date", "sex", "address", "id_no")
#: A candidate pair's status: linked without review, or for a person to confirm or reject.
AUTO, REVIEW = "auto", "review"

Engine = Literal["duckdb", "spark"]
Progress = Callable[[str], None]

CANDIDATES_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("row_no", pa.int64()),
        ("psn_no", pa.string()),
        ("match_weight", pa.float64()),
        ("match_probability", pa.float64()),
        *((f"gamma_{f}", pa.int8()) for f in FIELDS),
        ("status", pa.string()),
    ]
)


@dataclass(frozen=True)
class Thresholds:
    """Match probabilities: ``match`` and above links without review, ``review`` and above
    goes to the review list, below is dropped."""

    match: Decimal
    review: Decimal

    def __post_init__(self) -> None:
        for name, value in (("match_threshold", self.match), ("review_threshold", self.review)):
            if not Decimal(0) < value < Decimal(1):
                raise InvalidField(f"compare.linkage.{name}", "a probability between 0 and 1")
        if self.review > self.match:
            raise InvalidField(
                "compare.linkage.review_threshold", "not above compare.linkage.match_threshold"
            )


def thresholds(area: str, on: dt.date) -> Thresholds:
    """The area's linkage thresholds in force on ``on`` (policy ``compare.linkage``)."""
    policy = Policy(area)
    return Thresholds(
        policy.rate("compare.linkage.match_threshold", on),
        policy.rate("compare.linkage.review_threshold", on),
    )


@dataclass(frozen=True)
class Linkage:
    """The candidate pairs at or above the review threshold (``CANDIDATES_SCHEMA``), one
    ``auto`` at most per record, and the trained model's match weights per comparison level
    (field → [(level, weight)])."""

    candidates: pa.Table
    weights: dict[str, list[tuple[str, float]]]

    def auto(self) -> pa.Table:
        return self.candidates.filter(pc.equal(self.candidates["status"], AUTO))

    def review(self) -> pa.Table:
        return self.candidates.filter(pc.equal(self.candidates["status"], REVIEW))


def _require(table: pa.Table, columns: tuple[str, ...], side: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise InvalidField(side, f"missing column(s) {', '.join(missing)}")


_PINYIN: dict[str, str] = {}


def pinyin(text: str | None) -> str | None:
    """A name's pinyin without tones, syllables joined ("张伟" → "zhangwei"); homophones agree.
    Character by character (a name is not a phrase; a polyphonic character takes its most
    common reading), each character's reading memoised."""
    if text is None:
        return None
    out = []
    for ch in text:
        got = _PINYIN.get(ch)
        if got is None:
            from pypinyin import Style, lazy_pinyin

            got = "".join(lazy_pinyin(ch, style=Style.NORMAL, errors="default")).lower()
            if len(_PINYIN) < 100_000:
                _PINYIN[ch] = got
        out.append(got)
    return "".join(out)


def _blank(col: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strings trimmed, empty as null."""
    text = pc.utf8_trim_whitespace(col.cast(pa.string()))
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _prepare(table: pa.Table, uid: pa.ChunkedArray | pa.Array) -> pa.Table:
    """The columns the model reads: the name and its pinyin (whole, surname, birth year),
    the birth date as text, sex, address and ID."""
    name = _blank(table["name"])
    birth = table["birth_date"]
    if pa.types.is_date(birth.type) or pa.types.is_timestamp(birth.type):
        birth = pc.strftime(birth, "%Y-%m-%d")
    birth = _blank(birth)
    address = _blank(table["address"])
    id_no = pc.utf8_upper(_blank(table["id_no"]))
    unique = pc.unique(name)
    readings = pa.array([pinyin(n) for n in unique.to_pylist()], pa.string())
    pys = readings.take(pc.index_in(name, value_set=unique))
    return pa.table(
        {
            "unique_id": uid,
            "name": name,
            "name_py": pys,
            "surname": pc.utf8_slice_codeunits(name, 0, 1),
            "birth_date": birth,
            "birth_year": pc.utf8_slice_codeunits(birth, 0, 4),
            # as a date, parsed once (null if not a date) for the within-a-month level
            "birth_day": pc.strptime(birth, format="%Y-%m-%d", unit="s", error_is_null=True).cast(
                pa.date32()
            ),
            "sex": _blank(table["sex"]),
            "address": address,
            # the address up to its door number (号): the same door without the flat's number
            "address_door": pc.replace_substring_regex(address, pattern="号.*$", replacement="号"),
            "id_no": id_no,
            # the ID without one of two overlapping windows (digits 1-8, 8-14): an adjacent
            # swap or one wrong digit there falls in one window, so the other part agrees
            "id_part1": pc.utf8_slice_codeunits(id_no, 8, 18),
            "id_part2": pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(id_no, 0, 7), pc.utf8_slice_codeunits(id_no, 14, 18), ""
            ),
        }
    )


#: Two names of the same length that differ in one character (张伟 / 张炜, 王德 / 王博):
#: Chinese names are two or three characters, so this is the typo level on characters.
ONE_CHARACTER_OFF = (
    " + ".join(
        f"CAST(substr(name_l, {i}, 1) = substr(name_r, {i}, 1) AS INT)" for i in (1, 2, 3, 4)
    )
    + " = 3 AND length(name_l) = length(name_r) AND length(name_l) <= 4"
)


def _settings(probability: float) -> Any:
    """The Splink model: comparisons of the five fields and the blocking rules."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        output_column_name="name",
        comparison_levels=[
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name").configure(label_for_charts="same characters"),
            cll.ExactMatchLevel("name_py").configure(label_for_charts="same pinyin"),
            cll.CustomLevel(ONE_CHARACTER_OFF, label_for_charts="one character off"),
            cll.JaroWinklerLevel("name_py", 0.9),
            cll.ElseLevel(),
        ],
    )
    birth = cl.CustomComparison(
        output_column_name="birth_date",
        comparison_levels=[
            cll.NullLevel("birth_date"),
            cll.ExactMatchLevel("birth_date"),
            cll.DamerauLevenshteinLevel("birth_date", 1).configure(
                label_for_charts="one digit off"
            ),
            cll.AbsoluteDateDifferenceLevel(
                "birth_day", input_is_string=False, threshold=31, metric="day"
            ).configure(label_for_charts="within a month"),
            cll.ElseLevel(),
        ],
    )
    address = cl.CustomComparison(
        output_column_name="address",
        comparison_levels=[
            cll.NullLevel("address"),
            cll.ExactMatchLevel("address"),
            cll.ExactMatchLevel("address_door").configure(label_for_charts="same door"),
            cll.ElseLevel(),
        ],
    )
    id_no = cl.CustomComparison(
        output_column_name="id_no",
        comparison_levels=[
            cll.NullLevel("id_no"),
            cll.DamerauLevenshteinLevel("id_no", 1).configure(label_for_charts="one digit off"),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[name, birth, cl.ExactMatch("sex"), address, id_no],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date"),
            block_on("name_py", "birth_year"),
            # an ID with two adjacent digits swapped, or one wrong, in its first 14 digits
            # agrees on one of these (beyond, the birth date block finds it)
            block_on("id_part1"),
            block_on("id_part2", "surname"),  # (the sequence numbers are few per day)
        ],
        probability_two_random_records_match=probability,
        retain_matching_columns=True,  # and the comparison levels (gamma_)
        retain_intermediate_calculation_columns=False,
    )


def _db_api(engine: Engine, threads: int | None) -> Any:
    if engine == "spark":  # Splink's Spark backend: the session the environment configures
        from pyspark.sql import SparkSession
        from splink.backends.spark import SparkAPI, similarity_jar_location

        builder = SparkSession.builder.appName("yibao-linkage")
        # Splink's similarity functions (Jaro–Winkler, Damerau–Levenshtein) as Spark UDFs
        builder = builder.config("spark.jars", similarity_jar_location())
        if threads is not None:  # a local session of that many cores
            builder = builder.master(f"local[{int(threads)}]").config(
                "spark.sql.shuffle.partitions", str(4 * int(threads))
            )
        spark = builder.getOrCreate()
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="yibao-linkage-"))
        return SparkAPI(spark_session=spark)  # type: ignore[no-untyped-call]
    import duckdb
    from splink import DuckDBAPI

    con = duckdb.connect()
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    return DuckDBAPI(connection=con)


def link(
    records: pa.Table,
    registry: pa.Table,
    limits: Thresholds,
    *,
    seed: int = 16,
    engine: Engine = "duckdb",
    threads: int | None = None,
    u_pairs: float = 1e6,
    progress: Progress | None = None,
) -> Linkage:
    """Link ``records`` to ``registry``: the candidate pairs at or above the review threshold,
    each with its match weight, probability, comparison levels and status. Deterministic for
    the same inputs and ``seed`` (u sampling seeded, EM from fixed starting values).
    ``u_pairs``: the random non-matching pairs the u probabilities are counted on."""
    _require(records, RECORD_COLUMNS, "records")
    _require(registry, REGISTRY_COLUMNS, "registry")
    if engine not in ("duckdb", "spark"):
        raise InvalidField("engine", "duckdb or spark")
    say = progress or (lambda _msg: None)
    if records.num_rows == 0 or registry.num_rows == 0:
        return Linkage(CANDIDATES_SCHEMA.empty_table(), {})
    from splink import Linker, block_on

    keys = pc.binary_join_element_wise(
        records["source"].cast(pa.string()), records["row_no"].cast(pa.string()), ":"
    )
    if len(pc.unique(keys)) != records.num_rows:
        raise InvalidField("records", "(source, row_no) repeats")
    psn = registry["psn_no"].cast(pa.string())
    if len(pc.unique(psn)) != registry.num_rows or psn.null_count:
        raise InvalidField("registry", "psn_no missing or repeated")
    say("preparing names (pinyin)")
    left = _prepare(records, pc.binary_join_element_wise("r", keys, ":"))
    right = _prepare(registry, pc.binary_join_element_wise("p", psn, ":"))

    db_api = _db_api(engine, threads)
    frames = [
        db_api.register(left, dataset_display_name="records"),
        db_api.register(right, dataset_display_name="registry"),
    ]
    # the prior: at most one registry person per record
    prior = min(0.5, 1.0 / registry.num_rows)
    linker = Linker(frames, _settings(prior), log_level=logging.ERROR)
    say("estimating u (random sampling)")
    linker.training.estimate_u_using_random_sampling(
        max_pairs=min(u_pairs, 1.0 * records.num_rows * registry.num_rows), seed=seed, num_chunks=1
    )
    say("estimating m (EM, blocked on birth date)")
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date"), fix_probability_two_random_records_match=True
    )
    say("estimating m (EM, blocked on name and birth year)")
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("name_py", "birth_year"), fix_probability_two_random_records_match=True
    )
    # the trained model, each level's m and u floored, scores the pairs
    linker = Linker(frames, floored(linker.misc.save_model_to_json()), log_level=logging.ERROR)
    say("scoring candidate pairs")
    review = float(limits.review)
    predicted = linker.inference.predict(
        threshold_match_probability=review, warning_mode="never"
    ).as_pyarrow_table()  # type: ignore[no-untyped-call]
    weights = _weights(linker)
    return Linkage(statuses(predicted, float(limits.match), review), weights)


#: The least m and u probability of a comparison level (ASSUMPTION): a level the training pairs
#: never showed among matches (a wholly different ID or name) is rare, not impossible, so it
#: weighs at most log2(u / M_FLOOR) against a pair instead of an unbounded amount.
M_FLOOR, U_FLOOR = 0.001, 1e-7


def floored(model: dict[str, Any]) -> dict[str, Any]:
    """The model with each non-null level's m at least ``M_FLOOR`` and u at least
    ``U_FLOOR``, both renormalised over the comparison's levels."""
    for comparison in model["comparisons"]:
        levels = [lv for lv in comparison["comparison_levels"] if not lv.get("is_null_level")]
        for key, floor in (("m_probability", M_FLOOR), ("u_probability", U_FLOOR)):
            values = [max(float(lv.get(key) or 0.0), floor) for lv in levels]
            total = sum(values)
            for lv, v in zip(levels, values, strict=True):
                lv[key] = v / total
    return model


def _weights(linker: Any) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for comparison in linker._settings_obj.comparisons:
        levels = []
        for level in comparison.comparison_levels:
            if level.is_null_level:
                continue
            levels.append((str(level.label_for_charts), round(float(level._log2_bayes_factor), 4)))
        out[str(comparison.output_column_name)] = levels
    return out


def statuses(predicted: pa.Table, match: float, review: float) -> pa.Table:
    """Candidates per record, best first; the best is ``auto`` when at or above ``match`` and
    no other candidate of its record reaches ``review`` (else every candidate is ``review``)."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for row in predicted.to_pylist():
        left, right = row["unique_id_l"], row["unique_id_r"]
        if left.startswith("p:"):  # the comparisons are symmetric: only the ids swap
            left, right = right, left
        if row["match_probability"] < review:
            continue
        gammas = {f: row[f"gamma_{f}"] for f in FIELDS}
        rows.setdefault(left, []).append(
            {
                "psn_no": right[2:],
                "match_weight": float(row["match_weight"]),
                "match_probability": float(row["match_probability"]),
                **{f"gamma_{f}": int(g) for f, g in gammas.items()},
            }
        )
    out: list[dict[str, Any]] = []
    for key in sorted(rows, key=_record_order):
        source, row_no = _record_key(key)
        found = sorted(rows[key], key=lambda c: (-c["match_weight"], c["psn_no"]))
        best_is_auto = found[0]["match_probability"] >= match and len(found) == 1
        for i, cand in enumerate(found):
            status = AUTO if i == 0 and best_is_auto else REVIEW
            out.append({"source": source, "row_no": row_no, **cand, "status": status})
    return pa.Table.from_pylist(out, schema=CANDIDATES_SCHEMA)


def _record_key(uid: str) -> tuple[str, int]:
    source, row_no = uid[2:].rsplit(":", 1)
    return source, int(row_no)


def _record_order(uid: str) -> tuple[str, int]:
    return _record_key(uid)
