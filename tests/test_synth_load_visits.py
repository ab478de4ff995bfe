"""A generated area's claims loaded as visits (``yibao.services.area_load.visits``), on SQLite
and PostgreSQL: the visits, their diagnoses, procedures and discharge, and their fee lines with
the classification the online upload (2204) stores."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403
from yibao.domain.fees import FeeLine
from yibao.kernel.catalogue import compile_catalogue
from yibao.kernel.classify import (
    CLASSES,
    REASONS,
    SEX_FEMALE,
    SEX_MALE,
    Lines,
    classify_lines,
)
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import shipped_items
from yibao.services import fees
from yibao.services.area_load import AreaLoadRefused, load_area, visits
from yibao.services.fees.classify import VisitLines, catalogue_rows, classify_visits
from yibao.services.fees.source import catalogue_for
from yibao.store.uow import UnitOfWork
from yibao.synth import SynthConfig, generate

REGION, YEAR, PERSONS, CHUNK = "360100", 2025, 300, 120
TABLES = ("visits", "visit_diagnoses", "visit_procedures", "fee_lines")


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area")
    generate(out, SynthConfig(REGION, PERSONS, YEAR, seed=11, chunk_size=CHUNK))
    return out


def _all(area: Path, kind: str) -> pa.Table:
    return pa.concat_tables(
        [pq.read_table(f) for f in sorted((area / kind).glob("part-*.parquet"))]
    )


def _mdtrt(claim_id: int) -> str:
    return f"S{REGION}{YEAR}{claim_id}"


def _day(value: object) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_visits_diagnoses_procedures_and_discharge(engine: Engine, area: Path) -> None:
    report = load_area(area, engine, migrate=False)
    claims = _all(area, "claims")
    by_type = Counter(claims.column("med_type").to_pylist())
    assert report.visits == dict(by_type) and sum(by_type.values()) == claims.num_rows
    with engine.connect() as conn:
        stored: Counter[str] = Counter(
            dict(
                conn.execute(text("SELECT med_type, COUNT(*) FROM visits GROUP BY med_type")).all()
            )
        )
        visits = {
            r.mdtrt_id: r
            for r in conn.execute(
                text(
                    "SELECT v.id, v.mdtrt_id, p.national_id, v.fixmedins_code, v.med_type, "
                    "v.level, v.cross_region, v.begin_date, v.end_date, v.status, "
                    "v.discharge_way FROM visits v JOIN persons p ON p.id = v.person_id"
                )
            )
        }
        diagnoses: dict[int, list[tuple[int, str, str]]] = {}
        for visit_id, seq, code, diag_type in conn.execute(
            text("SELECT visit_id, seq, code, diag_type FROM visit_diagnoses")
        ):
            diagnoses.setdefault(visit_id, []).append((seq, code, diag_type))
        procedures: dict[int, list[tuple[int, str, Any, bool]]] = {}
        for visit_id, seq, code, on, main in conn.execute(
            text("SELECT visit_id, seq, code, performed_on, main FROM visit_procedures")
        ):
            procedures.setdefault(visit_id, []).append((seq, code, on, bool(main)))
    assert stored == by_type
    persons = _all(area, "persons")
    nid_of = dict(
        zip(
            persons.column("psn_no").to_pylist(),
            persons.column("national_id").to_pylist(),
            strict=True,
        )
    )
    assert report.diagnoses == sum(len(d) for d in claims.column("diagnoses").to_pylist())
    discharged = 0
    for c in claims.to_pylist():
        v = visits[_mdtrt(c["claim_id"])]
        assert (v.national_id, v.fixmedins_code, v.med_type, v.level) == (
            nid_of[c["psn_no"]],
            c["fixmedins_code"],
            c["med_type"],
            c["level"],
        )
        assert v.cross_region == (c["cross_region"] or "none") and v.status == "registered"
        if c["admit_date"] is not None:  # an admission: admitted, discharged, 离院方式
            discharged += 1
            assert (_day(v.begin_date), _day(v.end_date)) == (c["admit_date"], c["date"])
            assert v.discharge_way == c["discharge_status"] is not None
        else:
            assert (_day(v.begin_date), v.end_date, v.discharge_way) == (c["date"], None, None)
        # the principal diagnosis first, all Western medicine (diag_type 1)
        got = sorted(diagnoses.get(v.id, []))
        assert [d[1] for d in got] == c["diagnoses"]
        assert [d[0] for d in got] == list(range(1, len(got) + 1))
        assert all(d[2] == "1" for d in got)
        if c["diagnosis"] is not None:
            assert got[0][1] == c["diagnosis"]
        ops = sorted(procedures.get(v.id, []))
        assert [p[1] for p in ops] == c["procedures"]
        assert [p[3] for p in ops] == [i == 0 for i in range(len(ops))]
        assert all(p[2] is None for p in ops)
    assert discharged == by_type["inpatient"] + by_type["maternity"] > 0
    assert report.procedures > 0


def _stored_lines(engine: Engine) -> dict[tuple[str, str], Any]:
    with engine.connect() as conn:
        return {
            (r.mdtrt_id, r.feedetl_sn): r
            for r in conn.execute(
                text(
                    "SELECT v.mdtrt_id, l.id, l.visit_id, l.feedetl_sn, l.code, l.quantity, "
                    "l.unit_price, l.amount, l.fee_date, l.approval, l.status, l.item_class, "
                    "l.fully_self_paid, l.over_limit, l.in_scope, l.category_b, l.reason "
                    "FROM fee_lines l JOIN visits v ON v.id = l.visit_id"
                )
            )
        }


def test_lines_stored_as_the_parquet_with_their_classification(
    engine: Engine, area: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(visits, "LINE_SLICE", 700)  # several batches of whole visits a part
    report = load_area(area, engine, migrate=False)
    lines = _all(area, "lines")
    claims = _all(area, "claims")
    stored = _stored_lines(engine)
    assert report.lines == lines.num_rows == len(stored) > 5000
    persons = _all(area, "persons")
    who = {
        p["psn_no"]: (p["sex"], p["birth_date"])
        for p in persons.select(["psn_no", "sex", "birth_date"]).to_pylist()
    }
    claim_of = {c["claim_id"]: c for c in claims.to_pylist()}
    # the classification: classify_lines over the shipped catalogue, the patient's sex and age
    # on each fee date, the visit's level, the lines in upload order
    _, items = shipped_items(REGION)
    table = compile_catalogue(items)
    rows = lines.to_pylist()
    ids = table.code_ids(np.array([r["code"] for r in rows]))
    days = np.array([epoch_days(r["fee_date"]) for r in rows], dtype=np.int64)
    cat_rows = table.rows(ids, days)
    assert (cat_rows >= 0).all()

    def age(birth: dt.date, on: dt.date) -> int:
        return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))

    claim_ix = {cid: i for i, cid in enumerate(claim_of)}
    found = classify_lines(
        table,
        Lines(
            visit=np.array([claim_ix[r["claim_id"]] for r in rows], dtype=np.int64),
            row=cat_rows,
            day=days,
            quantity=np.array([r["quantity"] for r in rows], dtype=np.int64),
            unit_price=np.array([r["unit_price"] for r in rows], dtype=np.int64),
            sex=np.array(
                [
                    SEX_MALE if who[claim_of[r["claim_id"]]["psn_no"]][0] == "M" else SEX_FEMALE
                    for r in rows
                ],
                dtype=np.int64,
            ),
            age=np.array(
                [age(who[claim_of[r["claim_id"]]["psn_no"]][1], r["fee_date"]) for r in rows],
                dtype=np.int64,
            ),
            level=np.array([claim_of[r["claim_id"]]["level"] for r in rows], dtype=np.int64),
            approved=np.array([r["approved"] for r in rows], dtype=np.bool_),
        ),
    )
    approvals: Counter[str] = Counter()
    previous: dict[int, int] = {}
    for i, r in enumerate(rows):
        s = stored[(_mdtrt(r["claim_id"]), str(r["feedetl_sn"]))]
        assert (s.code, s.quantity, s.unit_price, s.amount, _day(s.fee_date), s.status) == (
            r["code"],
            r["quantity"],
            r["unit_price"],
            r["amount"],
            r["fee_date"],
            "live",
        )
        assert (
            s.item_class,
            s.fully_self_paid,
            s.over_limit,
            s.in_scope,
            s.category_b,
            s.reason,
        ) == (
            CLASSES[int(table.item_class[cat_rows[i]])].value,
            found.fully_self_paid[i],
            found.over_limit[i],
            found.in_scope[i],
            found.category_b[i],
            REASONS[int(found.reason[i])].value,
        )
        # hosp_appr_flag: 1 approved / 2 not for an item restricted to indications, else 0
        needs = bool(table.needs_approval[cat_rows[i]])
        assert s.approval == ("1" if r["approved"] else "2") if needs else s.approval == "0"
        approvals[s.approval] += 1
        # upload order: ids ascending within a visit as the Parquet's line numbers
        assert s.id > previous.get(s.visit_id, 0)
        previous[s.visit_id] = s.id
    assert approvals["0"] > 0 and approvals["1"] + approvals["2"] > 0
    reasons = Counter(s.reason for s in stored.values())
    assert reasons["class_c"] > 0 and reasons["class_b"] > 0 and reasons["class_a"] > 0
    # the lines sum to the claims' totals; the report sums them
    assert report.line_amounts[0] == sum(claims.column("total").to_pylist())
    assert report.line_amounts[1:] == [
        int(found.fully_self_paid.sum()),
        int(found.over_limit.sum()),
        int(found.category_b.sum()),
    ]


def test_the_stored_classification_is_what_2204_computes(engine: Engine, area: Path) -> None:
    """Each loaded visit's lines classified by the online path (``services.fees.classify``,
    the area's catalogue as 2204 reads it, the stored visit and person) as stored."""
    load_area(area, engine, migrate=False)
    uow = UnitOfWork.for_engine(engine)
    checked = 0
    with uow:
        table = catalogue_for(uow, REGION)
        with engine.connect() as conn:
            mdtrt_ids = [r[0] for r in conn.execute(text("SELECT mdtrt_id FROM visits"))]
        for mdtrt_id in mdtrt_ids[:400]:
            visit = uow.settlements.visit(mdtrt_id)
            assert visit is not None and visit.id is not None
            lines = uow.fees.lines(visit.id)
            person = uow.persons.get(visit.person_id)
            rows = catalogue_rows(table, lines)
            ((again, _),) = classify_visits(table, [VisitLines(visit, person, lines, rows)])
            assert again == [line.classes for line in lines], mdtrt_id
            checked += len(lines)
    assert checked > 1000


def test_5204_reads_a_loaded_visit(engine: Engine, area: Path) -> None:
    load_area(area, engine, migrate=False)
    claims = _all(area, "claims")
    lines = _all(area, "lines")
    admission = next(c for c in claims.to_pylist() if c["med_type"] == "inpatient")
    mdtrt_id = _mdtrt(admission["claim_id"])
    uow = UnitOfWork.for_engine(engine)
    record = fees.visit_record(uow, mdtrt_id, institution=admission["fixmedins_code"])
    assert [d.code for d in record.diagnoses] == admission["diagnoses"]
    assert record.diagnoses[0].principal and not any(d.principal for d in record.diagnoses[1:])
    assert [p.code for p in record.procedures] == admission["procedures"]
    assert record.visit.end_date == admission["date"]
    assert record.visit.discharge_way == admission["discharge_status"]
    _, got = fees.visit_lines(uow, mdtrt_id, institution=admission["fixmedins_code"])
    mine = lines.filter(pc.equal(lines.column("claim_id"), admission["claim_id"])).to_pylist()
    assert [(line.feedetl_sn, line.code, line.amount) for line in got] == [
        (str(r["feedetl_sn"]), r["code"], r["amount"]) for r in mine
    ]
    assert all(isinstance(line, FeeLine) and line.classes is not None for line in got)
    assert sum(line.amount for line in got) == admission["total"]
    with pytest.raises(Exception, match="visit"):  # another institution's visit
        fees.visit_lines(uow, mdtrt_id, institution="H36010099999")


def test_loading_twice_loads_no_visit_twice(engine: Engine, area: Path) -> None:
    load_area(area, engine, migrate=False)
    counts = [_count(engine, t) for t in TABLES]
    again = load_area(area, engine, migrate=False)
    assert again.parts_skipped == 3 and again.lines == 0 and again.visits == {}
    assert [_count(engine, t) for t in TABLES] == counts


def test_without_lines(engine: Engine, area: Path) -> None:
    report = load_area(area, engine, migrate=False, lines=False)
    assert sum(report.visits.values()) == _count(engine, "visits") > 0
    assert report.lines == 0 and _count(engine, "fee_lines") == 0
    assert _count(engine, "visit_diagnoses") == report.diagnoses > 0


def _broken(area: Path, tmp: Path, part: str, change: Any) -> Path:
    copy = tmp / "broken"
    shutil.copytree(area, copy)
    path = copy / "lines" / part
    pq.write_table(change(pq.read_table(path)), path)
    return copy


def test_a_bad_line_refuses_its_part_naming_the_line(
    engine: Engine, area: Path, tmp_path: Path
) -> None:
    def unknown_code(t: pa.Table) -> pa.Table:
        codes = t.column("code").to_pylist()
        codes[5] = "XX0000000000"
        return t.set_column(t.column_names.index("code"), "code", pa.array(codes))

    broken = _broken(area, tmp_path, "part-00001.parquet", unknown_code)
    sixth = pq.read_table(broken / "lines" / "part-00001.parquet").slice(5, 1).to_pylist()[0]
    with pytest.raises(
        AreaLoadRefused,
        match=rf"part-00001.parquet: claim {sixth['claim_id']} line {sixth['feedetl_sn']}: "
        r"code: XX0000000000 is not in the catalogue of 360100",
    ):
        load_area(broken, engine, migrate=False)
    # the first part is in, nothing of the second
    assert _count(engine, "persons") == CHUNK
    first = pq.read_table(area / "claims" / "part-00000.parquet").num_rows
    assert _count(engine, "visits") == first


def test_an_amount_not_quantity_times_price_is_refused(
    engine: Engine, area: Path, tmp_path: Path
) -> None:
    def bump(t: pa.Table) -> pa.Table:
        amounts = t.column("amount").to_pylist()
        amounts[0] += 1
        return t.set_column(t.column_names.index("amount"), "amount", pa.array(amounts))

    broken = _broken(area, tmp_path, "part-00000.parquet", bump)
    with pytest.raises(AreaLoadRefused, match=r"amount: is not quantity × unit_price"):
        load_area(broken, engine, migrate=False)
    assert [_count(engine, t) for t in ("persons", *TABLES)] == [0, 0, 0, 0, 0]


def test_cli_no_lines(area: Path, tmp_path: Path) -> None:
    from yibao.cli import app

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    result = CliRunner().invoke(
        app, ["synth", "load", str(area), "--db", url, "--json", "--no-lines"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["lines"]["count"] == 0 and sum(data["visits"].values()) > 0
    shown = CliRunner().invoke(app, ["synth", "load", str(area), "--db", url])
    assert shown.exit_code == 0 and "already loaded" in shown.output


def test_the_claims_of_an_invalid_person_are_left_out(
    engine: Engine, area: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "invalid"
    shutil.copytree(area, copy)
    path = copy / "persons" / "part-00000.parquet"
    persons = pq.read_table(path)
    claims = pq.read_table(copy / "claims" / "part-00000.parquet").to_pylist()
    psn_no = next(c["psn_no"] for c in claims)  # a person with claims
    ids = persons.column("national_id").to_pylist()
    at = persons.column("psn_no").to_pylist().index(psn_no)
    ids[at] = ids[at][:17] + ("0" if ids[at][17] != "0" else "1")  # a wrong check digit
    column = persons.column_names.index("national_id")
    pq.write_table(persons.set_column(column, "national_id", pa.array(ids)), path)
    report = load_area(copy, engine, migrate=False)
    theirs = [c for c in claims if c["psn_no"] == psn_no]
    assert report.invalid == 1 and report.claims_skipped == len(theirs) > 0
    total = _all(area, "claims").num_rows
    assert _count(engine, "visits") == sum(report.visits.values()) == total - len(theirs)
    lines = _all(area, "lines")
    skipped = pc.is_in(lines.column("claim_id"), pa.array([c["claim_id"] for c in theirs]))
    assert _count(engine, "fee_lines") == report.lines == lines.num_rows - pc.sum(skipped).as_py()


def test_an_area_without_the_clinical_columns_is_refused(
    engine: Engine, area: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "old"
    shutil.copytree(area, copy)
    path = copy / "claims" / "part-00000.parquet"
    pq.write_table(pq.read_table(path).drop_columns(["diagnoses", "procedures"]), path)
    with pytest.raises(AreaLoadRefused, match="has no column diagnoses, procedures"):
        load_area(copy, engine, migrate=False)
    assert _count(engine, "persons") == 0
