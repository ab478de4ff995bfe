"""Exact matching and every finding kind on small hand-made files against a hand-made
registry (the Arrow tables ``registry.from_store`` and ``from_area`` produce)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tests.compare.compare_support import AREA, ON, D, as_15, nid, swap, write_csv
from yibao.services.compare.files import read_department
from yibao.services.compare.match import compare
from yibao.services.compare.registry import ENROLMENTS, PERSONS, SETTLEMENTS, Registry

# registry persons: (person, id, name, sex, birth, aid class)
A = nid(1, D(1950, 3, 1))  # insured resident; dies 2025-06-30, enrolment open, 2 claims after
B = nid(3, D(1980, 1, 1))  # resident, employed in 2025 → two schemes
C = nid(5, D(1990, 5, 5))  # in the registry, no enrolment → uninsured
E = nid(2, D(1970, 7, 7))  # dibao in the registry; civil affairs says tekun → wrong class
F = nid(4, D(1975, 8, 8))  # no aid class; civil affairs says dibao → missing
G = nid(7, D(2025, 2, 1))  # newborn enrolled 2025-09-01 (212 days) → late
H = nid(9, D(1988, 9, 9))  # enrolled in two areas
I1 = nid(11, D(1966, 6, 6))  # same name/sex/birth as I2; I1 in the household registry
I2 = nid(13, D(1966, 6, 6))
K = nid(15, D(2010, 4, 4))  # student, not enrolled
OUT = nid(17, D(1995, 1, 1))  # not in the registry → uninsured
BABY = nid(19, D(2025, 3, 3))  # newborn not in the registry → uninsured and late
PERSONS_ROWS = [
    (1, A, "王建国", "M", D(1950, 3, 1), AREA, "东湖区1号", None),
    (2, B, "李伟", "M", D(1980, 1, 1), AREA, None, None),
    (3, C, "张强", "M", D(1990, 5, 5), AREA, None, None),
    (4, E, "刘芳", "F", D(1970, 7, 7), AREA, None, "dibao"),
    (5, F, "陈静", "F", D(1975, 8, 8), AREA, None, None),
    (6, G, "杨子", "M", D(2025, 2, 1), AREA, None, None),
    (7, H, "黄鹏", "M", D(1988, 9, 9), AREA, None, None),
    (8, I1, "赵军", "M", D(1966, 6, 6), AREA, None, None),
    (9, I2, "赵军", "M", D(1966, 6, 6), AREA, None, None),
    (10, K, "周涛", "M", D(2010, 4, 4), AREA, None, None),
]
ENROL_ROWS = [
    (1, "resident", AREA, D(2010, 1, 1), None),
    (2, "resident", AREA, D(2015, 1, 1), None),
    (3, "resident", AREA, D(2015, 1, 1), D(2024, 12, 31)),  # ended: not in force
    (4, "resident", AREA, D(2015, 1, 1), None),
    (5, "resident", AREA, D(2015, 1, 1), None),
    (6, "resident", AREA, D(2025, 9, 1), None),
    (7, "employee", AREA, D(2020, 1, 1), None),
    (7, "employee", "360200", D(2021, 1, 1), None),
    (8, "resident", AREA, D(2000, 1, 1), None),
    (9, "resident", AREA, D(2000, 1, 1), None),
]


def _table(rows: list[tuple[object, ...]], schema: pa.Schema) -> pa.Table:
    return pa.table(
        {f.name: pa.array([r[i] for r in rows], f.type) for i, f in enumerate(schema)},
        schema=schema,
    )


def registry() -> Registry:
    settlements = _table(
        [(1, D(2025, 6, 30), "S0"), (1, D(2025, 7, 2), "S1"), (1, D(2025, 8, 1), "S2")],
        SETTLEMENTS,
    )

    def after(people: list[int]) -> pa.Table:
        return settlements.filter(pa.compute.is_in(settlements["person"], pa.array(people)))

    return Registry(_table(PERSONS_ROWS, PERSONS), _table(ENROL_ROWS, ENROLMENTS), after, "test")


def files(tmp: Path) -> dict[str, object]:
    household = [
        {"id_no": a, "name": n, "sex": s, "birth_date": b.isoformat()}
        for (_, a, n, s, b, *_rest) in PERSONS_ROWS
        if a not in (A, I2)
    ]
    household += [
        {"id_no": OUT, "name": "吴敏", "sex": "M", "birth_date": "1995-01-01"},
        {"id_no": BABY, "name": "吴宝", "sex": "M", "birth_date": "2025-03-03"},
        {"id_no": swap(C, 8), "name": "张强", "sex": "M", "birth_date": "1990-05-05"},  # bad ID
    ]
    return {
        "household": write_csv(tmp / "household.csv", "household", household),
        "death": write_csv(
            tmp / "death.csv",
            "death",
            [{"id_no": as_15(A), "name": "王建国", "death_date": "2025-06-30"}],
        ),
        "aid": write_csv(
            tmp / "aid.csv",
            "aid",
            [
                {"id_no": E, "name": "刘芳", "aid_class": "tekun", "valid_from": "2025-01-01"},
                {
                    "id_no": F,
                    "name": "陈静",
                    "aid_class": "dibao",
                    "valid_from": "2025-03-01",
                    "valid_to": "2025-12-31",
                },
                {"id_no": B, "name": "李伟", "aid_class": "dibao", "valid_from": "2026-01-01"},
            ],
        ),
        "employment": write_csv(
            tmp / "employment.csv",
            "employment",
            [
                {"id_no": B, "name": "李伟", "employer": "E1", "year": 2025, "months": 8},
                {"id_no": H, "name": "黄鹏", "employer": "E2", "year": 2025, "months": 12},
            ],
        ),
        "education": write_csv(
            tmp / "education.csv",
            "education",
            [
                {
                    "id_no": K,
                    "name": "周涛",
                    "birth_date": "2010-04-04",
                    "school": "S1",
                    "enrol_year": 2022,
                }
            ],
        ),
    }


def run(tmp: Path) -> object:
    read = {k: read_department(k, p) for k, p in files(tmp).items()}  # type: ignore[arg-type]
    return compare(read, registry(), ON, area=AREA, newborn_window_days=90)


def test_every_finding_kind(tmp_path: Path) -> None:
    c = run(tmp_path)
    got = sorted(
        ((r["kind"], r["person"], r["source"], r["row_no"]) for r in c.findings.to_pylist()),  # type: ignore[attr-defined]
        key=repr,
    )
    assert got == sorted(
        [
            ("aid_missing", 5, "aid", 2),
            ("aid_wrong_class", 4, "aid", 1),  # B's aid row starts after ON: nothing
            ("dead_enrolled", 1, "death", 1),  # matched through the 15-digit ID
            ("newborn_late", None, "household", 10),  # BABY, 303 days, not in the registry
            ("newborn_late", 6, "household", 5),  # G, enrolled 212 days after birth
            ("settled_after_death", 1, "death", 1),  # S1, S2 (S0 is on the day)
            ("student_unenrolled", 10, "education", 1),
            ("two_areas", 7, "registry", None),
            ("two_records", 9, "household", 7),  # I2: I1's household row is row 7
            ("two_schemes", 2, "employment", 1),  # H is an employee: not two schemes
            ("uninsured", 3, "household", 2),
            ("uninsured", 10, "household", 8),
            ("uninsured", None, "household", 9),  # OUT
            ("uninsured", None, "household", 10),  # BABY
        ],
        key=repr,
    )
    by_kind = {r["kind"]: r for r in c.findings.to_pylist()}  # type: ignore[attr-defined]
    assert by_kind["settled_after_death"]["detail"] == (
        "2 settled after death: S1 on 2025-07-02, S2 on 2025-08-01"
    )
    assert by_kind["dead_enrolled"]["on_date"] == D(2025, 6, 30)
    assert by_kind["aid_wrong_class"]["detail"] == (
        "civil affairs: tekun from 2025-01-01; registry: dibao"
    )


def test_matching_and_unmatched_records(tmp_path: Path) -> None:
    c = run(tmp_path)
    assert c.matched == {  # type: ignore[attr-defined]
        "household": 8,
        "aid": 3,
        "death": 1,
        "employment": 2,
        "education": 1,
    }
    un = c.unmatched.to_pylist()  # type: ignore[attr-defined]
    assert [(u["source"], u["row_no"], u["reason"]) for u in un] == [
        ("household", 9, "id not in the registry"),
        ("household", 10, "id not in the registry"),
        ("household", 11, "id malformed"),
    ]
    assert un[2]["id_no"] == swap(C, 8) and un[2]["birth_date"] == D(1990, 5, 5)


def test_linked_pairs_count_as_matches(tmp_path: Path) -> None:
    read = {k: read_department(k, p) for k, p in files(tmp_path).items()}  # type: ignore[arg-type]
    linked = pa.table(
        {
            "source": ["household"],
            "row_no": pa.array([11], pa.int64()),
            "person": pa.array([3], pa.int64()),
        }
    )
    c = compare(read, registry(), ON, area=AREA, newborn_window_days=90, linked=linked)
    assert c.matched["household"] == 9
    assert [u["row_no"] for u in c.unmatched.to_pylist()] == [9, 10]
    assert ("uninsured", 3, "household", 11) in {
        (r["kind"], r["person"], r["source"], r["row_no"]) for r in c.findings.to_pylist()
    }


def test_coverage_by_dimension(tmp_path: Path) -> None:
    c = run(tmp_path)
    rows = {
        (r["dimension"], r["value"]): (r["population"], r["insured"])
        for r in c.coverage.to_pylist()
    }  # type: ignore[attr-defined]
    # living household rows with a usable ID: 8 registry people + OUT + BABY (A is dead,
    # the malformed ID is unknown); insured: B E F G H I1 = 6 (C ended, K never, OUT, BABY)
    assert rows[("overall", "all")] == (10, 6)
    assert rows[("group", "dibao")] == (1, 1)  # F: the aid file's class
    assert rows[("group", "tekun")] == (1, 1)  # E
    assert rows[("group", "low_income")] == (2, 2)
    assert rows[("age_band", "0-6")] == (2, 1)  # G insured, BABY not
    assert rows[("sex", "F")] == (2, 2)


def test_a_row_firing_twice_is_one_finding(tmp_path: Path) -> None:
    reg = registry()
    extra = _table([(1, "resident", "360200", D(2012, 1, 1), None)], ENROLMENTS)
    reg.enrolments = pa.concat_tables([reg.enrolments, extra])
    read = {k: read_department(k, p) for k, p in files(tmp_path).items()}  # type: ignore[arg-type]
    c = compare(read, reg, ON, area=AREA, newborn_window_days=90)
    dead = [r for r in c.findings.to_pylist() if r["kind"] == "dead_enrolled"]
    assert [r["detail"] for r in dead] == [
        "resident enrolment in 360100 from 2010-01-01, open; "
        "resident enrolment in 360200 from 2012-01-01, open"
    ]
