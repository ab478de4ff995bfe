"""Supervision warnings at pre-settlement over the API (2206), on SQLite and PostgreSQL: the
lines that fire a rule of the area's catalogue are answered with the rule's code and text;
near misses are not; nothing is stored by 2206 (docs/supervision.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.api_support import *  # noqa: F403
from tests.api_support import Api, route_only
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.store_support import nid
from tests.test_api_fees import employee, line, visit
from yibao.policy import params
from yibao.store.models import BenefitStateRow, LedgerTransactionRow, SettlementRow
from yibao.store.uow import UnitOfWork

pytestmark = pytest.mark.usefixtures("test_catalogue")


@pytest.mark.parametrize("stored", [7, 1])
def test_presettlement_answers_warnings_per_line(api: Api, uow: UnitOfWork, stored: int) -> None:
    """The lines' warnings, of stored lines or (``stored`` < 7) of lines previewed with them
    (2206 with ``feedetail``: the duplicate of a stored line fires, nothing is stored)."""
    who = employee(uow)
    male = int(nid(1)[16]) % 2 == 1
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    bill = [
        line("1", "001101000010000", "1", "100.00", "2025-05-02"),
        line("2", "001101000010000", "1", "100.00", "2025-05-02"),  # the same again: fires
        line("3", "001101000010000", "1", "100.00", "2025-05-03"),  # next day: near miss
        line("4", "001101000010000", "2", "100.00", "2025-05-02"),  # another quantity: near miss
        line("5", "XD04", "3", "5.00", "2025-05-02"),  # 3 against a daily maximum of 2: fires
        line("6", "XD04", "2", "5.00", "2025-05-03"),  # at the maximum: near miss
        line("7", "XF06", "1", "5.00", "2025-05-02"),  # women only: fires for a man
    ]
    up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill[:stored]})
    assert up["infcode"] == 0, up
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"}
    pre = api.tx(inst, "2206", body | ({"feedetail": bill[stored:]} if bill[stored:] else {}))
    assert pre["infcode"] == 0, pre
    assert len(pre["output"].get("result", [])) == len(bill) - stored
    assert len(api.tx(inst, "5204", {"mdtrt_id": mdtrt_id})["output"]["feedetail"]) == stored
    got = [(w["feedetl_sn"], w["rule"], w["action"]) for w in pre["output"]["warnings"]]
    expected = [("2", "duplicate_item", "warn"), ("5", "over_quantity", "warn")]
    if male:
        expected.append(("7", "sex_age", "warn"))
    assert got == sorted(expected)
    assert all(w["text"] for w in pre["output"]["warnings"])


def test_presettlement_without_lines_has_no_warnings(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": [line("1", "XC03", "1", "8")]})
    assert up["infcode"] == 0, up
    pre = api.tx(inst, "2206", {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"})
    assert pre["infcode"] == 0, pre
    assert pre["output"]["warnings"] == []


def test_the_national_envelope_carries_the_warnings_in_warn_msg() -> None:
    """2206/2303 over /fsi: each firing line as ``feedetl_sn rule: text`` in ``warn_msg``."""
    from yibao.api.fsi.route import warn_msg

    output = {
        "warnings": [
            {"feedetl_sn": "3", "rule": "duplicate_item", "text": "billed twice", "action": "warn"},
            {"feedetl_sn": "7", "rule": "sex_age", "text": "restricted", "action": "warn"},
        ]
    }
    assert warn_msg(output) == "3 duplicate_item: billed twice; 7 sex_age: restricted"
    assert warn_msg({"warnings": []}) is None
    assert warn_msg({"setl_id": "S1"}) is None


def _refusing_region(folder: Path, rule: str) -> None:
    """A bureau's 360100 file (over the shipped Jiangxi one) making ``rule`` refuse."""
    doc = {
        "region": "360100",
        "name": "Nanchang (a bureau's file)",
        "parent": "360000",
        "parameters": {"supervision": {"rules": {rule: {"action": "refuse", "severity": "high"}}}},
    }
    (folder / "360100.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_refusing_rule_refuses_2207_and_stores_nothing(
    api: Api, uow: UnitOfWork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_path: bool
) -> None:
    """A region file switches over_quantity to refuse: 2207 of a visit with a line over its
    daily maximum is refused (3002) naming the rule and the line, nothing is stored; 2206 still
    answers the warning (action refuse); the line cancelled (2205), the visit settles. A visit
    whose lines fire no refusing rule (a duplicate: still warn) settles as before."""
    client = api if fast_path else route_only(api)  # (an application sets the folder in use)
    _refusing_region(tmp_path, "over_quantity")
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    bill = [
        line("1", "001101000010000", "1", "100.00", "2025-05-02"),
        line("2", "001101000010000", "1", "100.00", "2025-05-02"),  # duplicate: warn only
        line("5", "XD04", "3", "5.00", "2025-05-02"),  # 3 against a daily maximum of 2
    ]
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill})["infcode"] == 0
    before = _stored(api)
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"}
    refused = client.tx(inst, "2207", body)
    assert refused["infcode"] == 3002, refused
    assert "supervision rule over_quantity" in refused["err_msg"]
    assert "1 line(s) (2206 names them);" in refused["err_msg"] and "2205" in refused["err_msg"]
    assert _stored(api) == before
    pre = api.tx(inst, "2206", body)
    assert ("5", "over_quantity", "refuse") in [
        (w["feedetl_sn"], w["rule"], w["action"]) for w in pre["output"]["warnings"]
    ]
    assert api.tx(inst, "2205", {"mdtrt_id": mdtrt_id, "feedetl_sn": ["5"]})["infcode"] == 0
    settled = client.tx(inst, "2207", body)
    assert settled["infcode"] == 0, settled
    assert settled["output"]["medfee_sumamt"] == "200.00"


def _stored(api: Api) -> tuple[int, int, int]:
    """Settlements, ledger transactions, and the settlements the persons' year-to-date states
    count (a state row locked for a settlement may be there, empty)."""
    with Session(api.engine) as s:
        return (
            int(s.scalar(select(func.count()).select_from(SettlementRow)) or 0),
            int(s.scalar(select(func.count()).select_from(LedgerTransactionRow)) or 0),
            int(s.scalar(select(func.coalesce(func.sum(BenefitStateRow.settlements), 0))) or 0),
        )


def test_a_refusing_duplicate_rule_names_the_lines(
    api: Api, uow: UnitOfWork, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """duplicate_item switched to refuse: the visit's lines are read and the repeated line is
    named; the next day's same item (a near miss) does not fire."""
    _refusing_region(tmp_path, "duplicate_item")
    monkeypatch.setattr(params, "_policy_dir", tmp_path)
    who = employee(uow)
    inst = api.institution()
    mdtrt_id = visit(api, inst, who)
    bill = [
        line("1", "001101000010000", "1", "100.00", "2025-05-02"),
        line("2", "001101000010000", "1", "100.00", "2025-05-02"),
        line("3", "001101000010000", "1", "100.00", "2025-05-03"),
    ]
    assert api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill})["infcode"] == 0
    body = {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"}
    refused = api.tx(inst, "2207", body)
    assert refused["infcode"] == 3002, refused
    assert "supervision rule duplicate_item" in refused["err_msg"]
    assert "line(s) 2;" in refused["err_msg"]
    assert _stored(api)[0] == 0
    assert api.tx(inst, "2205", {"mdtrt_id": mdtrt_id, "feedetl_sn": ["2"]})["infcode"] == 0
    assert api.tx(inst, "2207", body)["infcode"] == 0
