"""The kernel's annual caps read by name (``basic_caps``, ``critical_illness_cap``,
``large_amount_cap``): Nanchang 2025 (as ``test_store_reversal`` settles against), and what the
arrays hold."""

from __future__ import annotations

import datetime as dt

import numpy as np

from yibao.kernel.tables import (
    MED_TYPES,
    SCHEME_INPUT,
    UNCAPPED,
    basic_caps,
    compile_tables,
    critical_illness_cap,
    epoch_days,
    large_amount_cap,
)
from yibao.services.common import policy_for

ON = dt.date(2025, 7, 1)


def test_caps_of_nanchang_2025() -> None:
    policy = policy_for("360100")
    tables = compile_tables(policy, ON.year)
    resident = {c.group: c.annual_cap for c in basic_caps(tables, ON, "resident")}
    assert resident["basic"] == 247_884_00  # 6 × 41,314 yuan
    assert resident["outpatient"] == 400_00
    assert critical_illness_cap(tables, ON, 0) == 300_000_00
    assert large_amount_cap(tables, ON) == int(policy.get("large_amount.cap", ON))


def test_each_med_type_in_one_cap_group_as_the_arrays_say() -> None:
    tables = compile_tables(policy_for("360100"), ON.year)
    v = int(tables.version_of(np.array([epoch_days(ON)]))[0])
    for scheme, s in SCHEME_INPUT.items():
        groups = basic_caps(tables, ON, scheme)
        assert sorted(m for g in groups for m in g.med_types) == sorted(MED_TYPES)
        for g in groups:
            for med in g.med_types:
                m = MED_TYPES.index(med)
                assert tables.cap_groups[int(tables.cap_group[v, s, m])] == g.group
                assert int(tables.annual_cap[v, s, m]) == g.annual_cap <= UNCAPPED
