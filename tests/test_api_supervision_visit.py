"""The rules over a visit and the person's other visits online (2206 warns, 2207 refuses), on
SQLite and PostgreSQL: settlement after the registry's date of death, a stay over its group's
limit, a split admission, the visit frequency. Each a case that fires and a near miss that
does not; a refusal stores nothing (docs/supervision.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, Inst
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.test_api_fees import employee, line
from tests.test_api_supervision import _stored
from yibao.domain.errors import InvalidField
from yibao.policy import params
from yibao.services import registry
from yibao.store.repositories import ApiRepository
from yibao.store.uow import UnitOfWork

pytestmark = pytest.mark.usefixtures("test_catalogue")


def _region(folder: Path, rules: dict[str, str], **supervision: Any) -> None:
    """A bureau's 360100 file setting the actions of ``rules`` (and other supervision
    parameters)."""
    doc = {
        "region": "360100",
        "name": "Nanchang (a bureau's file)",
        "parent": "360000",
        "parameters": {
            "supervision": {
                "rules": {r: {"action": a, "severity": "high"} for r, a in rules.items()},
                **supervision,
            }
        },
    }
    (folder / "360100.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))


def _visit(
    api: Api, inst: Inst, who: str, begin: str, diag: str | None, med_type: str = "inpatient"
) -> str:
    data: dict[str, Any] = {"certno": who, "med_type": med_type, "begntime": begin}
    if diag:
        data["diseinfo"] = [{"diag_code": diag, "maindiag_flag": "1"}]
    out = api.tx(inst, "2201", data)
    assert out["infcode"] == 0, out
    mdtrt_id = str(out["output"]["mdtrt_id"])
    bill = [line("1", "001101000010000", "1", "100.00", begin)]
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill})["infcode"] == 0
    return mdtrt_id


def _discharge(api: Api, inst: Inst, mdtrt_id: str, day: str) -> None:
    out = api.tx(inst, "2402", {"mdtrt_id": mdtrt_id, "dscg_date": day, "dscg_way": "1"})
    assert out["infcode"] == 0, out


def _warned(api: Api, inst: Inst, body: dict[str, Any]) -> list[tuple[str, str]]:
    pre = api.tx(inst, "2206", body)
    assert pre["infcode"] == 0, pre
    return [(w["rule"], w["action"]) for w in pre["output"]["warnings"] if w["feedetl_sn"] is None]


# (rule, the second visit's admission and settlement days, its diagnosis, fires)
SPLIT = [
    ("split_admission", "2025-03-15", "2025-03-20", "I21.000", True),  # 10 days after, same
    ("split_admission", "2025-03-21", "2025-03-25", "I21.000", False),  # 16 days: near miss
    ("split_admission", "2025-03-15", "2025-03-20", "J18.900", False),  # another diagnosis
]


@pytest.mark.parametrize(("rule", "admit", "day", "diag", "fires"), SPLIT)
def test_split_admission_online(
    api: Api,
    uow: UnitOfWork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    rule: str,
    admit: str,
    day: str,
    diag: str,
    fires: bool,
) -> None:
    """A first admission for I21 from 1 to 5 March; a second one admitted ``admit``: within
    the 15 days for the same principal diagnosis it is refused at 2207 naming the rule and the
    earlier visit, and 2206 warns; a near miss settles."""
    _region(tmp_path, {rule: "refuse"})
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    first = _visit(api, inst, who, "2025-03-01", "I21.000")
    _discharge(api, inst, first, "2025-03-05")
    settled = api.tx(inst, "2207", {"certno": who, "mdtrt_id": first, "date": "2025-03-05"})
    assert settled["infcode"] == 0, settled
    second = _visit(api, inst, who, admit, diag)
    body = {"certno": who, "mdtrt_id": second, "date": day}
    assert _warned(api, inst, body) == ([(rule, "refuse")] if fires else [])
    before = _stored(api)
    out = api.tx(inst, "2207", body)
    if fires:
        assert out["infcode"] == 3002, out
        assert f"supervision rule {rule}" in out["err_msg"]
        assert f"10 day(s) after visit {first} was discharged" in out["err_msg"]
        assert _stored(api) == before
    else:
        assert out["infcode"] == 0, out


# (diagnosis, admission day, settlement day, fires): H25 is limited to 15 days, the default 60
LONG = [
    ("H25.900", "2025-03-01", "2025-03-17", True),  # 16 days
    ("H25.900", "2025-03-01", "2025-03-16", False),  # 15 days: at the limit
    ("I21.000", "2025-03-01", "2025-03-17", False),  # 16 days of the default 60
    ("I21.000", "2025-03-01", "2025-05-01", True),  # 61 days
]


@pytest.mark.parametrize(("diag", "admit", "day", "fires"), LONG)
def test_long_stay_online(
    api: Api,
    uow: UnitOfWork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    diag: str,
    admit: str,
    day: str,
    fires: bool,
) -> None:
    """long_stay switched to warn: 2206 warns a stay over its diagnosis's limit and 2207
    settles; switched to refuse, 2207 refuses it naming the stay and the limit."""
    _region(tmp_path, {"long_stay": "warn"})
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = _visit(api, inst, who, admit, diag)
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": day}
    assert _warned(api, inst, body) == ([("long_stay", "warn")] if fires else [])
    _region(tmp_path, {"long_stay": "refuse"})
    params._read_cached.cache_clear()  # the file changed within the mtime's resolution
    from yibao.services.common import _policy_for

    _policy_for.cache_clear()
    out = api.tx(inst, "2207", body)
    if fires:
        assert out["infcode"] == 3002, out
        assert (
            "supervision rule long_stay" in out["err_msg"] and "above the limit" in out["err_msg"]
        )
    else:
        assert out["infcode"] == 0, out


@pytest.mark.parametrize(("earlier", "fires"), [(2, True), (1, False)])
def test_visit_frequency_online(
    api: Api,
    uow: UnitOfWork,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    earlier: int,
    fires: bool,
) -> None:
    """At most 2 visits in 30 days: a third visit's 2207 is refused; a second one settles. A
    visit 30 days before (the window is the 30 days ending on the visit) does not count."""
    _region(tmp_path, {"visit_frequency": "refuse"}, frequency={"window_days": 30, "max_visits": 2})
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    _visit(api, inst, who, "2025-04-09", None, "outpatient")  # 30 days before: outside
    for k in range(earlier):
        _visit(api, inst, who, f"2025-05-0{k + 1}", None, "outpatient")
    mdtrt_id = _visit(api, inst, who, "2025-05-09", None, "outpatient")
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-09"}
    out = api.tx(inst, "2207", body)
    if fires:
        assert out["infcode"] == 3002, out
        assert "visit_frequency" in out["err_msg"] and "3 visits in 30 days" in out["err_msg"]
    else:
        assert out["infcode"] == 0, out


@pytest.mark.parametrize(("day", "fires"), [("2025-05-04", True), ("2025-05-03", False)])
def test_settlement_after_death_is_refused(
    api: Api, uow: UnitOfWork, day: str, fires: bool
) -> None:
    """The registry records a death on 3 May (national catalogue: dead_or_uninsured refuses):
    a 2207 dated the day after is refused naming the rule and nothing is stored; 2206 warns;
    one dated the day of death (the last stay's discharge) settles."""
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = _visit(api, inst, who, "2025-05-01", "I21.000")
    registry.record_death(uow, who, dt.date(2025, 5, 3), actor="cli:test")
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": day}
    assert _warned(api, inst, body) == ([("dead_or_uninsured", "refuse")] if fires else [])
    before = _stored(api)
    out = api.tx(inst, "2207", body)
    if fires:
        assert out["infcode"] == 3002, out
        assert "supervision rule dead_or_uninsured" in out["err_msg"]
        assert "after the person's death on 2025-05-03" in out["err_msg"]
        assert _stored(api) == before
    else:
        assert out["infcode"] == 0, out


def test_a_warning_death_rule_settles(
    api: Api, uow: UnitOfWork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A region making dead_or_uninsured warn: 2207 after the death settles, 2206 warns."""
    _region(tmp_path, {"dead_or_uninsured": "warn"})
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = _visit(api, inst, who, "2025-05-01", None, "outpatient")
    registry.record_death(uow, who, dt.date(2025, 5, 1), actor="cli:test")
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-02"}
    assert _warned(api, inst, body) == [("dead_or_uninsured", "warn")]
    assert api.tx(inst, "2207", body)["infcode"] == 0


def test_death_dates_refused_and_audited(uow: UnitOfWork) -> None:
    """A date of death in the future, before birth, or other than the one recorded is refused
    naming ``on`` and nothing changes; the same date again changes nothing; the recording is
    audited."""
    who = employee(uow)
    born = registry.person_file(uow, who)["birth_date"]
    for bad in (
        dt.date.today() + dt.timedelta(days=1),
        dt.date.fromisoformat(born) - dt.timedelta(days=1),
    ):
        with pytest.raises(InvalidField) as exc:
            registry.record_death(uow, who, bad, actor="cli:test")
        assert exc.value.field == "on"
    assert registry.person_file(uow, who)["died_on"] is None
    registry.record_death(uow, who, dt.date(2025, 6, 1), actor="cli:test")
    registry.record_death(uow, who, dt.date(2025, 6, 1), actor="cli:test")
    with pytest.raises(InvalidField, match="already recorded dead on 2025-06-01"):
        registry.record_death(uow, who, dt.date(2025, 6, 2), actor="cli:test")
    assert registry.person_file(uow, who)["died_on"] == "2025-06-01"
    with uow:
        entries = [
            (e.actor, e.detail)
            for e in ApiRepository(uow.session).audit_log(actor="cli:test")
            if e.action == "registry:death"
        ]
    assert entries == [("cli:test", "died on 2025-06-01")]


def test_the_refusing_rules_follow_a_dated_action(tmp_path: Path) -> None:
    """The catalogue is cached per step of the parameters, not per claim date: a rule made to
    refuse from 1 June refuses from that day on and not the day before."""
    from yibao.policy import Policy
    from yibao.policy.supervision import refusing_rules, refusing_visit_rules, rule_catalogue

    _region(tmp_path, {})
    doc = yaml.safe_load((tmp_path / "360100.yaml").read_text())
    doc["parameters"]["supervision"]["rules"] = {
        "sex_age": {"action": {"2025-01-01": "warn", "2025-06-01": "refuse"}, "severity": "high"}
    }
    (tmp_path / "360100.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    policy = Policy("360100", folder=tmp_path)
    for day, refusing in [
        ("2025-05-31", []),
        ("2025-06-01", ["sex_age"]),
        ("2025-12-31", ["sex_age"]),
    ]:
        on = dt.date.fromisoformat(day)
        assert [r.code.value for r in refusing_rules(policy, on)] == refusing
        expected = [r for r in rule_catalogue(policy, on).rules if r.action.value == "refuse"]
        assert [r.code.value for r in refusing_visit_rules(policy, on)] == [
            r.code.value for r in expected if r.code.value != "sex_age"
        ]


def test_a_visit_warning_in_the_national_envelope() -> None:
    """Over /fsi a visit rule's warning (no line) reads ``rule: text (detail)``."""
    from yibao.api.fsi.route import warn_msg

    output = {
        "warnings": [
            {"feedetl_sn": None, "rule": "long_stay", "text": "too long", "detail": "16 days"},
            {"feedetl_sn": "3", "rule": "sex_age", "text": "restricted", "action": "warn"},
        ]
    }
    assert warn_msg(output) == "long_stay: too long (16 days); 3 sex_age: restricted"


def test_yibao_person_died(uow: UnitOfWork, db_url: str) -> None:
    """``yibao person died``: a future date is refused naming ``on`` (exit code not 0, nothing
    recorded); a date recorded, as the operator given."""
    import json

    from typer.testing import CliRunner

    from yibao.cli import app

    who = employee(uow)
    run = CliRunner().invoke
    bad = run(app, ["person", "died", who, "--on", "2999-01-01", "--db", db_url, "--json"])
    assert bad.exit_code != 0 and "on: date of death 2999-01-01 is in the future" in bad.output
    assert registry.person_file(uow, who)["died_on"] is None
    args = ["person", "died", who, "--on", "2025-06-01", "--operator", "clerk", "--db", db_url]
    ok = run(app, [*args, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["died_on"] == "2025-06-01"
    with uow:
        entries = ApiRepository(uow.session).audit_log(actor="cli:clerk")
        assert [e.action for e in entries] == ["registry:death"]
