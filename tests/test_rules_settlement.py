"""Table tests for the one-stop settlement rules (rules.md section 6), national defaults of 2025.

Each test names the rule it checks. Hand computations are in the comments (yuan).
"""

from __future__ import annotations

from typing import Any

from tests.conftest import calc_settle, inpatient


def pay(row: dict[str, Any], *fields: str) -> tuple[str, ...]:
    return tuple(row[f] for f in fields)


def test_policy_scope_amount_and_category_b_prepayment() -> None:
    # 10000 - 1000 fully self-paid - 500 over limit - 10% of 3000 category B = 8200
    (s,) = calc_settle([inpatient(10000, fully_self_paid=1000, over_limit=500, category_b=3000)])
    assert pay(s, "preselfpay_amt", "inscp_scp_amt") == ("300.00", "8200.00")


def test_basic_inpatient_deductible_and_ratio_by_level() -> None:
    rows = calc_settle(
        [
            inpatient(10000, level=1, date="2025-01-05"),
            inpatient(10000, level=2, date="2025-02-05"),
            inpatient(10000, level=3, date="2025-03-05"),
        ]
    )
    # level 1: (10000-100)*0.85; level 2: 2nd admission (10000-400*0.5)*0.75; level 3: 3rd, no ded
    assert [r["hifp_pay"] for r in rows] == ["8415.00", "7350.00", "6000.00"]
    assert [r["act_pay_dedc"] for r in rows] == ["100.00", "200.00", "0.00"]


def test_repeat_admission_factors() -> None:
    rows = calc_settle([inpatient(10000, date=f"2025-0{m}-01") for m in (1, 2, 3, 4)])
    # deductible 400 x 1, 0.5, 0, 0
    assert [r["hifp_pay"] for r in rows] == ["7200.00", "7350.00", "7500.00", "7500.00"]
    assert [r["admission_no"] for r in rows] == [1, 2, 3, 4]


def test_repeat_admission_factors_longer_than_three() -> None:
    factors = [1.0, 0.8, 0.6, 0.4]
    policy = {
        "benefits": {"resident": {"inpatient": {"basic": {"repeat_admission_factors": factors}}}}
    }
    rows = calc_settle(
        [inpatient(10000, date=f"2025-0{m}-01") for m in (1, 2, 3, 4, 5)], policy=policy
    )
    # deductible 400 x 1, 0.8, 0.6, 0.4, and the last factor for every later admission
    assert [r["act_pay_dedc"] for r in rows] == ["400.00", "320.00", "240.00", "160.00", "160.00"]
    assert [r["hifp_pay"] for r in rows] == ["7200.00", "7260.00", "7320.00", "7380.00", "7380.00"]


def test_a_med_type_with_an_entry_of_its_own_for_one_scheme() -> None:
    own = {"deductible": {"level1": 0, "level2": 100, "level3": 200}, "ratio": 0.9}
    policy = {"benefits": {"resident": {"maternity": {"basic": {**own, "cap_group": "basic"}}}}}
    claim = {"date": "2025-05-01", "med_type": "maternity", "level": 2, "total": 10000}
    # the residents' own maternity entry: (10000 - 100) x 0.9; employees (no entry of their
    # own) are paid as for inpatient care: (10000 - 500) x 0.85
    assert calc_settle([claim], policy=policy)[0]["hifp_pay"] == "8910.00"
    employee = calc_settle([claim], person={"scheme": "employee"}, policy=policy)
    assert employee[0]["hifp_pay"] == "8075.00"


def test_retiree_bonus_points() -> None:
    (e,) = calc_settle([inpatient(10000)], person={"scheme": "employee"})
    (r,) = calc_settle([inpatient(10000)], person={"scheme": "retiree"})
    assert (e["hifp_pay"], r["hifp_pay"]) == ("8075.00", "8550.00")  # 9500 x 0.85 / 0.90


def test_ratio_bands_on_the_amount_or_on_the_excess() -> None:
    bands = [{"upto": 10000, "ratio": 0.7}, {"ratio": 0.8}]
    amount = {"benefits": {"resident": {"inpatient": {"basic": {"ratio": {"level2": bands}}}}}}
    excess = {
        "benefits": {
            "resident": {
                "inpatient": {"basic": {"ratio": {"level2": bands}, "band_basis": "excess"}}
            }
        }
    }
    # amount: 0.7*(10000-400) + 0.8*10000; excess: 0.7*10000 + 0.8*(19600-10000)
    assert calc_settle([inpatient(20000)], policy=amount)[0]["hifp_pay"] == "14720.00"
    assert calc_settle([inpatient(20000)], policy=excess)[0]["hifp_pay"] == "14680.00"


def test_outpatient_annual_deductible() -> None:
    rows = calc_settle(
        [
            {"date": f"2025-0{m}-01", "med_type": "outpatient", "level": 1, "total": t}
            for m, t in ((1, 200), (2, 300), (3, 500))
        ],
        person={"scheme": "employee"},
    )
    # deductible 300 a year: 200 + 100 of it, then 65%
    assert [r["act_pay_dedc"] for r in rows] == ["200.00", "100.00", "0.00"]
    assert [r["hifp_pay"] for r in rows] == ["0.00", "130.00", "325.00"]


def test_outpatient_annual_cap_is_its_own_cap_group() -> None:
    rows = calc_settle(
        [
            {"date": f"2025-0{m}-01", "med_type": "pharmacy", "level": 1, "total": 500}
            for m in (1, 2, 3)
        ]
        + [inpatient(10000, date="2025-04-01")]
    )
    # resident outpatient: 65%, cap 400 a year; the inpatient cap is separate
    assert [r["hifp_pay"] for r in rows] == ["325.00", "75.00", "0.00", "7200.00"]
    assert "basic fund: annual cap reached" in rows[2]["reasons"]


def test_annual_cap_and_cap_group_shared_by_chronic_care() -> None:
    rows = calc_settle(
        [
            inpatient(400000, level=1),
            {"date": "2025-06-01", "med_type": "chronic", "level": 1, "total": 1000},
        ]
    )
    # cap 6 x 41314 = 247884; raw (400000-100)*0.85 = 339915; chronic shares the cap: nothing left
    assert rows[0]["hifp_pay"] == "247884.00"
    assert rows[1]["hifp_pay"] == "0.00"
    assert "basic fund: annual cap reached" in rows[0]["reasons"]


def test_cross_region_prepayment() -> None:
    (s,) = calc_settle([inpatient(10000, cross_region="referred")])
    (t,) = calc_settle([inpatient(10000, cross_region="temporary")])
    (r,) = calc_settle([inpatient(10000, cross_region="registered")])
    # referred: (9000 - 400) x 0.75; temporary: (8000 - 400) x 0.75; registered: no pre-payment
    assert (s["hifp_pay"], t["hifp_pay"], r["hifp_pay"]) == ("6450.00", "5700.00", "7200.00")


def test_critical_illness_on_the_residual() -> None:
    (s,) = calc_settle([inpatient(300000, level=3)])
    # basic (300000-800) x 0.6 = 179520; owed 120480; (120480 - 20657) x 0.6
    assert pay(s, "hifp_pay", "hifmi_pay") == ("179520.00", "59893.80")


def test_critical_illness_base_excluding_the_basic_deductible() -> None:
    policy = {"critical_illness": {"base": "residual_excluding_deductible"}}
    (s,) = calc_settle([inpatient(300000, level=3)], policy=policy)
    assert s["hifmi_pay"] == "59413.80"  # (120480 - 800 - 20657) x 0.6


def test_critical_illness_with_or_without_category_b_prepayment() -> None:
    claim = inpatient(300000, level=3, category_b=10000)
    with_b = {"critical_illness": {"include_category_b_prepay": True}}
    # inscp 299000; basic (298200) x 0.6 = 178920; owed 120080 (+1000 with category B)
    assert calc_settle([claim])[0]["hifmi_pay"] == "59653.80"
    assert calc_settle([claim], policy=with_b)[0]["hifmi_pay"] == "60253.80"


def test_critical_illness_bands_on_either_basis() -> None:
    bands = [{"upto": 50000, "ratio": 0.6}, {"ratio": 0.7}]
    amount = calc_settle(
        [inpatient(300000, level=3)], policy={"critical_illness": {"bands": bands}}
    )
    excess = calc_settle(
        [inpatient(300000, level=3)],
        policy={"critical_illness": {"bands": bands, "band_basis": "excess"}},
    )
    # amount: 0.6*(50000-20657) + 0.7*(120480-50000); excess: 0.6*50000 + 0.7*(99823-50000)
    assert amount[0]["hifmi_pay"] == "66941.80"
    assert excess[0]["hifmi_pay"] == "64876.10"


def test_critical_illness_accumulates_over_the_year() -> None:
    rows = calc_settle(
        [inpatient(30000, level=3, date="2025-02-01"), inpatient(30000, level=3, date="2025-03-01")]
    )
    # owed 12480 then 12240 (2nd admission ded 400): year-to-date 24720 - 20657 = 4063 x 0.6
    assert [r["hifmi_pay"] for r in rows] == ["0.00", "2437.80"]
    assert "critical illness: year-to-date base below its deductible" in rows[0]["reasons"]


def test_critical_illness_cap_raised_by_incentives() -> None:
    plain = calc_settle([inpatient(1000000, level=3)])
    raised = calc_settle([inpatient(1000000, level=3)], person={"incentive_raise": 2000})
    assert plain[0]["hifp_pay"] == "247884.00"
    assert (plain[0]["hifmi_pay"], raised[0]["hifmi_pay"]) == ("300000.00", "302000.00")
    assert "critical illness: annual cap reached" in plain[0]["reasons"]


def test_critical_illness_for_vulnerable_groups_and_assistance_cap() -> None:
    (s,) = calc_settle([inpatient(1000000, level=3)], person={"assistance_class": "dibao"})
    # half deductible 10328.50, ratio 0.65, no cap: (752116 - 10328.50) x 0.65 = 482161.875
    assert s["hifmi_pay"] == "482161.88"
    # assistance: 70% of what is still owed, limited to 50000 a year
    assert s["maf_pay"] == "50000.00"
    assert "medical assistance: annual limit reached" in s["reasons"]


def test_large_amount_insurance_beyond_the_basic_cap_cost_point() -> None:
    rows = calc_settle(
        [
            inpatient(1000000, level=3, date="2025-03-01"),
            inpatient(100000, level=3, date="2025-04-01"),
        ],
        person={"scheme": "employee"},
    )
    # basic cap 6 x 124110 = 744660 reached at cost 800 + 744660/0.8 = 931625: 68375 beyond
    assert pay(rows[0], "hifp_pay", "hifob_pay") == ("744660.00", "61537.50")
    # the whole of the next admission is beyond the cap point
    assert pay(rows[1], "hifp_pay", "hifob_pay") == ("0.00", "90000.00")
    assert rows[0]["hifmi_pay"] == "0.00"


def test_medical_assistance_classes_and_deductibles() -> None:
    (t,) = calc_settle([inpatient(10000)], person={"assistance_class": "tekun"})
    assert t["maf_pay"] == "2520.00"  # 90% of 2800 still owed
    rows = calc_settle(
        [inpatient(10000, date="2025-02-01"), inpatient(10000, date="2025-03-01")],
        person={"assistance_class": "low_income_edge"},
    )
    # deductible 10% of 41314 = 4131.40 a year: owed 2800 then 2650; (5450 - 4131.40) x 0.6
    assert [r["maf_pay"] for r in rows] == ["0.00", "791.16"]
    (n,) = calc_settle([inpatient(10000)])
    assert "medical assistance: not an aid recipient" in n["reasons"]


def test_medical_assistance_tiers_apply_in_order() -> None:
    tiers = [
        {"deductible": 0, "ratio": 0.9, "annual_cap": 1000},
        {"deductible": 0, "ratio": 0.5, "annual_cap": 10000},
    ]
    policy = {"medical_assistance": {"classes": {"tekun": {"tiers": tiers}}}}
    (s,) = calc_settle([inpatient(10000)], person={"assistance_class": "tekun"}, policy=policy)
    # tier 1: 90% of 2800 = 2520, limited to 1000; tier 2: 50% of the 1800 left
    assert s["maf_pay"] == "1900.00"
    assert [d["fund_payamt"] for d in s["setldetail"] if d["fund_pay_type"] == "610100"] == [
        "1000.00",
        "900.00",
    ]


def test_personal_account_then_mutual_aid_then_cash() -> None:
    person = {"scheme": "employee", "account_balance": 1000, "mutual_aid_balance": 500}
    (s,) = calc_settle([inpatient(10000)], person=person)
    assert pay(s, "hifp_pay", "psn_part_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay") == (
        "8075.00",
        "1925.00",
        "1000.00",
        "500.00",
        "425.00",
    )
    (n,) = calc_settle([inpatient(10000)], person={**person, "use_account": False})
    assert pay(n, "acct_pay", "acct_mulaid_pay", "psn_cash_pay") == ("0.00", "500.00", "1425.00")


def test_personal_account_balance_is_spent_once_over_the_year() -> None:
    rows = calc_settle(
        [inpatient(10000, date="2025-02-01"), inpatient(10000, date="2025-03-01")],
        person={"scheme": "employee", "account_balance": 2500},
    )
    assert [r["acct_pay"] for r in rows] == ["1925.00", "575.00"]


def test_waiting_period_means_everything_is_self_paid() -> None:
    rows = calc_settle(
        [inpatient(10000, date="2025-03-01"), inpatient(10000, date="2025-07-01")],
        person={"scheme": "employee", "entitled_from": "2025-06-01", "account_balance": 100},
    )
    assert pay(rows[0], "fund_pay_sumamt", "acct_pay", "psn_cash_pay") == (
        "0.00",
        "100.00",
        "9900.00",
    )
    assert rows[0]["reasons"][0].startswith("waiting period")
    # the self-paid claim did not count as an admission: the next one has the full deductible
    assert rows[1]["hifp_pay"] == "8075.00"


def test_rounding_once_per_layer_half_up() -> None:
    rows = calc_settle(
        [
            {"date": "2025-01-01", "med_type": "outpatient", "level": 2, "total": t}
            for t in (0.01, 0.03)
        ]
    )
    # 50% of 1 fen = 0.5 fen -> 1 fen; 50% of 3 fen = 1.5 fen -> 2 fen
    assert [r["hifp_pay"] for r in rows] == ["0.01", "0.02"]


def test_settlement_detail_names_fund_layers() -> None:
    (s,) = calc_settle([inpatient(300000, level=3)], person={"assistance_class": "tekun"})
    codes = [d["fund_pay_type"] for d in s["setldetail"]]
    assert codes == ["390100", "390200", "610100"]
    assert sum(float(d["fund_payamt"]) for d in s["setldetail"]) == float(s["fund_pay_sumamt"])


def test_a_cap_changed_mid_year_applies_to_the_years_total() -> None:
    policy = {"large_amount": {"cap": {"2025-01-01": 100000, "2025-07-01": 150000}}}
    rows = calc_settle(
        [
            inpatient(2000000, level=3, date="2025-03-01"),
            inpatient(2000000, level=3, date="2025-08-01"),
        ],
        person={"scheme": "employee"},
        policy=policy,
    )
    # March: the large-amount cap of 100000 is reached; August: the raised cap lets 50000 more
    assert [r["hifob_pay"] for r in rows] == ["100000.00", "50000.00"]
