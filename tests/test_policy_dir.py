"""A bureau's own parameter folder (``--policy-dir`` / ``$YIBAO_POLICY_DIR``): its files come
before the shipped ones, its regions inherit the shipped parents and national defaults, and a
broken file is refused with its name and the parameter path. Through the calculator, the
settlement service (SQLite and PostgreSQL), the store commands and the API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.api_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.api_support import SECRET, Api
from tests.store_support import nid
from yibao.api.http.app import create_app
from yibao.api.http.settings import Settings
from yibao.api.http.tx import translate
from yibao.cli import app
from yibao.domain.settlement import Claim
from yibao.policy import ParameterError, Policy, params, use_policy_dir
from yibao.services import contributions, enrolment, registry, settlement
from yibao.store.uow import UnitOfWork

D = dt.date
AREA = "360100"
EMPLOYER = "91360100MA35000001"
#: Nanchang's own file: level-2 inpatient ratios 95 % (employees) and 80 % (residents); the
#: shipped 360100 inherits 85 % and 75 % from the national defaults.
BUREAU = """\
region: "360100"
name: Nanchang (bureau copy)
parent: "360000"
sources:
  - {id: NC, title: a bureau notice}
parameters:
  benefits:
    employee:
      inpatient:
        basic:
          ratio: {level2: {value: 0.95, source: NC}}
    resident:
      inpatient:
        basic:
          ratio: {level2: 0.80}
"""


@pytest.fixture(autouse=True)
def _no_folder_in_use(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test sets (the API's create_app sets it for the process) is undone after."""
    monkeypatch.delenv("YIBAO_POLICY_DIR", raising=False)
    monkeypatch.setattr(params, "_policy_dir", params._UNSET)
    yield


@pytest.fixture
def bureau(tmp_path: Path) -> Path:
    folder = tmp_path / "bureau"
    folder.mkdir()
    (folder / "360100.yaml").write_text(BUREAU, encoding="utf-8")
    return folder


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "360100.yaml").write_text(
        BUREAU.replace("ratio: {level2: 0.80}", "ratio: {level2: lots}"), encoding="utf-8"
    )
    return folder


BROKEN_PATH = "benefits.resident.inpatient.basic.ratio.level2"


# ---------------------------------------------------------------------------- the loader


def test_a_bureau_region_inherits_the_shipped_parent_and_national_defaults(bureau: Path) -> None:
    p = Policy(AREA, folder=bureau)
    on = D(2025, 6, 1)
    assert p.chain[0].file == str(bureau / "360100.yaml")
    assert p.get("benefits.resident.inpatient.basic.ratio.level2", on) == Decimal("0.8")
    # the parent 360000 (Jiangxi's raise of 3000 yuan) and 000000 come from the shipped files
    assert p.get("resident.incentives.continuous.amount", on) == 3000_00
    assert p.chain[1].file.endswith("regions/360000.yaml")
    assert p.get("large_amount.cap", on) == 400000_00
    # a parent in the folder comes before the shipped one; so does a national file
    (bureau / "360000.yaml").write_text('region: "360000"\nparameters: {large_amount: {cap: 5}}\n')
    (bureau / "000000.yaml").write_text(
        (Path(params.default_folder()) / "000000.yaml")
        .read_text(encoding="utf-8")
        .replace("    cap: 400000", "    cap: 300000")
    )
    p = Policy(AREA, folder=bureau)
    assert p.get("large_amount.cap", on) == 5_00
    assert p.get("resident.incentives.continuous.amount", on) == 1000_00  # no Jiangxi file now
    assert Policy("110000", folder=bureau).get("large_amount.cap", on) == 300000_00


def test_the_folder_in_use_comes_from_the_environment(
    bureau: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = D(2025, 6, 1)
    assert Policy(AREA).get("benefits.resident.inpatient.basic.ratio.level2", on) == Decimal("0.75")
    monkeypatch.setenv("YIBAO_POLICY_DIR", str(bureau))
    assert Policy(AREA).get("benefits.resident.inpatient.basic.ratio.level2", on) == Decimal("0.8")
    with use_policy_dir(bureau.parent / "nowhere"):  # an explicit setting wins
        assert Policy(AREA).get("benefits.resident.inpatient.basic.ratio.level2", on) == Decimal(
            "0.75"
        )


def test_api_answers_name_the_file_not_the_servers_folder() -> None:
    exc = ParameterError("/srv/bureau/360100.yaml", BROKEN_PATH, "must be a number")
    answer = translate(exc)
    assert answer is not None
    assert answer.message == f"policy parameters: 360100.yaml: {BROKEN_PATH}: must be a number"
    with pytest.raises(ParameterError) as err:
        Policy("999999")
    answer = translate(err.value)
    assert answer is not None and answer.message == "region: unknown region '999999'"
    assert "/" not in answer.message


# ---------------------------------------------------------------------------- calculator

SETTLE: dict[str, Any] = {
    "region": AREA,
    "person": {"scheme": "resident"},
    "claims": [{"date": "2025-05-01", "med_type": "inpatient", "level": 2, "total": 10000}],
}


def calc(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SETTLE))
    r = CliRunner().invoke(app, ["calc", "settle", str(path), *args], env=env)
    return r.exit_code, r.stdout, r.stderr


def test_the_calculator_reads_the_bureau_folder(tmp_path: Path, bureau: Path) -> None:
    shipped = (10000_00 - 400_00) * 75 // 100  # level-2 deductible 400, 75 %
    own = (10000_00 - 400_00) * 80 // 100
    code, out, err = calc(tmp_path)
    assert code == 0, err
    assert json.loads(out)["settlements"][0]["hifp_pay"] == f"{shipped // 100}.00" == "7200.00"
    code, out, err = calc(tmp_path, "--policy-dir", str(bureau))
    assert code == 0, err
    assert json.loads(out)["settlements"][0]["hifp_pay"] == f"{own // 100}.00" == "7680.00"
    code, out, err = calc(tmp_path, env={"YIBAO_POLICY_DIR": str(bureau)})
    assert code == 0, err
    assert json.loads(out)["settlements"][0]["hifp_pay"] == "7680.00"


def test_a_broken_bureau_file_is_one_line_naming_file_and_path(
    tmp_path: Path, broken: Path
) -> None:
    code, out, err = calc(tmp_path, "--policy-dir", str(broken))
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert f"{broken / '360100.yaml'}: {BROKEN_PATH}: must be a number" in line
    code, _, err = calc(tmp_path, "--policy-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "not a folder of parameter files" in err


@pytest.mark.parametrize(
    "command",
    [
        ["calc", "settle"],
        ["calc", "waiting"],
        ["calc", "incentives"],
        ["settle"],
        ["presettle"],
        ["reverse"],
        ["pay"],
        ["enrol"],
        ["year-end"],
        ["synth", "generate"],
        ["synth", "summary"],
        ["synth", "load"],
        ["demo"],
        ["serve"],
    ],
)
def test_every_command_that_uses_the_parameters_takes_the_option(command: list[str]) -> None:
    r = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "--policy-dir" in r.stdout and "YIBAO_POLICY_DIR" in r.stdout


# ------------------------------------------------------------------ service, commands, API


def employee(uow: UnitOfWork, n: int = 1) -> str:
    """Enrolled 2024-01-01, six months paid: entitled in 2025."""
    who = registry.add_person(uow, nid(n), f"职工{n}").label
    enrolment.enrol(uow, who, "employer", AREA, D(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 7):
        contributions.pay_employee(uow, who, D(2024, m, 1), 800000, D(2024, m, 20))
    return who


SHIPPED_EMPLOYEE = (20000_00 - 500_00) * 85 // 100  # level-2 deductible 500, 85 %
OWN_EMPLOYEE = (20000_00 - 500_00) * 95 // 100


def test_a_service_settlement_reads_the_bureau_folder(
    uow: UnitOfWork, bureau: Path, db_url: str
) -> None:
    who = employee(uow)
    claim = Claim(person=who, date=D(2025, 5, 10), total=20000_00, med_type="inpatient", level=2)
    assert settlement.presettle(uow, claim).amounts["hifp_pay"] == SHIPPED_EMPLOYEE
    with use_policy_dir(bureau):
        assert settlement.presettle(uow, claim).amounts["hifp_pay"] == OWN_EMPLOYEE
    # the store command, with the option
    args = ["settle", "--person", who, "--date", "2025-05-10", "--med-type", "inpatient"]
    args += ["--level", "2", "--total", "20000", "--db", db_url, "--json"]
    r = CliRunner().invoke(app, [*args, "--policy-dir", str(bureau)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["hifp_pay"] == f"{OWN_EMPLOYEE // 100}.00" == "18525.00"


def test_the_server_reads_the_folder_from_the_environment(
    uow: UnitOfWork, engine: Engine, db_url: str, bureau: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_POLICY_DIR", str(bureau))
    settings = Settings(api_secret=SECRET, database_url=db_url)  # type: ignore[arg-type]
    assert settings.policy_dir == bureau
    api = Api(TestClient(create_app(settings, engine=engine)), engine, settings)
    who = employee(uow)
    inst = api.institution()
    visit = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01"})
    assert visit["infcode"] == 0, visit
    claim = {"date": "2025-05-01", "med_type": "inpatient", "total": "20000.00"}
    pre = api.tx(inst, "2206", {"certno": who, "mdtrt_id": visit["output"]["mdtrt_id"], **claim})
    assert pre["infcode"] == 0, pre
    assert pre["output"]["hifp_pay"] == f"{OWN_EMPLOYEE // 100}.00" == "18525.00"


def test_the_server_refuses_to_start_with_a_broken_file(broken: Path, db_url: str) -> None:
    settings = Settings(api_secret=SECRET, database_url=db_url, policy_dir=broken)  # type: ignore[arg-type]
    with pytest.raises(ParameterError) as err:
        create_app(settings)
    assert (
        err.value.public()
        == f"360100.yaml: {BROKEN_PATH}: must be a number (a rate such as 0.75), not 'lots'"
    )
    r = CliRunner().invoke(app, ["serve", "--policy-dir", str(broken)])
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert f"360100.yaml: {BROKEN_PATH}: must be a number" in line


def test_an_error_found_compiling_names_the_file_not_the_overlay(tmp_path: Path) -> None:
    """Band edges are checked when the kernel's tables are compiled: the error names the file
    that gives the bands, even with a scenario overlay on top."""
    folder = tmp_path / "bands"
    folder.mkdir()
    (folder / "360100.yaml").write_text(
        'region: "360100"\nparent: "360000"\nparameters:\n  critical_illness:\n'
        "    bands: [{upto: 1000, ratio: 0.6}, {upto: 500, ratio: 0.6}, {ratio: 0.7}]\n"
    )
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**SETTLE, "policy": {"large_amount": {"cap": 1}}}))
    r = CliRunner().invoke(app, ["calc", "settle", str(path), "--policy-dir", str(folder)])
    assert r.exit_code == 2
    (line,) = r.stderr.strip().splitlines()
    assert line == (
        f"error: {folder / '360100.yaml'}: critical_illness.bands[1].upto: band edges must increase"
    )
