"""DIP groups from a small hand-made history (weights checked by hand), cases into groups, the
ICD-10 chapters; the DRG grouper on hand-made cases (MDC, ADRG by procedure or diagnosis, DRG
by MCC/CC and age) and its weights from history; the group table files' row errors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from yibao.kernel.dip_groups import assign_groups, build_groups, chapter_of
from yibao.kernel.drg import compile_drg_table, group_cases
from yibao.policy import Policy
from yibao.policy.group_tables import (
    GroupTableError,
    parse_csv,
    read_table,
    shipped_drg_table,
    to_csv,
)
from yibao.rules.provider_payment import GroupBuilding
from yibao.services.provider_payment import Cases, drg_rows
from yibao.synth.catalog import INPATIENT, MATERNITY

# History 2022–2024 weighted 1:2:7, min_cases 3, scale 1000 (costs in fen):
#   I21:36.07  2022 100; 2023 200; 2024 400   → 3 cases, core; avg (100 + 400 + 2800)/10 = 330
#   K35:47.01  2024 600, 600, 900                        → core; only 2024: avg 700
#   J18:- 2024 100, 300; J20:- 2023 50                   → 2 + 1 < 3: chapter X (J00–J99):
#              2023 avg 50, 2024 avg 200 → (2·50 + 7·200) ÷ 9 = 166.67 → 167 fen
#   XYZ (not ICD-10) and a 2021 case: left out
# All cases: 2022 100; 2023 (200 + 50)/2 = 125; 2024 2900/6 → (100 + 250 + 7·2900/6)/10 = 1120/3
# Scores: I21 330 ÷ 1120/3 × 1000 = 883.928571… → 883.9286; K35 700 → 1875.0000;
#   chapter X 1500/9 ÷ 1120/3 × 1000 = 446.428571… → 446.4286
HISTORY = [
    ("I21", "36.07", 2022, 100), ("I21", "36.07", 2023, 200), ("I21", "36.07", 2024, 400),
    ("K35", "47.01", 2024, 600), ("K35", "47.01", 2024, 600), ("K35", "47.01", 2024, 900),
    ("J18", None, 2024, 100), ("J18", "", 2024, 300), ("J20", None, 2023, 50),
    ("XYZ", None, 2024, 999), ("I21", "36.07", 2021, 5000),
]  # fmt: skip


def _history() -> tuple[np.ndarray, pa.Array, pa.Array, np.ndarray]:
    return (
        np.array([h[2] for h in HISTORY]),
        pa.array([h[0] for h in HISTORY]),
        pa.array([h[1] for h in HISTORY], pa.string()),
        np.array([h[3] for h in HISTORY]),
    )


def test_groups_built_from_a_hand_made_history() -> None:
    year, diag, proc, cost = _history()
    rows = build_groups(
        year, diag, proc, cost, [2022, 2023, 2024], GroupBuilding(3, (1, 2, 7), 1000)
    )
    got = {(r.code, r.kind): (r.score, r.avg_cost, r.cases) for r in rows}
    assert got == {
        ("I21:36.07", "core"): (8_839_286, 330, 3),
        ("K35:47.01", "core"): (18_750_000, 700, 3),
        ("chapter:X", "comprehensive"): (4_464_286, 167, 3),
    }


def test_two_years_of_history_take_the_last_two_weights() -> None:
    # 2023–2024 weighted 2:7. I21: (2·200 + 7·400)/9 = 355.56; all: (2·125 + 7·2900/6)/9.
    year, diag, proc, cost = _history()
    rows = build_groups(year, diag, proc, cost, [2023, 2024], GroupBuilding(2, (1, 2, 7), 1000))
    i21 = next(r for r in rows if r.code == "I21:36.07")
    assert i21.cases == 2
    assert i21.avg_cost == 356  # 3200/9 = 355.56
    # 3200/9 ÷ ((250 + 20300/6)/9) × 1000 = 3200 ÷ 3633.33 × 1000 = 880.7339…
    assert i21.score == 8_807_339


def test_cases_fall_into_their_core_group_else_their_chapters_comprehensive_group() -> None:
    codes = ["I21:36.07", "K35:47.01", "chapter:X", "chapter:IX"]
    got = assign_groups(
        pa.array(["I21", "I21", "J44", "K35", "K35", None, "Q00"]),
        pa.array(["36.07", None, "", "47.01", "99.99", None, None], pa.string()),
        codes,
    )
    assert got.tolist() == [0, 3, 2, 1, -1, -1, -1]


@pytest.mark.parametrize(
    ("code", "chapter"),
    [("A09", "I"), ("C50", "II"), ("D25", "II"), ("D62", "III"), ("E11", "IV"), ("F20", "V"),
     ("G20", "VI"), ("H25", "VII"), ("H65", "VIII"), ("I21", "IX"), ("J18", "X"), ("K35", "XI"),
     ("L30", "XII"), ("M17", "XIII"), ("N18", "XIV"), ("O80", "XV"), ("P59", "XVI"),
     ("Q21", "XVII"), ("R50", "XVIII"), ("S72", "XIX"), ("T14", "XIX"), ("V89", "XX"),
     ("Y34", "XX"), ("Z37.0", "XXI"), ("U07.1", "XXII"), ("XYZ", None), ("1", None)],
)  # fmt: skip
def test_icd10_chapters(code: str, chapter: str | None) -> None:
    assert chapter_of(code) == chapter


DRG_TABLE = """\
level,code,name,parent,by,codes,split,age_min,age_max,weight,avg_cost
mdc,F,Circulatory,,,I00-I99,,,,,
mdc,E,Respiratory,,,J00-J99,,,,,
adrg,FM1,PCI,F,procedure,36.0,,,,,
adrg,FR1,AMI,F,diagnosis,I21-I22,,,,,
adrg,ES3,Pneumonia,E,diagnosis,J12-J18,,,,,
drg,FM15,PCI,FM1,,,,,,,
drg,FR11,AMI with MCC,FR1,,,mcc,,,,
drg,FR13,AMI with CC,FR1,,,cc,,,,
drg,FR15,AMI,FR1,,,,,,,
drg,ES37,Pneumonia of a child,ES3,,,,0,17,,
drg,ES35,Pneumonia,ES3,,,,,,1.5,
mcc,MCC,,,,I50,,,,,
cc,CC,,,,E11,,,,,
"""
# (principal, procedure, diagnoses, age, cost) → DRG
CASES = [
    ("I21", "36.07", ["I21", "I50"], 60, 3000, "FM15"),  # a procedure ADRG before diagnosis
    ("I21", None, ["I21", "I50"], 60, 2000, "FR11"),  # MCC
    ("I21", None, ["I21", "E11"], 60, 1000, "FR13"),  # CC
    ("I21.0", None, ["I21.0", "E11.9", "I50.0"], 60, 4000, "FR11"),  # MCC wins over CC
    ("I21", None, ["I21"], 60, 1000, "FR15"),  # none
    ("J18", None, ["J18", "E11"], 5, 500, "ES37"),  # age split (no CC split in ES3)
    ("J18", None, ["J18"], 40, 1500, "ES35"),
    ("J18", None, ["J18"], -1, 1000, "ES35"),  # unknown age: the row without an age range
    ("K35", "47.01", ["K35"], 30, 9999, None),  # no MDC
    ("I10", None, ["I10"], 70, 7777, None),  # MDC F, no ADRG
    ("I50", None, ["I50"], 70, 7777, None),  # the principal itself is not a complication
]


def _drg_cases() -> Cases:
    return Cases(
        year=np.full(len(CASES), 2024),
        diagnosis=pa.array([c[0] for c in CASES]),
        procedure=pa.array([c[1] for c in CASES], pa.string()),
        diagnoses=pa.array([c[2] for c in CASES], pa.list_(pa.string())),
        cost=np.array([c[4] for c in CASES]),
        age=np.array([c[3] for c in CASES]),
        institution=pa.array(["H1"] * len(CASES)),
    )


def test_the_grouper_on_hand_made_cases() -> None:
    table = compile_drg_table(parse_csv(DRG_TABLE, "drg"))
    cases = _drg_cases()
    got = group_cases(table, cases.diagnosis, cases.procedure, cases.diagnoses, cases.age)
    assert [table.drgs[i] if i >= 0 else None for i in got.drg] == [c[5] for c in CASES]
    assert got.severity.tolist() == [2, 2, 1, 2, 0, 1, 0, 0, 0, 0, 0]
    assert [table.mdcs[i][0] if i >= 0 else None for i in got.mdc][-3:] == [None, "F", "F"]


def test_drg_weights_from_history() -> None:
    # One year (weight 7), scale 100; grouped cases: 3000 + 2000 + 1000 + 4000 + 1000 + 500
    # + 1500 + 1000 = 14000 over 8 = 1750. FR11 (2000 + 4000)/2 = 3000 → 171.428571 → 171.4286;
    # FM15 3000 → 171.4286; FR13 1000 → 57.1429; FR15 57.1429; ES37 500 → 28.5714;
    # ES35 (1500 + 1000)/2 = 1250 → 71.4286.
    rows = drg_rows(
        _drg_cases(), [2024], parse_csv(DRG_TABLE, "drg"), Policy("000000"), dt.date(2024, 1, 1)
    )
    got = {r.code: (r.score, r.avg_cost, r.cases) for r in rows if r.level == "drg"}
    assert got == {
        "FM15": (1_714_286, 3000, 1),
        "FR11": (1_714_286, 3000, 2),
        "FR13": (571_429, 1000, 1),
        "FR15": (571_429, 1000, 1),
        "ES37": (285_714, 500, 1),
        "ES35": (714_286, 1250, 2),
    }


def test_the_shipped_drg_table_groups_every_synthetic_inpatient_diagnosis() -> None:
    path = shipped_drg_table("000000")
    assert path is not None
    table = compile_drg_table(read_table(path, "drg"))
    codes = [d.code for d in (*INPATIENT, *MATERNITY)]
    procedures = [None] * len(codes)
    got = group_cases(table, pa.array(codes), pa.array(procedures, pa.string()))
    assert all(i >= 0 for i in got.drg), [c for c, i in zip(codes, got.drg, strict=True) if i < 0]
    for d in (*INPATIENT, *MATERNITY):
        for proc, _ in d.procedures:
            one = group_cases(table, pa.array([d.code]), pa.array([proc]))
            assert one.drg[0] >= 0, (d.code, proc)


def test_a_table_written_as_csv_reads_back_the_same() -> None:
    rows = parse_csv(DRG_TABLE, "drg")
    assert parse_csv(to_csv(rows, "drg"), "drg") == rows
    dip = parse_csv(
        "code,score,avg_cost,cases\nI21:36.07,883.9286,3.30,3\nchapter:X,446.4286,1.67,\n", "dip"
    )
    assert [r.kind for r in dip] == ["core", "comprehensive"]
    assert dip[0].score == 8_839_286 and dip[0].avg_cost == 330
    assert parse_csv(to_csv(dip, "dip"), "dip") == dip


BAD_DIP = [
    ("code,score,avg_cost\nG1,abc,10\n", "line 2: score: not a number"),
    ("code,score,avg_cost\nG1,1.00001,10\n", "line 2: score: at most 4 decimal places"),
    ("code,score,avg_cost\nG1,0,10\n", "line 2: score: must be above 0"),
    ("code,score,avg_cost\nG1,10,\n", "line 2: avg_cost: missing"),
    ("code,score,avg_cost,kind\nG1,10,5,other\n", "line 2: kind: unknown kind"),
    ("code,score,avg_cost\nG1,10,5\nG1,11,5\n", "code: group G1 is listed twice"),
    ("code,score,colour\nG1,10,5\n", "line 1: header: unknown column 'colour'"),
    ("code,avg_cost\nG1,5\n", "line 1: header: missing column 'score'"),
    ("code,score,avg_cost\nG1,10\n", "line 2: row: has 2 fields"),
    ("code,score,avg_cost\nG 1,10,5\n", "line 2: code: must be a group code"),
    ("code,score,avg_cost\nG1,-3,5\n", "line 2: score: must be a number from 0"),
    ("code,score,avg_cost\n", "file: the table has no rows"),
]
BAD_DRG = [
    ("level,code,parent\nadrg,FM1,X\n", "line 2: codes: missing"),
    ("level,code,parent,by,codes\nmdc,F,,,I00-I99\nadrg,FM1,F,both,36.0\n", "line 3: by: must be"),
    (
        "level,code,parent,codes\nmdc,F,,I00-I99\ndrg,FM15,FM9,\n",
        "parent: drg FM15: unknown adrg 'FM9'",
    ),
    ("level,code,codes\nmdc,F,I00-I99;drop table\n", "line 2: codes: 'DROP TABLE' is not"),
    ("level,code,split,parent\ndrg,X1,severe,A\n", "line 2: split: must be mcc, cc or empty"),
    ("level,code,age_min,age_max,parent\ndrg,X1,18,5,A\n", "line 2: age_max: is below age_min"),
    ("level,code\nwhatever,X\n", "line 2: level: unknown level"),
]


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [*[("dip", *b) for b in BAD_DIP], *[("drg", *b) for b in BAD_DRG]],
)
def test_a_bad_table_row_is_refused_naming_the_line_and_column(
    method: str, body: str, message: str
) -> None:
    with pytest.raises(GroupTableError) as caught:
        parse_csv(body, method, "t.csv")
    assert message in str(caught.value), str(caught.value)


def test_years_older_than_the_weights_reach_are_left_out() -> None:
    # Four years with weights 1:2:7: 2021 has weight 0, its case counts for nothing (not even
    # towards min_cases): the same groups as for 2022–2024.
    year, diag, proc, cost = _history()
    building = GroupBuilding(3, (1, 2, 7), 1000)
    four = build_groups(year, diag, proc, cost, [2021, 2022, 2023, 2024], building)
    three = build_groups(year, diag, proc, cost, [2022, 2023, 2024], building)
    assert four == three
