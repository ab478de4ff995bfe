"""A comparison against the store (SQLite and PostgreSQL): stored once per inputs, worklists,
and actions through the services, all or nothing and audited."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.compare.compare_support import AREA, ON, D, nid, write_csv
from tests.store_support import *  # noqa: F403
from yibao.cli import app
from yibao.services import enrolment, registry
from yibao.services.compare import actions
from yibao.services.compare.actions import ActionRefused
from yibao.services.compare.run import run_store
from yibao.store.compare_models import CompareActionRow, CompareFindingRow, CompareRunRow
from yibao.store.models import EnrolmentRow, PersonRow, SpecialGroupRow
from yibao.store.uow import UnitOfWork

DEAD = nid(21, D(1940, 1, 1))
UNINSURED = nid(23, D(1990, 1, 1))
AIDED = nid(25, D(1960, 1, 1))
NEW = nid(27, D(1992, 2, 2))  # in the household registry only


def setup_registry(uow: UnitOfWork) -> None:
    registry.add_person(uow, DEAD, "王老", region=AREA)
    registry.add_person(uow, UNINSURED, "李无", region=AREA)
    registry.add_person(uow, AIDED, "张助", region=AREA)
    enrolment.enrol(uow, DEAD, "resident", AREA, D(2020, 1, 1))
    enrolment.enrol(uow, AIDED, "resident", AREA, D(2020, 1, 1))
    registry.add_group(uow, AIDED, "dibao", D(2024, 1, 1))


def sources(tmp: Path) -> dict[str, Path]:
    household = [
        {"id_no": UNINSURED, "name": "李无", "sex": "M", "birth_date": "1990-01-01"},
        {"id_no": AIDED, "name": "张助", "sex": "M", "birth_date": "1960-01-01"},
        {
            "id_no": NEW,
            "name": "吴新",
            "sex": "M",
            "birth_date": "1992-02-02",
            "household_no": "H9",
            "address": "东湖区9号",
        },
    ]
    return {
        "household": write_csv(tmp / "household.csv", "household", household),
        "death": write_csv(
            tmp / "death.csv",
            "death",
            [{"id_no": DEAD, "name": "王老", "death_date": "2025-05-31"}],
        ),
        "aid": write_csv(
            tmp / "aid.csv",
            "aid",
            [{"id_no": AIDED, "name": "张助", "aid_class": "tekun", "valid_from": "2025-07-01"}],
        ),
    }


def _ids(uow: UnitOfWork, run_id: int) -> dict[tuple[str, str | None], int]:
    _, found = actions.findings(uow, run_id, limit=1000)
    return {(f.kind, f.id_no): f.id for f in found}


def test_run_is_stored_once_and_actions_close_the_loop(uow: UnitOfWork, tmp_path: Path) -> None:
    setup_registry(uow)
    src = sources(tmp_path)
    first = run_store(uow, src, area=AREA, by="clerk1", on=ON)
    assert first.new and first.run_id is not None
    again = run_store(uow, src, area=AREA, by="clerk1", on=ON)
    assert not again.new and again.run_id == first.run_id and again.comparison is None
    with uow:
        assert uow.session.scalar(select(func.count()).select_from(CompareRunRow)) == 1
        assert uow.session.scalar(select(func.count()).select_from(CompareFindingRow)) == 4
    ids = _ids(uow, first.run_id)
    assert set(ids) == {
        ("dead_enrolled", DEAD),
        ("uninsured", UNINSURED),
        ("uninsured", NEW),
        ("aid_wrong_class", AIDED),
    }
    shown = actions.finding(uow, ids[("aid_wrong_class", AIDED)])
    assert shown.evidence["aid_class"] == "tekun" and shown.evidence["row_no"] == 1

    done = actions.act(
        uow,
        [ids[k] for k in sorted(ids)],
        "clerk2",
        on=D(2026, 1, 5),
    )
    assert [a.action for a in done] == ["set_aid_class", "end_enrolment", "enrol", "enrol"]
    with uow:
        s = uow.session
        dead = s.scalars(select(PersonRow).where(PersonRow.national_id == DEAD)).one()
        ended = s.scalars(select(EnrolmentRow).where(EnrolmentRow.person_id == dead.id)).one()
        assert (ended.status, ended.end_date) == ("terminated", D(2025, 5, 31))
        assert dead.died_on == D(2025, 5, 31)  # the registry's date of death, recorded too
        new = s.scalars(select(PersonRow).where(PersonRow.national_id == NEW)).one()
        assert new.region == AREA and new.name == "吴新"
        started = s.scalars(select(EnrolmentRow).where(EnrolmentRow.person_id == new.id)).one()
        assert (started.kind, started.start_date) == ("resident", D(2026, 1, 5))
        aided = s.scalars(select(PersonRow).where(PersonRow.national_id == AIDED)).one()
        groups = s.execute(
            select(SpecialGroupRow.kind, SpecialGroupRow.valid_from, SpecialGroupRow.valid_to)
            .where(SpecialGroupRow.person_id == aided.id)
            .order_by(SpecialGroupRow.valid_from)
        ).all()
        assert [tuple(g) for g in groups] == [
            ("dibao", D(2024, 1, 1), D(2025, 6, 30)),
            ("tekun", D(2025, 7, 1), None),
        ]
        audit = s.execute(select(CompareActionRow.actor, CompareActionRow.action)).all()
        assert sorted(tuple(a) for a in audit) == sorted([("clerk2", a.action) for a in done])
    with pytest.raises(ActionRefused, match="already acted"):
        actions.act(uow, [ids[("uninsured", NEW)]], "clerk2")


def test_a_failing_action_applies_nothing(uow: UnitOfWork, tmp_path: Path) -> None:
    setup_registry(uow)
    report = run_store(uow, sources(tmp_path), area=AREA, by="clerk1", on=ON)
    assert report.run_id is not None
    ids = _ids(uow, report.run_id)
    # enrolling UNINSURED before the death is ended: then the dead person's enrolment
    # cannot end on the date of death because it was already terminated by hand
    enrolment.terminate(uow, DEAD, D(2025, 1, 31), "moved")
    batch = [ids[("uninsured", UNINSURED)], ids[("uninsured", NEW)], ids[("dead_enrolled", DEAD)]]
    with pytest.raises(ActionRefused, match=f"finding {batch[2]}: .*nothing applied"):
        actions.act(uow, batch, "clerk2", on=D(2026, 1, 5))
    with uow:
        s = uow.session
        assert s.scalars(select(PersonRow).where(PersonRow.national_id == NEW)).first() is None
        assert s.scalar(select(func.count()).select_from(CompareActionRow)) == 0
        statuses = set(s.scalars(select(CompareFindingRow.status)))
        assert statuses == {"open"}
        person = s.scalars(select(PersonRow).where(PersonRow.national_id == UNINSURED)).one()
        assert (
            s.scalars(select(EnrolmentRow).where(EnrolmentRow.person_id == person.id)).first()
            is None
        )


def test_cli_run_findings_act_coverage(db_url: str, tmp_path: Path) -> None:
    setup_registry(UnitOfWork.for_url(db_url))
    src = sources(tmp_path)
    args = [f"--source={k}={v}" for k, v in src.items()]
    runner = CliRunner()
    res = runner.invoke(
        app, ["compare", "run", *args, "--db", db_url, "--on", "2025-12-31", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["findings"] == {"uninsured": 2, "dead_enrolled": 1, "aid_wrong_class": 1}
    res = runner.invoke(
        app, ["compare", "findings", "--kind", "uninsured", "--db", db_url, "--json"]
    )
    listed = json.loads(res.stdout)["findings"]
    assert len(listed) == 2 and all("*" in f["id_no"] for f in listed)  # masked
    res = runner.invoke(
        app,
        [
            "compare",
            "act",
            str(listed[0]["id"]),
            "--db",
            db_url,
            "--operator",
            "clerk3",
            "--on",
            "2026-01-05",
        ],
    )
    assert res.exit_code == 0, res.output
    chart = tmp_path / "cov.png"
    res = runner.invoke(
        app, ["compare", "coverage", "--db", db_url, "--json", "--chart", str(chart)]
    )
    rows = {(r["dimension"], r["value"]): r for r in json.loads(res.stdout)["coverage"]}
    # living: UNINSURED, AIDED, NEW; insured on 2025-12-31: AIDED
    assert (rows["overall", "all"]["population"], rows["overall", "all"]["insured"]) == (3, 1)
    assert rows["overall", "all"]["meets"] is False and chart.stat().st_size > 1000
    bad = runner.invoke(app, ["compare", "run", "--source", "deaths=x.csv", "--db", db_url])
    assert bad.exit_code == 2 and "kind must be one of" in bad.output
