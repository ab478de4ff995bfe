"""DIP cases grouped and pointed per second through the columnar path (kernel.dip_groups,
kernel.dip); the DRG grouper's rate is printed before it.

    python bench/dip.py [--cases 1000000] [--institutions 200] [--seed 1]

Generates ``--cases`` discharged inpatient cases (not timed): principal diagnoses and procedures
drawn from the synthetic area's inpatient list (``synth.catalog.INPATIENT``, by the weights of
the 65–74 band, each procedure with its probability), one or two secondary diagnoses from the
comorbidity list for a third of the cases, costs lognormal around 9,000 yuan × the diagnosis's
cost factor, 25% paid by the patient, ages 0–95, ``--institutions`` hospitals with coefficients
0.9–1.1. A DIP group table is built from the cases (not timed; its scores and average costs come
from the same cases). Timed: each case's group found (key ``diagnosis:procedure`` looked up in
the table, else its chapter's comprehensive group), its points (kind, outliers, coefficient),
the total and the point value, standards, fund due and the sums by institution. Last line:
``cases/s: <n>``.
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

import numpy as np
import pyarrow as pa

from yibao.kernel.dip import (
    case_fund_due,
    case_points,
    case_standards,
    institution_sums,
    total_points,
)
from yibao.kernel.dip_groups import assign_groups, build_groups
from yibao.kernel.drg import compile_drg_table, group_cases
from yibao.policy.group_tables import read_table, shipped_drg_table
from yibao.rules.provider_payment import GroupBuilding, OutlierThresholds, point_value
from yibao.synth.catalog import COMORBIDITIES, INPATIENT

BAND = 7  # 65–74


def generate(n: int, institutions: int, seed: int) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    weights = np.array([d.weights[BAND] for d in INPATIENT], np.float64)
    which = rng.choice(len(INPATIENT), size=n, p=weights / weights.sum())
    codes = np.array([d.code for d in INPATIENT], dtype=object)
    procedure = np.full(n, None, dtype=object)
    u = rng.random(n)
    for i, d in enumerate(INPATIENT):
        at = which == i
        low = 0.0
        for code, p in d.procedures:
            procedure[at & (u >= low) & (u < low + p)] = code
            low += p
    factor = np.array([d.cost_factor for d in INPATIENT])[which]
    cost = (rng.lognormal(np.log(9_000 * factor) - 0.32, 0.8) * 100).astype(np.int64) + 100
    extra = np.array([c for c, _ in COMORBIDITIES], dtype=object)
    lists = []
    for i in range(n):
        k = int(u[i] * 3 * 7) % 3 if u[i] < 0.33 else 0
        lists.append([codes[which[i]], *extra[rng.integers(0, len(extra), k)]])
    return {
        "diagnosis": pa.array(codes[which], pa.string()),
        "procedure": pa.array(procedure, pa.string()),
        "diagnoses": pa.array(lists, pa.list_(pa.string())),
        "cost": cost,
        "paid": cost // 4,
        "age": rng.integers(0, 96, n),
        "institution": rng.integers(0, institutions, n),
        "coefficients": rng.integers(9_000, 11_001, institutions),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--institutions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n = args.cases
    data = generate(n, args.institutions, args.seed)
    diagnosis = data["diagnosis"]
    procedure = data["procedure"]
    cost = data["cost"]
    assert isinstance(diagnosis, pa.Array) and isinstance(procedure, pa.Array)
    assert isinstance(cost, np.ndarray)
    year = np.full(n, 2024, np.int64)
    groups = build_groups(year, diagnosis, procedure, cost, [2024], GroupBuilding(15, (7,), 1000))
    codes = [g.code for g in groups]
    weight = np.array([g.score for g in groups], np.int64)
    avg = np.array([g.avg_cost for g in groups], np.int64)
    thresholds = OutlierThresholds(low=5_000, high=20_000, review=50_000)
    fund = sum(int(c) for c in cost) * 3 // 4

    start = time.perf_counter()
    group = assign_groups(diagnosis, procedure, codes)
    ok = group >= 0
    g = np.where(ok, group, 0)
    inst = data["institution"]
    coefficients = data["coefficients"]
    assert isinstance(inst, np.ndarray) and isinstance(coefficients, np.ndarray)
    pointed = case_points(
        cost,
        weight[g],
        avg[g],
        np.zeros(n, np.bool_),
        np.zeros(n, np.int64),
        coefficients[inst],
        thresholds,
    )
    points = np.where(ok, pointed.points, 0)
    value = point_value(fund, Decimal("0.75"), total_points(points))
    standard = case_standards(points, value)
    paid = data["paid"]
    assert isinstance(paid, np.ndarray)
    due = case_fund_due(standard, paid)
    sums = institution_sums(inst, args.institutions, points, standard, due)
    dip_seconds = time.perf_counter() - start

    rows = read_table(shipped_drg_table("000000") or "", "drg")
    table = compile_drg_table(rows)
    age = data["age"]
    diagnoses = data["diagnoses"]
    assert isinstance(age, np.ndarray) and isinstance(diagnoses, pa.Array)
    start = time.perf_counter()
    assigned = group_cases(table, diagnosis, procedure, diagnoses, age)
    drg_seconds = time.perf_counter() - start

    ungrouped = int(np.count_nonzero(~ok))
    print(f"cases: {n}, DIP groups: {len(groups)}, ungrouped: {ungrouped}")
    print(
        f"point value: {Decimal(value).scaleb(-6)}, institutions' fund due (yuan): "
        f"{Decimal(int(sums.fund_due.sum())).scaleb(-2)}"
    )
    print(f"DIP grouping and pointing: {dip_seconds:.3f} s")
    print(
        f"DRG grouping: {drg_seconds:.3f} s, ungrouped "
        f"{int(np.count_nonzero(assigned.drg < 0))}, drg cases/s: {int(n / drg_seconds)}"
    )
    print(f"cases/s: {int(n / dip_seconds)}")


if __name__ == "__main__":
    main()
