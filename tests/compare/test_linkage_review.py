"""The linkage review list on SQLite and PostgreSQL (services/compare/review.py): candidate
pairs stored with both sides' fields, a rerun adds none twice, confirm rejects the record's
other candidates, reject, every move audited, refused moves change nothing, the linked records
for the findings; the registry from the store; ``yibao compare-review`` end to end."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.compare.linkage_support import noisy_file
from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.errors import InvalidField, NotFound
from yibao.domain.linkage import PairStateError
from yibao.services import clock
from yibao.services import registry as registry_service
from yibao.services.compare import review
from yibao.services.compare.linkage import CANDIDATES_SCHEMA, FIELDS, Linkage, Thresholds
from yibao.store.uow import UnitOfWork

AREA = "360100"
CLERK = "clerk-wang"


def _records() -> pa.Table:
    return pa.table(
        {
            "source": ["household", "household", "aid"],
            "row_no": [7, 8, 3],
            "name": ["张玮", "李静", "王芳"],
            "sex": ["M", "F", "F"],
            "birth_date": ["1985-06-15", "1990-01-02", "1970-03-04"],
            "address": ["解放路1号", None, "人民路2号3栋"],
            "id_no": [None, "360426199001020028", None],
        }
    )


def _registry() -> pa.Table:
    return pa.table(
        {
            "psn_no": ["11", "12", "13", "14"],
            "name": ["张伟", "李静", "王芳", "王方"],
            "sex": ["M", "F", "F", "F"],
            "birth_date": ["1985-06-15", "1990-01-02", "1970-03-04", "1970-03-04"],
            "address": ["解放路1号2栋", "建设路5号", "人民路2号3栋101室", "人民路2号"],
            "id_no": [nid(1), "360426199001020082", nid(4), nid(6)],
        }
    )


def _linkage() -> Linkage:
    """Record household:7 → 11 auto; household:8 → 12 review; aid:3 → 13 or 14 review."""
    rows = [
        ("household", 7, "11", 14.0, 0.9995, "auto"),
        ("household", 8, "12", 6.0, 0.95, "review"),
        ("aid", 3, "13", 9.0, 0.97, "review"),
        ("aid", 3, "14", 7.5, 0.9, "review"),
    ]
    return Linkage(
        pa.Table.from_pylist(
            [
                {
                    "source": s,
                    "row_no": r,
                    "psn_no": p,
                    "match_weight": w,
                    "match_probability": prob,
                    **{f"gamma_{f}": i for i, f in enumerate(FIELDS)},
                    "status": st,
                }
                for s, r, p, w, prob, st in rows
            ],
            schema=CANDIDATES_SCHEMA,
        ),
        {},
    )


def _store(uow: UnitOfWork) -> list[review.PairView]:
    rows = review.pairs_of(_linkage(), _records(), _registry())
    with uow:
        from yibao.store.repositories.linkage import LinkageRepository

        assert LinkageRepository(uow.session).add_pairs(AREA, rows, "run", clock.now()) == 4
        uow.commit()
    return review.list_pairs(uow, area=AREA)


def test_pairs_stored_with_both_sides_and_levels(uow: UnitOfWork) -> None:
    pairs = _store(uow)
    assert [(p.source, p.row_no, p.psn_no, p.status) for p in pairs] == [
        ("aid", 3, "13", "review"),  # by record, best first
        ("aid", 3, "14", "review"),
        ("household", 7, "11", "auto"),
        ("household", 8, "12", "review"),
    ]
    zhang = pairs[2]
    assert zhang.record == {
        "name": "张玮",
        "sex": "M",
        "birth_date": "1985-06-15",
        "address": "解放路1号",
        "id_no": None,
    }
    assert zhang.person["name"] == "张伟" and zhang.person["id_no"] == nid(1)
    assert zhang.levels == {"name": 0, "birth_date": 1, "sex": 2, "address": 3, "id_no": 4}
    assert zhang.match_weight == 14.0 and zhang.match_probability == 0.9995
    trail = review.show(uow, zhang.id).actions
    assert [(a["status"], a["by"], a["detail"]) for a in trail] == [
        ("auto", "run", "match weight 14.00")
    ]
    # a rerun over the same records adds none, and leaves reviewed pairs as they are
    review.reject(uow, zhang.id, CLERK, "not him")
    rows = review.pairs_of(_linkage(), _records(), _registry())
    with uow:
        from yibao.store.repositories.linkage import LinkageRepository

        assert LinkageRepository(uow.session).add_pairs(AREA, rows, "run", clock.now()) == 0
        uow.commit()
    assert review.show(uow, zhang.id).status == "rejected"


def test_confirm_rejects_the_records_other_candidates(uow: UnitOfWork) -> None:
    pairs = {(p.row_no, p.psn_no): p for p in _store(uow)}
    first, rival = pairs[(3, "13")], pairs[(3, "14")]
    got = review.confirm(uow, first.id, CLERK, "same address, the flat left out")
    assert got.status == "confirmed"
    assert [(a["status"], a["by"], a["detail"]) for a in got.actions][-1] == (
        "confirmed",
        CLERK,
        "same address, the flat left out",
    )
    other = review.show(uow, rival.id)
    assert other.status == "rejected"
    assert other.actions[-1]["detail"] == f"pair {first.id} confirmed for this record"
    # the rival cannot be confirmed now, nor the confirmed one rejected or confirmed again
    for move in (review.confirm, review.reject):
        with pytest.raises(PairStateError):
            move(uow, rival.id, CLERK)
    with pytest.raises(PairStateError, match="confirmed to confirmed"):
        review.confirm(uow, first.id, CLERK)
    # confirmed and auto pairs are the linked records, which the findings take as matched
    linked = review.linked(uow, AREA).to_pylist()
    assert linked == [
        {"source": "aid", "row_no": 3, "psn_no": "13", "status": "confirmed"},
        {"source": "household", "row_no": 7, "psn_no": "11", "status": "auto"},
    ]
    assert review.linked(uow, AREA, source="aid").num_rows == 1
    assert review.linked(uow, "110101").num_rows == 0


def test_refused_moves_change_nothing(uow: UnitOfWork) -> None:
    pairs = {(p.row_no, p.psn_no): p for p in _store(uow)}
    auto = pairs[(7, "11")]
    with pytest.raises(PairStateError, match="auto to confirmed"):
        review.confirm(uow, auto.id, CLERK)
    with pytest.raises(InvalidField, match="by"):
        review.reject(uow, auto.id, "  ")
    with pytest.raises(InvalidField, match="note"):
        review.reject(uow, auto.id, CLERK, "x" * 501)
    with pytest.raises(NotFound):
        review.confirm(uow, 999_999, CLERK)
    with pytest.raises(InvalidField, match="status"):
        review.list_pairs(uow, status="maybe")
    again = review.show(uow, auto.id)
    assert again.status == "auto" and len(again.actions) == 1
    assert review.reject(uow, auto.id, CLERK).status == "rejected"
    assert review.linked(uow, AREA).num_rows == 0


def test_registry_from_the_store_and_from_an_area(uow: UnitOfWork, tmp_path: Path) -> None:
    registry_service.add_person(
        uow, nid(1), "张伟", household="H1", region=AREA, address="解放路1号2栋"
    )
    registry_service.add_person(uow, nid(3, dt.date(1990, 1, 2)), "李强")
    got = review.registry_from_store(uow).to_pylist()
    assert [(r["name"], r["sex"], r["birth_date"], r["address"], r["id_no"]) for r in got] == [
        ("张伟", "M", "1985-06-15", "解放路1号2栋", nid(1)),
        ("李强", "M", "1990-01-02", None, nid(3, dt.date(1990, 1, 2))),
    ]
    assert review.registry_from_store(uow, AREA).num_rows == 1
    pq.write_table(
        pa.table(
            {
                "psn_no": pa.array([5, 6], pa.int64()),
                "national_id": [nid(1), nid(2)],
                "name": ["张伟", "李娜"],
                "sex": ["M", "F"],
                "birth_date": pa.array([dt.date(1985, 6, 15)] * 2, pa.date32()),
            }
        ),
        tmp_path / "persons.parquet",
    )
    area = review.registry_from_area(tmp_path).to_pylist()
    assert area[1] == {
        "psn_no": "6",
        "name": "李娜",
        "sex": "F",
        "birth_date": "1985-06-15",
        "address": None,
        "id_no": nid(2),
    }
    with pytest.raises(InvalidField, match="registry"):
        review.registry_from_area(tmp_path / "nowhere")


def test_cli_link_list_confirm_reject(db_url: str, uow: UnitOfWork, tmp_path: Path) -> None:
    from yibao.cli import app

    records, registry, truth = noisy_file(persons=600, linked=120, strangers=20, seed=5)
    pq.write_table(records, tmp_path / "unmatched.parquet")
    pq.write_table(
        registry.rename_columns(["psn_no", "name", "sex", "birth_date", "address", "national_id"]),
        tmp_path / "persons.parquet",
    )
    run = CliRunner().invoke
    db = ["--db", db_url]
    linked = run(
        app,
        [
            "compare-review", "link", "--records", str(tmp_path / "unmatched.parquet"),
            "--area", AREA, "--registry", str(tmp_path), *db, "--operator", "batch", "--json",
        ],
    )  # fmt: skip
    assert linked.exit_code == 0, linked.output
    pairs = review.list_pairs(uow, area=AREA)
    auto = [p for p in pairs if p.status == "auto"]
    assert len(auto) >= 0.9 * 120 and all(truth[p.row_no] == p.psn_no for p in auto)
    listed = run(app, ["compare-review", "list", "--status", "review", *db])
    assert listed.exit_code == 0, listed.output
    assert "张" not in listed.output or "*" in listed.output  # names masked
    todo = [p for p in pairs if p.status == "review"]
    assert todo, "the noisy file leaves some pairs for review"
    right = next(p for p in todo if truth[p.row_no] == p.psn_no)
    ok = run(app, ["compare-review", "confirm", str(right.id), *db, "--operator", CLERK])
    assert ok.exit_code == 0, ok.output
    shown = run(app, ["compare-review", "show", str(right.id), *db, "--json"])
    assert '"confirmed"' in shown.output and CLERK in shown.output
    again = run(app, ["compare-review", "reject", str(right.id), *db])
    assert again.exit_code == 2 and "confirmed to rejected" in again.output
    bad = run(
        app,
        ["compare-review", "link", "--records", str(tmp_path / "none.csv"), "--area", AREA, *db],
    )
    assert bad.exit_code == 2
    # a rerun stores nothing twice
    rerun = run(
        app,
        [
            "compare-review", "link", "--records", str(tmp_path / "unmatched.parquet"),
            "--area", AREA, "--registry", str(tmp_path), *db, "--json",
        ],
    )  # fmt: skip
    assert rerun.exit_code == 0 and '"added": 0' in rerun.output


def test_thresholds_are_the_areas(uow: UnitOfWork) -> None:
    records, registry, _ = noisy_file(persons=300, linked=40, strangers=5, seed=9)
    strict = review.link_and_store(
        uow, AREA, records, registry, "batch", limits=Thresholds(Decimal("0.999"), Decimal("0.9"))
    )
    assert strict.added == strict.auto + strict.review
    with pytest.raises(InvalidField, match="area"):
        review.link_and_store(uow, "36042", records, registry, "batch")
