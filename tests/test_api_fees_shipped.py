"""Fee lines over the API against the shipped (illustrative) national catalogue, as a pooling
area without a catalogue of its own in the store sees it (``services.catalogue``)."""

from __future__ import annotations

from tests.api_support import *  # noqa: F403
from tests.api_support import Api
from tests.test_api_fees import employee, line
from yibao.store.uow import UnitOfWork


def test_lines_classified_against_the_shipped_catalogue(api: Api, uow: UnitOfWork) -> None:
    who = employee(uow)
    inst = api.institution()  # level 2
    reg = api.tx(inst, "2201", {"certno": who, "med_type": "inpatient", "begntime": "2025-05-01"})
    mdtrt_id = reg["output"]["mdtrt_id"]
    out = api.tx(
        inst,
        "2204",
        {
            "mdtrt_id": mdtrt_id,
            "feedetail": [
                # 单人病房床位费: class B, limit 50.00 a day: 150.00 − 50.00 over the limit
                line("1", "001109000040000", "1", "150"),
                # PET/CT: class C, and billable only at level 3: fully self-paid
                line("2", "002301000010000", "1", "7000"),
                line("3", "001101000010000", "1", "1"),  # 普通门诊挂号费: class A
            ],
        },
    )
    assert out["infcode"] == 0, out
    bed, pet, fee = out["output"]["result"]
    assert (bed["overlmt_amt"], bed["category_b"], bed["reason"]) == (
        "100.00",
        "50.00",
        "price_limit",
    )
    assert (pet["fulamt_ownpay_amt"], pet["reason"]) == ("7000.00", "level")
    assert (fee["inscp_scp_amt"], fee["chrgitm_lv"]) == ("1.00", "01")
    settled = api.tx(inst, "2207", {"certno": who, "mdtrt_id": mdtrt_id, "date": "2025-05-02"})
    assert settled["infcode"] == 0, settled
    o = settled["output"]
    # scope 7151.00 − 7000.00 − 100.00 − 50.00 × 10% = 46.00
    assert (o["medfee_sumamt"], o["preselfpay_amt"], o["inscp_scp_amt"]) == (
        "7151.00",
        "5.00",
        "46.00",
    )
