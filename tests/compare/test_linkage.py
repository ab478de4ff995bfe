"""Record linkage (services/compare/linkage.py): on the household file of a generated area
(compare's generator, ``synth.departments``, its unmatched rows) and on a harder noisy file of
homophones, the automatic links' precision and recall against the ground truth are at least
0.95; the same inputs give the same pairs; the pieces (pinyin, thresholds, a record's
statuses, the floored model) do what they say, checked by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from tests.compare.linkage_support import department_unmatched, noisy_file, precision_recall
from yibao.domain.errors import InvalidField
from yibao.services.compare import linkage
from yibao.services.compare.linkage import AUTO, REVIEW, Linkage, Thresholds, link
from yibao.synth import SynthConfig, generate

LIMITS = Thresholds(Decimal("0.99"), Decimal("0.5"))


@pytest.fixture(scope="module")
def departments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Linkage, dict[int, str | None]]:
    area = Path(tmp_path_factory.mktemp("area"))
    generate(area, SynthConfig(region="360100", persons=10_000, year=2025, seed=7))
    records, registry, truth = department_unmatched(area, noise=3.0, seed=3)
    return link(records, registry, LIMITS, threads=1, u_pairs=3e5), truth


@pytest.fixture(scope="module")
def linked() -> tuple[Linkage, dict[int, str | None]]:
    records, registry, truth = noisy_file()
    return link(records, registry, LIMITS, threads=1, u_pairs=3e5), truth


def _pairs(table: pa.Table) -> list[tuple[int, str]]:
    return list(zip(table["row_no"].to_pylist(), table["psn_no"].to_pylist(), strict=True))


def test_precision_and_recall_on_a_generated_areas_household_file(
    departments: tuple[Linkage, dict[int, str | None]],
) -> None:
    """10,000 persons, noise ×3: ~1,700 household rows without a matching ID, ~800 of them
    registry persons (IDs swapped or missing, with name typos, birth dates off by days, rooms
    left out), the rest people not in the registry."""
    result, truth = departments
    assert sum(v is not None for v in truth.values()) > 500
    precision, recall = precision_recall(_pairs(result.auto()), truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    strangers = {row for row, psn in truth.items() if psn is None}
    assert len(strangers) > 500
    assert not strangers & set(result.auto()["row_no"].to_pylist())


def test_precision_and_recall_on_homophones(
    linked: tuple[Linkage, dict[int, str | None]],
) -> None:
    result, truth = linked
    precision, recall = precision_recall(_pairs(result.auto()), truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    # the review list holds most of the rest: its best candidate per record is mostly right
    best: dict[int, str] = {}
    for row in result.candidates.to_pylist():
        best.setdefault(row["row_no"], row["psn_no"])
    after_review = precision_recall(list(best.items()), truth)
    assert after_review[1] >= recall and after_review[1] >= 0.98
    # people not in the registry are never linked without review
    strangers = {row for row, psn in truth.items() if psn is None}
    assert not strangers & set(result.auto()["row_no"].to_pylist())


def test_a_record_has_one_auto_pair_at_most(
    linked: tuple[Linkage, dict[int, str | None]],
) -> None:
    result, _ = linked
    rows = result.auto()["row_no"].to_pylist()
    assert len(rows) == len(set(rows))
    for row in result.candidates.to_pylist():
        assert row["match_probability"] >= 0.5
        assert row["status"] in (AUTO, REVIEW)
        if row["status"] == AUTO:
            assert row["match_probability"] >= 0.99


def test_the_model_weighs_agreement_for_and_disagreement_against(
    linked: tuple[Linkage, dict[int, str | None]],
) -> None:
    weights = {field: dict(levels) for field, levels in linked[0].weights.items()}
    assert set(weights) == set(linkage.FIELDS)
    name = list(weights["name"].values())
    assert name == sorted(name, reverse=True)  # closer names weigh more
    assert weights["name"]["same pinyin"] > 5 > weights["name"]["All other comparisons"]
    birth = weights["birth_date"]
    assert birth["one digit off"] > 0 > birth["All other comparisons"]
    assert weights["id_no"]["one digit off"] > 5
    # the floor: no level weighs more than log2(1 / M_FLOOR) ≈ 10 against a pair
    assert min(min(levels.values()) for levels in weights.values()) > -10.5


def test_the_same_inputs_give_the_same_pairs(
    linked: tuple[Linkage, dict[int, str | None]],
) -> None:
    records, registry, _ = noisy_file()
    again = link(records, registry, LIMITS, threads=1, u_pairs=3e5)
    first = linked[0].candidates
    assert again.candidates.select(["source", "row_no", "psn_no", "status"]).equals(
        first.select(["source", "row_no", "psn_no", "status"])
    )


def test_pinyin_makes_homophones_agree() -> None:
    assert linkage.pinyin("张伟") == "zhangwei" == linkage.pinyin("张玮")
    assert linkage.pinyin("李静") == linkage.pinyin("李婧") != linkage.pinyin("李敏")
    assert linkage.pinyin(None) is None


def test_thresholds_from_policy_and_refused_when_inconsistent() -> None:
    got = linkage.thresholds("000000", dt.date(2026, 1, 1))
    assert got == Thresholds(Decimal("0.99"), Decimal("0.5"))
    with pytest.raises(InvalidField, match="review_threshold"):
        Thresholds(Decimal("0.6"), Decimal("0.7"))
    with pytest.raises(InvalidField, match="match_threshold"):
        Thresholds(Decimal("1"), Decimal("0.5"))
    with pytest.raises(InvalidField, match="review_threshold"):
        Thresholds(Decimal("0.9"), Decimal("0"))


def test_bad_inputs_are_refused_by_name() -> None:
    records, registry, _ = noisy_file(persons=50, linked=5, strangers=1)
    with pytest.raises(InvalidField, match=r"records.*address"):
        link(records.drop(["address"]), registry, LIMITS)
    with pytest.raises(InvalidField, match=r"registry.*id_no"):
        link(records, registry.drop(["id_no"]), LIMITS)
    twice = pa.concat_tables([records, records.slice(0, 1)])
    with pytest.raises(InvalidField, match="row_no"):
        link(twice, registry, LIMITS)
    dup = pa.concat_tables([registry, registry.slice(0, 1)])
    with pytest.raises(InvalidField, match="psn_no"):
        link(records, dup, LIMITS)
    with pytest.raises(InvalidField, match="engine"):
        link(records, registry, LIMITS, engine="oracle")  # type: ignore[arg-type]
    empty = link(records.slice(0, 0), registry, LIMITS)
    assert empty.candidates.num_rows == 0 and empty.candidates.schema == linkage.CANDIDATES_SCHEMA


def _predicted(rows: list[tuple[str, str, float, float]]) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "unique_id_l": left,
                "unique_id_r": right,
                "match_weight": weight,
                "match_probability": prob,
                **{f"gamma_{f}": 1 for f in linkage.FIELDS},
            }
            for left, right, weight, prob in rows
        ]
    )


def test_statuses_of_a_records_candidates() -> None:
    """Record 1: one candidate ≥ 0.99 → auto. Record 2: its best ≥ 0.99 but a rival ≥ 0.5 →
    both review, best first. Record 3: 0.7 → review. Record 4: 0.3 → dropped. The pair's ids
    come either way round."""
    got = linkage.statuses(
        _predicted(
            [
                ("r:aid:1", "p:A", 12.0, 0.999),
                ("p:B", "r:aid:2", 8.0, 0.995),
                ("r:aid:2", "p:C", 13.0, 0.9995),
                ("r:aid:3", "p:D", 1.0, 0.7),
                ("r:aid:4", "p:E", -1.0, 0.3),
            ]
        ),
        0.99,
        0.5,
    ).to_pylist()
    assert [(r["row_no"], r["psn_no"], r["status"]) for r in got] == [
        (1, "A", AUTO),
        (2, "C", REVIEW),
        (2, "B", REVIEW),
        (3, "D", REVIEW),
    ]
    assert {r["source"] for r in got} == {"aid"}


def test_floored_model_by_hand() -> None:
    """m = (0.9999, 0.0001, 0) → floored (0.9999, 0.001, 0.001) / 1.0019."""
    model = {
        "comparisons": [
            {
                "comparison_levels": [
                    {"is_null_level": True},
                    {"m_probability": 0.9999, "u_probability": 0.01},
                    {"m_probability": 0.0001, "u_probability": 0.09},
                    {"m_probability": 0.0, "u_probability": 0.9},
                ]
            }
        ]
    }
    levels = linkage.floored(model)["comparisons"][0]["comparison_levels"]
    assert levels[0] == {"is_null_level": True}
    assert [round(lv["m_probability"], 8) for lv in levels[1:]] == [
        round(0.9999 / 1.0019, 8),
        round(0.001 / 1.0019, 8),
        round(0.001 / 1.0019, 8),
    ]
    assert [round(lv["u_probability"], 8) for lv in levels[1:]] == [0.01, 0.09, 0.9]
