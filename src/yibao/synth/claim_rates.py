"""The figures behind a year of generated claims (``synth.claims``): visit and admission rates
by age band, level shares, cost distributions, lengths of stay and cross-region shares (the
parts of a claim outside the fund's scope follow from its lines: ``synth.line_mix``). Each is
documented with its source or as an assumption in docs/synthetic-data.md."""

from __future__ import annotations

import numpy as np

from yibao.policy.vocab import CROSS_REGIONS, MED_TYPES
from yibao.synth.demography import by_age

INPATIENT_T, OUTPATIENT_T, CHRONIC_T, MATERNITY_T, PHARMACY_T = range(len(MED_TYPES))
CROSS = CROSS_REGIONS[1:]  # away from home
CROSS_CDF = np.array([0.6, 0.85])

FRAILTY_SHAPE = 0.8
# per person-year by age band 0–4, 5–14, 15–24, 25–34, 35–44, 45–54, 55–64, 65–74, 75–84, 85+
OUTPATIENT_RATE = np.array([5.0, 2.5, 2.0, 2.5, 2.8, 3.5, 4.5, 6.0, 7.0, 7.0])
INPATIENT_RATE = np.array([0.20, 0.07, 0.08, 0.10, 0.12, 0.18, 0.28, 0.45, 0.65, 0.78])
PHARMACY_AGE = np.array([0.5, 0.5, 0.6, 0.8, 0.9, 1.0, 1.2, 1.4, 1.5, 1.4])
#: by scheme group: employees in service and flexible, retirees, residents
PHARMACY_RATE = np.array([3.0, 6.0, 0.8])
BIRTH_RATE = by_age(
    {(20, 24): 0.045, (25, 29): 0.085, (30, 34): 0.06, (35, 39): 0.025, (40, 44): 0.006}
)

#: level shares (level 1, 2, 3) by scheme group
OUTPATIENT_LEVELS = np.array([[0.40, 0.30, 0.30], [0.45, 0.30, 0.25], [0.65, 0.22, 0.13]])
INPATIENT_LEVELS = np.array([[0.08, 0.32, 0.60], [0.10, 0.35, 0.55], [0.25, 0.40, 0.35]])
MATERNITY_LEVELS = np.array([0.05, 0.55, 0.40])

#: yuan, by level 1..3 (index 0 unused): mean and log-sd of a visit's or admission's cost
OUTPATIENT_COST = np.array([0, 100.0, 230.0, 420.0]), np.array([0, 0.8, 0.9, 0.9])
PHARMACY_COST = 130.0, 0.9
INPATIENT_COST = np.array([0, 3000.0, 6300.0, 11000.0]), np.array([0, 0.7, 0.8, 0.85])
CATASTROPHIC_P = np.array([0, 0.0, 0.003, 0.015])
CATASTROPHIC_COST = np.array([0, 60000.0, 100000.0, 120000.0]), 0.8
CROSS_REGION_COST = 1.3
MATERNITY_COST = 5500.0, 0.35
CHRONIC_LEVEL_COST = np.array([0, 0.8, 1.0, 1.25])
#: length of stay: BASE_LOS[level] · LOS_FACTOR[diagnosis] · (cost / mean cost of the level)^0.6
#: · lognormal(0, 0.3)
BASE_LOS = np.array([0, 6.6, 7.5, 8.9])
MAX_LOS = 180

#: probability that a claim is cross-region, by med type (inpatient, outpatient, chronic,
#: maternity, pharmacy); a cross-region admission is at level 3 with probability 0.85
CROSS_P = np.array([0.07, 0.02, 0.015, 0.03, 0.01])
CROSS_LEVEL3 = 0.85
