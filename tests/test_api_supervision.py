"""Supervision warnings at pre-settlement over the API (2206), on SQLite and PostgreSQL: the
lines that fire a rule of the area's catalogue are answered with the rule's code and text;
near misses are not; nothing is stored by 2206 (docs/supervision.md)."""

from __future__ import annotations

import pytest

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.fee_support import test_catalogue  # noqa: F401  (the fixture)
from tests.store_support import nid
from tests.test_api_fees import employee, line, visit
from yibao.store.uow import UnitOfWork

pytestmark = pytest.mark.usefixtures("test_catalogue")


def test_presettlement_answers_warnings_per_line(api: Api, uow: UnitOfWork) -> None:
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
    up = api.tx(inst, "2204", {"mdtrt_id": mdtrt_id, "feedetail": bill})
    assert up["infcode"] == 0, up
    pre = api.tx(inst, "2206", {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-04"})
    assert pre["infcode"] == 0, pre
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
