"""README's bill settled from its lines over the API, against the shipped (illustrative)
national catalogue, as a pooling area without a catalogue of its own in the store sees it
(``services.catalogue``): each line's classification, the settlement's figures, and the same
figures as the pre-digested claim, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_api_fees import line
from yibao.services import contributions, enrolment, registry
from yibao.store.uow import UnitOfWork

README = Path(__file__).resolve().parent.parent / "README.md"
WHO = "36010219850312001X"
BILL = [
    line("1", "003309010010000", "1", "2000", day="2025-05-01"),  # 腹腔镜阑尾切除术: class A
    line("2", "001109000040000", "1", "150", day="2025-05-01"),  # 单人病房床位费: B, limit 50
    line("3", "001109000040000", "1", "150", day="2025-05-02"),
    line("4", "002301000010000", "1", "7000", day="2025-05-02"),  # PET/CT: C, level 3 only
]


def walk_employee(uow: UnitOfWork) -> None:
    """README's employee: enrolled from 2025-01-01, three months paid on 8000.00."""
    registry.add_person(uow, WHO, "张三")
    enrolment.enrol(
        uow, WHO, "employer", "360100", dt.date(2025, 1, 1), employer_code="91360100MA35000001"
    )
    for m in (1, 2, 3):
        contributions.pay_employee(uow, WHO, dt.date(2025, m, 1), 800000, dt.date(2025, m, 20))


def test_readme_bill_settled_from_its_lines(api: Api, uow: UnitOfWork) -> None:
    walk_employee(uow)
    inst = api.institution()  # level 2
    reg = api.tx(inst, "2201", {"certno": WHO, "med_type": "inpatient", "begntime": "2025-05-01"})
    mdtrt_id = reg["output"]["mdtrt_id"]
    out = api.tx(
        inst,
        "2204",
        {
            "mdtrt_id": mdtrt_id,
            "feedetail": [{**x, "fee_ocur_time": x["fee_ocur_time"][:10]} for x in BILL],
        },
    )
    assert out["infcode"] == 0, out
    op, bed1, bed2, pet = out["output"]["result"]
    assert (op["inscp_scp_amt"], op["reason"]) == ("2000.00", "class_a")
    for bed in (bed1, bed2):
        assert (bed["overlmt_amt"], bed["category_b"], bed["reason"]) == (
            "100.00",
            "50.00",
            "price_limit",
        )
    assert (pet["fulamt_ownpay_amt"], pet["reason"]) == ("7000.00", "level")

    settled = api.tx(inst, "2207", {"certno": WHO, "mdtrt_id": mdtrt_id, "date": "2025-05-03"})
    assert settled["infcode"] == 0, settled
    o = settled["output"]
    # 9300.00 − 7000.00 − 200.00 − 100.00 × 10% = 2090.00; (2090.00 − 500.00) × 85% = 1351.50
    figures: dict[str, Any] = {
        "medfee_sumamt": "9300.00",
        "fulamt_ownpay_amt": "7000.00",
        "overlmt_selfpay": "200.00",
        "preselfpay_amt": "10.00",
        "inscp_scp_amt": "2090.00",
        "act_pay_dedc": "500.00",
        "hifp_pay": "1351.50",
    }
    assert {k: o[k] for k in figures} == figures
    assert o["fee_lines"]["count"] == 4
    text = README.read_text()
    for k, v in figures.items():
        assert f'"{k}": "{v}"' in text, k
    for x in BILL:
        assert f'"med_list_codg": "{x["med_list_codg"]}"' in text

    # the same claim pre-digested, on another visit, previewed: the same figures
    plain = api.tx(
        inst, "2201", {"certno": WHO, "med_type": "inpatient", "begntime": "2025-05-01"}
    )["output"]["mdtrt_id"]
    api.tx(inst, "2208", {"setl_id": o["setl_id"], "date": "2025-05-03"})
    same = api.tx(
        inst,
        "2206",
        {
            "certno": WHO,
            "mdtrt_id": plain,
            "date": "2025-05-03",
            "total": "9300.00",
            "fully_self_paid": "7000.00",
            "over_limit": "200.00",
            "category_b": "100.00",
        },
    )
    assert same["infcode"] == 0, same
    assert {k: same["output"][k] for k in figures} == figures
