"""The figures behind a claim's fee detail lines (费用明细, ``synth.lines``): how many lines of
each role a visit has, the drug share of its cost (药占比), the class mix (甲/乙/丙), and the small
shares of lines over a price limit or outside a restriction. Each figure is documented with its
source or as an assumption in docs/synthetic-data.md.

Roles group the catalogue's items by what a line does in a bill; ``synth.lines`` assigns each
catalogue item its role from its kind and attributes (never from a hard-coded code).
"""

from __future__ import annotations

import numpy as np

#: Roles, from an item's kind, fee type (医疗收费项目类别) and daily maximum: BED (01) and NURSING
#: (07) and WARD (02, an inpatient's daily examination fee) are billed once on each day of a stay
#: (items of at most one unit a day); CONSULT: an outpatient examination fee (02, 12, 13);
#: SERVICE: examinations, tests, treatment (03, 04, 05, 14); ANAESTHESIA: a fee-type-06 item of
#: no procedure, billed with an operation; DRUG; CONSUMABLE. Items the catalogue ties to an
#: ICD-9-CM-3 procedure (its ``procedure`` column) are billed with visits that have it.
BED, NURSING, WARD, CONSULT, SERVICE, ANAESTHESIA, DRUG, CONSUMABLE = range(8)
ROLES = ("bed", "nursing", "ward", "consult", "service", "anaesthesia", "drug", "consumable")
DAILY_ROLES = (BED, NURSING, WARD)
#: roles whose lines draw a class (CLASS_P); the others take whichever item is nearest in price
CLASSED_ROLES = (SERVICE, DRUG, CONSUMABLE)

#: Lines of each role per visit: Poisson(a + b × days of stay), at least ``min``. Rows: med type
#: (inpatient, outpatient, chronic, maternity, pharmacy); columns: SERVICE, DRUG, CONSUMABLE.
LINES_A = np.array(
    [[4.0, 4.0, 1.5], [0.6, 1.2, 0.15], [0.5, 1.5, 0.1], [4.0, 3.0, 2.0], [0.0, 1.2, 0.0]]
)
LINES_B = np.array(
    [[1.2, 1.5, 0.4], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [1.0, 1.2, 0.3], [0.0, 0.0, 0.0]]
)
LINES_MIN = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 0]])
#: target price of the daily items (yuan a day) by level 1..3 (index 0 unused): bed, nursing, ward
DAILY_YUAN = np.array([[0, 0, 0], [25.0, 9.0, 15.0], [35.0, 16.0, 20.0], [55.0, 28.0, 20.0]])
#: an outpatient examination fee by level (yuan)
CONSULT_YUAN = np.array([0, 8.0, 12.0, 20.0])
#: with a procedure: each service item tied to it is billed with probability 1 for the first (in
#: code order) and PROC_OTHER_P for the others; each consumable tied to it with PROC_CONSUMABLE_P
PROC_OTHER_P = 0.3
PROC_CONSUMABLE_P = 0.8
#: with a procedure done without an operation (chemotherapy, dialysis …: repeated), an item
#: tied to it costing DEVICE_YUAN or more (an implanted port) is billed with REPEAT_DEVICE_P only
DEVICE_YUAN = 1_000.0
REPEAT_DEVICE_P = 0.05
#: anaesthesia hours with an operation at level ≥ 2: 1 + Poisson(1.5)
ANAESTHESIA_EXTRA_HOURS = 1.5

#: Drug share of a visit's cost (药占比): mean by med type and level 1..3 (column 0 unused).
#: Each visit draws Beta(DRUG_SHARE_A · m, DRUG_SHARE_A · (1 − m)).
DRUG_SHARE = np.array(
    [
        [0, 0.32, 0.28, 0.25],  # inpatient
        [0, 0.55, 0.42, 0.38],  # outpatient
        [0, 0.75, 0.65, 0.60],  # chronic
        [0, 0.18, 0.16, 0.15],  # maternity
        [0, 1.0, 1.0, 1.0],  # pharmacy: drugs only
    ]
)
DRUG_SHARE_A = 6.0
#: the non-drug, non-daily, non-procedure cost split: consumables' share of it by med type
CONSUMABLE_SHARE = np.array([0.30, 0.10, 0.05, 0.30, 0.0])

#: Class mix (甲 A, 乙 B, 丙 C) of lines by med type and role (SERVICE, DRUG, CONSUMABLE):
#: probabilities per line.
CLASS_P = np.array(
    [
        [[0.78, 0.14, 0.08], [0.55, 0.35, 0.10], [0.45, 0.40, 0.15]],  # inpatient
        [[0.88, 0.08, 0.04], [0.82, 0.12, 0.06], [0.75, 0.15, 0.10]],  # outpatient
        [[0.88, 0.10, 0.02], [0.88, 0.10, 0.02], [0.90, 0.05, 0.05]],  # chronic
        [[0.85, 0.10, 0.05], [0.55, 0.40, 0.05], [0.60, 0.30, 0.10]],  # maternity
        [[1.0, 0.0, 0.0], [0.66, 0.18, 0.16], [1.0, 0.0, 0.0]],  # pharmacy
    ]
)
#: The lines' budget is the claim's drawn cost × COST_SCALE[med type, level] (column 0 unused):
#: calibrated so that the lines' totals keep the drawn averages by level (the fixed items of a
#: stay and whole units add to the budget).
COST_SCALE = np.array(
    [
        [0, 0.78, 0.87, 0.965],
        [0, 0.96, 0.97, 0.97],
        [0, 0.99, 0.69, 0.85],
        [0, 1.0, 1.0, 1.0],
        [0, 0.99, 0.99, 0.99],
    ]
)

#: Share of lines of items with a price limit that are billed above it, by med type.
OVER_LIMIT_P = np.array([0.25, 0.10, 0.10, 0.20, 0.10])
#: how far above the limit: U(low, high) × the limit
OVER_LIMIT_RANGE = (0.05, 0.40)
#: Share of lines drawn from every item (restricted ones included) rather than from the items
#: without a sex, age or level restriction.
RESTRICTED_P = 0.01
#: Share of lines of an item restricted to indications (限适应症) the hospital approves.
APPROVED_P = 0.95
#: Price a hospital charges around the catalogue's typical price: lognormal log-sd.
PRICE_SIGMA = 0.10
#: Spread of the picked item's price around a line's target price (log-sd), and the typical
#: quantity per line: 1 + Poisson(QUANTITY_EXTRA[role]).
TARGET_SIGMA = 0.5
#: an item of the drawn class priced above FAR_ABOVE × the target gives way to the role's
#: nearest item of any class
FAR_ABOVE = 2.5
QUANTITY_EXTRA = np.array([0.0, 0.0, 0.0, 0.0, 0.6, 0.0, 2.0, 1.0])
