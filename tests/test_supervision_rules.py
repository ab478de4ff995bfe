"""Supervision rules (kernel.supervision), each a table of hand-made cases: one that fires and
a near miss that does not (back-office.md §4, docs/supervision.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from yibao.kernel.classify import NO_LIMIT, REASONS
from yibao.kernel.supervision import (
    RULES,
    LineColumns,
    Thresholds,
    VisitColumns,
    above_level_lines,
    dead_or_uninsured,
    duplicate_lines,
    frequent_visits,
    long_stays,
    over_quantity_lines,
    run_rules,
    sex_age_lines,
    split_admissions,
)
from yibao.policy.errors import ParameterError
from yibao.policy.params import Policy
from yibao.policy.supervision import rule_catalogue
from yibao.policy.vocab import LineReason, RuleAction, Severity, SupervisionRule


def a(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def reasons(*names: LineReason) -> np.ndarray:
    return a(*(REASONS.index(n) for n in names))


# (person, code, day, quantity, unit price) of two lines, and whether the second repeats the first
DUPLICATES = [
    ((1, 7, 100, 10_000, 5_000_000), (1, 7, 100, 10_000, 5_000_000), True),
    ((1, 7, 100, 10_000, 5_000_000), (1, 7, 101, 10_000, 5_000_000), False),  # next day
    ((1, 7, 100, 10_000, 5_000_000), (2, 7, 100, 10_000, 5_000_000), False),  # another person
    ((1, 7, 100, 10_000, 5_000_000), (1, 8, 100, 10_000, 5_000_000), False),  # another item
    ((1, 7, 100, 10_000, 5_000_000), (1, 7, 100, 20_000, 5_000_000), False),  # other quantity
    ((1, 7, 100, 10_000, 5_000_000), (1, 7, 100, 10_000, 5_010_000), False),  # other price
]


@pytest.mark.parametrize(("first", "second", "fires"), DUPLICATES)
def test_duplicate_item(first: tuple[int, ...], second: tuple[int, ...], fires: bool) -> None:
    cols = [a(x, y) for x, y in zip(first, second, strict=True)]
    twin = duplicate_lines(*cols)
    assert twin.tolist() == ([-1, 0] if fires else [-1, -1])


def test_duplicate_item_among_interleaved_lines() -> None:
    """Three lines of one person, item and day: the first and third repeat each other even with
    a line of another quantity between them; the later one is the duplicate."""
    twin = duplicate_lines(a(1, 1, 1), a(7, 7, 7), a(5, 5, 5), a(1, 2, 1), a(9, 9, 9))
    assert twin.tolist() == [-1, -1, 0]


@pytest.mark.parametrize(
    ("reason", "over_quantity", "sex_age", "above_level"),
    [
        (LineReason.DAY_QUANTITY, True, False, False),
        (LineReason.STAY_QUANTITY, True, False, False),
        (LineReason.SEX, False, True, False),
        (LineReason.AGE, False, True, False),
        (LineReason.LEVEL, False, False, True),
        # near misses: a price over its limit, an unapproved indication, class C, a plain line
        (LineReason.PRICE_LIMIT, False, False, False),
        (LineReason.INDICATION, False, False, False),
        (LineReason.CLASS_C, False, False, False),
        (LineReason.CLASS_A, False, False, False),
    ],
)
def test_line_reason_rules(
    reason: LineReason, over_quantity: bool, sex_age: bool, above_level: bool
) -> None:
    r = reasons(reason)
    assert over_quantity_lines(r).tolist() == [over_quantity]
    assert sex_age_lines(r).tolist() == [sex_age]
    assert above_level_lines(r).tolist() == [above_level]


# earlier admission (admit, discharge, diagnosis), later one, same person?, fires with 15 days
SPLITS = [
    ((10, 20, 3), (35, 40, 3), True, True),  # 15 days after discharge: inside the window
    ((10, 20, 3), (20, 25, 3), True, True),  # readmitted on the day of discharge
    ((10, 20, 3), (36, 40, 3), True, False),  # 16 days: outside
    ((10, 20, 3), (30, 40, 4), True, False),  # another principal diagnosis
    ((10, 20, 3), (30, 40, 3), False, False),  # another person
    ((10, 20, -1), (30, 40, -1), True, False),  # no diagnosis
]


@pytest.mark.parametrize(("first", "second", "same_person", "fires"), SPLITS)
def test_split_admission(
    first: tuple[int, int, int], second: tuple[int, int, int], same_person: bool, fires: bool
) -> None:
    person = a(1, 1 if same_person else 2)
    admit, discharge, diagnosis = (a(x, y) for x, y in zip(first, second, strict=True))
    earlier = split_admissions(
        person, admit, discharge, diagnosis, np.array([True, True]), window_days=15
    )
    assert earlier.tolist() == ([-1, 0] if fires else [-1, -1])


def test_split_admission_only_between_admissions() -> None:
    """An outpatient visit between two admissions neither fires nor hides the readmission."""
    earlier = split_admissions(
        a(1, 1, 1), a(10, 22, 25), a(20, 22, 30), a(3, 3, 3), np.array([True, False, True]), 15
    )
    assert earlier.tolist() == [-1, -1, 0]


def test_split_admission_past_an_admission_for_another_diagnosis() -> None:
    """An admission for another diagnosis between the two does not hide the readmission."""
    earlier = split_admissions(
        a(1, 1, 1), a(10, 22, 28), a(20, 26, 30), a(3, 9, 3), np.array([True, True, True]), 15
    )
    assert earlier.tolist() == [-1, -1, 0]


@pytest.mark.parametrize(
    ("admit", "discharge", "limit", "inpatient", "fires"),
    [
        (100, 161, 60, True, True),  # 61 days against 60
        (100, 160, 60, True, False),  # exactly the limit
        (100, 200, 60, False, False),  # not an admission
        (100, 120, NO_LIMIT, True, False),
    ],
)
def test_long_stay(admit: int, discharge: int, limit: int, inpatient: bool, fires: bool) -> None:
    got = long_stays(a(admit), a(discharge), np.array([inpatient]), a(limit))
    assert got.tolist() == [fires]


@pytest.mark.parametrize(
    ("day", "died", "covered_from", "covered_to", "fires"),
    [
        (101, 100, 0, NO_LIMIT, True),  # the day after death
        (100, 100, 0, NO_LIMIT, False),  # the day of death (a stay ending in death)
        (49, NO_LIMIT, 50, NO_LIMIT, True),  # the day before cover begins
        (50, NO_LIMIT, 50, NO_LIMIT, False),  # its first day
        (80, NO_LIMIT, 50, 80, True),  # the day cover ended
        (79, NO_LIMIT, 50, 80, False),
    ],
)
def test_dead_or_uninsured(
    day: int, died: int, covered_from: int, covered_to: int, fires: bool
) -> None:
    assert dead_or_uninsured(a(day), a(died), a(covered_from), a(covered_to)).tolist() == [fires]


def test_visit_frequency_fires_above_the_maximum_in_the_window() -> None:
    """Four visits in a 10-day window against a maximum of 3: the fourth fires; the same four
    spread over 11 days (near miss) do not."""
    fires = frequent_visits(a(1, 1, 1, 1, 2), a(100, 102, 105, 109, 100), 10, 3)
    assert fires.tolist() == [False, False, False, True, False]
    spread = frequent_visits(a(1, 1, 1, 1, 2), a(100, 102, 105, 110, 100), 10, 3)
    assert not spread.any()
    # another person's visits on the same days do not count
    mixed = frequent_visits(a(1, 2, 1, 2, 1), a(100, 101, 102, 103, 104), 10, 3)
    assert not mixed.any()


def _visits(n: int, **over: np.ndarray) -> VisitColumns:
    base = {
        "person": np.zeros(n, dtype=np.int64),
        "day": np.arange(n, dtype=np.int64) * 40 + 100,
        "admit": np.arange(n, dtype=np.int64) * 40 + 100,
        "inpatient": np.zeros(n, dtype=np.bool_),
        "diagnosis": np.full(n, -1, dtype=np.int64),
        "stay_limit": np.full(n, NO_LIMIT, dtype=np.int64),
        "died_on": np.full(n, NO_LIMIT, dtype=np.int64),
        "covered_from": np.zeros(n, dtype=np.int64),
        "covered_to": np.full(n, NO_LIMIT, dtype=np.int64),
    }
    base.update(over)
    return VisitColumns(**base)


def test_run_rules_names_rule_visit_line_and_the_other_visit() -> None:
    """Two visits of one person: a duplicate line across them (evidence: the line, the other
    visit), a sex-restricted line, and the second visit after the person's death."""
    visits = _visits(2, day=a(100, 100), admit=a(100, 100), died_on=a(99, 99))
    lines = LineColumns(
        visit=a(0, 1, 1),
        code=a(5, 5, 6),
        day=a(100, 100, 100),
        quantity=a(1, 1, 1),
        unit_price=a(2, 2, 2),
        reason=reasons(LineReason.CLASS_A, LineReason.CLASS_A, LineReason.SEX),
    )
    found = run_rules(visits, lines, Thresholds(15, 30, 20))
    rows = sorted(
        zip(
            (RULES[i].value for i in found.rule),
            found.visit.tolist(),
            found.line.tolist(),
            found.other.tolist(),
            strict=True,
        )
    )
    assert rows == [
        ("dead_or_uninsured", 0, -1, -1),
        ("dead_or_uninsured", 1, -1, -1),
        ("duplicate_item", 1, 1, 0),
        ("sex_age", 1, 2, -1),
    ]
    off = run_rules(visits, lines, Thresholds(15, 30, 20), frozenset({SupervisionRule.SEX_AGE}))
    assert [RULES[i] for i in off.rule] == [SupervisionRule.SEX_AGE]


def test_catalogue_national_defaults() -> None:
    cat = rule_catalogue(Policy("000000"), dt.date(2025, 1, 1))
    assert cat.readmission_days == 15
    assert cat.rule(SupervisionRule.DEAD_OR_UNINSURED).action == RuleAction.REFUSE
    assert cat.rule(SupervisionRule.SPLIT_ADMISSION).severity == Severity.HIGH
    assert {r.code for r in cat.rules} == set(SupervisionRule)
    assert cat.stay_limit("I63.9") == 90  # its category
    assert cat.stay_limit("H25") == 15  # its chapter
    assert cat.stay_limit("K35") == 60  # the default
    assert cat.stay_limit(None) == 60


def _region(folder: Path, body: dict[str, object]) -> None:
    doc = {
        "region": "990000",
        "name": "test bureau",
        "parent": "000000",
        "parameters": {"supervision": body},
    }
    (folder / "990000.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))


def test_a_bureau_tunes_and_switches_rules_from_a_date(tmp_path: Path) -> None:
    """A region file makes duplicate items refuse from 2026, switches visit frequency off and
    shortens the readmission window, without a code change."""
    _region(
        tmp_path,
        {
            "readmission_days": {"2026-01-01": 30},
            "rules": {
                "duplicate_item": {
                    "action": {"2026-01-01": "refuse"},
                    "severity": {"2026-01-01": "high"},
                },
                "visit_frequency": {"action": "off", "severity": "medium"},
            },
        },
    )
    policy = Policy("990000", folder=tmp_path)
    before = rule_catalogue(policy, dt.date(2025, 6, 1))
    after = rule_catalogue(policy, dt.date(2026, 6, 1))
    assert before.rule(SupervisionRule.DUPLICATE_ITEM).action == RuleAction.WARN
    assert after.rule(SupervisionRule.DUPLICATE_ITEM).action == RuleAction.REFUSE
    assert (before.readmission_days, after.readmission_days) == (15, 30)
    assert not after.active(SupervisionRule.VISIT_FREQUENCY)


def test_an_unknown_action_names_the_rule(tmp_path: Path) -> None:
    _region(tmp_path, {"rules": {"sex_age": {"action": "shout", "severity": "low"}}})
    with pytest.raises(ParameterError, match=r"supervision\.rules\.sex_age"):
        rule_catalogue(Policy("990000", folder=tmp_path), dt.date(2025, 1, 1))


small = st.integers(min_value=0, max_value=3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(small, small, small, small, small), min_size=0, max_size=40))
def test_duplicate_lines_match_a_line_by_line_oracle(rows: list[tuple[int, ...]]) -> None:
    """Each line repeats the first earlier line with the same five values, if any."""
    first: dict[tuple[int, ...], int] = {}
    expected = []
    for i, r in enumerate(rows):
        expected.append(first.get(r, -1))
        first.setdefault(r, i)
    cols = [np.array([r[k] for r in rows], dtype=np.int64) for k in range(5)]
    assert duplicate_lines(*cols).tolist() == expected


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), st.integers(0, 40)), min_size=0, max_size=40),
    st.integers(1, 10),
    st.integers(1, 4),
)
def test_frequent_visits_match_a_count_per_visit(
    rows: list[tuple[int, int]], window: int, most: int
) -> None:
    """A visit fires when the person's visits on days (day − window, day] number more than
    ``most``, counting the same day's visits up to and including it in input order."""
    person = np.array([r[0] for r in rows], dtype=np.int64)
    day = np.array([r[1] for r in rows], dtype=np.int64)
    order = sorted(range(len(rows)), key=lambda i: (rows[i][0], rows[i][1], i))
    rank = {i: k for k, i in enumerate(order)}
    expected = []
    for i, (p, d) in enumerate(rows):
        count = sum(
            1
            for j, (q, e) in enumerate(rows)
            if q == p and d - window < e <= d and (e < d or rank[j] <= rank[i])
        )
        expected.append(count > most)
    assert frequent_visits(person, day, window, most).tolist() == expected
