"""The two paths of a 2207 give the same answers. A signed 2207 is taken by the settlement fast
path (``api.serving.fastpath``: straight to the batcher) when the application has a batcher, and
by the ``POST /api/v1/tx`` route when it has none (``batch_max=1``). Twin persons (the same state,
different national IDs) get the same sequence of requests, one twin through each path; every
answer, settled or refused, is the same but for the identifiers, and so are the year-to-date
totals afterwards. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.api_support import *  # noqa: F403  (fixtures: api, db_url, engine, uow)
from tests.api_support import Api, Inst, fast_path_settled, route_only
from tests.store_support import nid
from yibao.services import contributions, enrolment, ledger, registry
from yibao.store.uow import UnitOfWork

AREA = "360100"
EMPLOYER = "91360100MA35000001"
IDS = ("setl_id", "mdtrt_id", "psn_no")


def twin_states(uow: UnitOfWork, n: int) -> dict[str, str]:
    """One of each person state, numbered from ``n``: name → national ID."""
    emp = registry.add_person(uow, nid(n, dt.date(1980, 1, 1)), "职工").label
    enrolment.enrol(uow, emp, "employer", AREA, dt.date(2024, 1, 1), employer_code=EMPLOYER)
    for m in range(1, 7):
        contributions.pay_employee(uow, emp, dt.date(2024, m, 1), 800_000, dt.date(2024, m, 20))
    res = registry.add_person(uow, nid(n + 2, dt.date(1970, 1, 1)), "居民").label
    enrolment.enrol(uow, res, "resident", AREA, dt.date(2023, 10, 1))
    contributions.pay_resident(uow, res, 2025, dt.date(2024, 11, 1))
    poor = registry.add_person(uow, nid(n + 4, dt.date(1950, 1, 1)), "低保").label
    enrolment.enrol(uow, poor, "resident", AREA, dt.date(2023, 10, 1))
    registry.add_group(uow, poor, "dibao", dt.date(2024, 1, 1))
    contributions.pay_resident(uow, poor, 2025, dt.date(2024, 11, 1))
    return {"employee": emp, "resident": res, "dibao": poor}


#: (person, input) in order; amounts are yuan strings as an institution sends them.
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("employee", {"date": "2025-03-01", "med_type": "inpatient", "total": "20000.00",
                  "fully_self_paid": "1000.00"}),
    ("employee", {"date": "2025-04-01", "med_type": "inpatient", "total": "900000.00",
                  "category_b": "20000.00", "over_limit": "3000.00"}),  # second admission, capped
    ("employee", {"date": "2025-05-01", "med_type": "outpatient", "total": "800.00"}),
    ("employee", {"date": "2025-05-02", "med_type": "chronic", "total": "3000.00",
                  "cross_region": "referred"}),
    ("resident", {"date": "2025-02-01", "med_type": "inpatient", "total": "5000.00"}),  # waiting
    ("resident", {"date": "2025-06-01", "med_type": "inpatient", "total": "300000.00",
                  "fully_self_paid": "10000.00", "category_b": "5000.00"}),
    ("resident", {"date": "2025-06-02", "med_type": "pharmacy", "total": "88.80"}),
    ("dibao", {"date": "2025-02-01", "med_type": "inpatient", "total": "60000.00"}),
    ("dibao", {"date": "2025-07-01", "med_type": "maternity", "total": "8000.00",
               "cross_region": "temporary"}),
    # refusals
    ("employee", {"date": "2025-05-01", "med_type": "inpatient", "total": "-1"}),
    ("employee", {"date": "2025-05-01", "med_type": "inpatient", "total": "10",
                  "fully_self_paid": "20"}),
    ("employee", {"date": "2025-05-01", "med_type": "spa", "total": "10"}),
    ("employee", {"date": "2023-12-31", "med_type": "inpatient", "total": "10"}),
    ("employee", {"date": "2025-05-01", "med_type": "inpatient", "total": "10",
                  "mdtrt_id": "V-NOPE"}),
]  # fmt: skip


def _without_ids(answer: dict[str, Any], who: str) -> dict[str, Any]:
    out = answer.get("output")
    masked = who[:6] + "*" * 8 + who[-4:]  # how a refusal names the person
    return {
        **{k: v for k, v in answer.items() if k not in ("output", "inf_refmsgid")},
        "err_msg": (answer.get("err_msg") or "").replace(masked, "<certno>"),
        "output": None if out is None else {k: v for k, v in out.items() if k not in IDS},
    }


def test_fast_path_and_route_give_the_same_answers(api: Api, uow: UnitOfWork) -> None:
    fast_twins, route_twins = twin_states(uow, 1), twin_states(uow, 11)
    route = route_only(api)
    inst: Inst = api.institution()  # level 2
    before = fast_path_settled(api)
    settled = 0
    for i, (kind, data) in enumerate(REQUESTS):
        answers = []
        for path, via, twins in (("fast", api, fast_twins), ("route", route, route_twins)):
            # a msgid of its own for each: the same one would return the first answer
            got = via.tx(inst, "2207", {"certno": twins[kind], **data}, msgid=f"{path}-{i}")
            answers.append(_without_ids(got, twins[kind]))
        assert answers[0] == answers[1], (kind, data)
        if i == 0:  # an employee at level 2: (20000 - 1000 - 500 deductible) x 85%
            assert answers[0]["output"]["hifp_pay"] == "15725.00"
        settled += answers[0]["infcode"] == 0
    assert settled == 9  # every settlement above was settled, every refusal refused
    # every 2207 of the served application went through its fast path, the refused ones too
    # (the batch refuses them with the route's messages); the route-only one has no batcher
    assert fast_path_settled(api) - before == len(REQUESTS)
    assert fast_path_settled(route) == 0
    for kind in fast_twins:
        fast_ytd = api.tx(inst, "5206", {"certno": fast_twins[kind], "year": 2025})
        route_ytd = route.tx(inst, "5206", {"certno": route_twins[kind], "year": 2025})
        assert fast_ytd["output"]["settled"] == route_ytd["output"]["settled"], kind
    assert ledger.reconcile(uow).ok
