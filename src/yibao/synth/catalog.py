"""Diagnoses (ICD-10 categories), procedures (ICD-9-CM-3, as China's clinical version uses) and
the chronic and special outpatient conditions (门诊慢特病), with the weights and cost figures the
claims are drawn from.

Weights are relative, per age band (0–4, 5–14, 15–24, 25–34, 35–44, 45–54, 55–64, 65–74, 75–84,
85+); they are assumptions shaped after the leading causes of admission in the National Health
Commission's statistical yearbooks (respiratory disease for children and the old, circulatory
disease, neoplasms, injuries and digestive disease for adults). See docs/synthetic-data.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from yibao.synth.demography import N_BANDS

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Diagnosis:
    code: str
    weights: tuple[float, ...]
    #: "F" (women only) or "M" (men only): the other sex gets ``other`` instead
    sex: str = ""
    other: str = ""
    cost_factor: float = 1.0
    #: multiplies the level's probability that an admission is catastrophic
    catastrophic: float = 1.0
    procedures: tuple[tuple[str, float], ...] = ()
    #: multiplies the stay's length (LOS_FACTOR: short for cataract, long for stroke or fractures)
    los_factor: float = 1.0


#: Length of stay by principal diagnosis, relative to the level's base (assumption, shaped after
#: the NHC yearbook's average stays by disease: cataract ≈ 3 days, appendicitis ≈ 6, stroke and
#: hip fracture ≈ 11–14, cancers ≈ 10).
LOS_FACTOR = {
    "H25": 0.35, "K35": 0.75, "J20": 0.8, "A09": 0.7, "P59": 0.8, "K40": 0.7, "N20": 0.75,
    "K29": 0.85, "D25": 0.9, "I10": 0.9, "K80": 0.9, "E11": 1.1, "J44": 1.1, "I50": 1.1,
    "I63": 1.3, "S72": 1.5, "S82": 1.2, "S06": 1.3, "M17": 1.3, "M51": 1.1, "N18": 1.2,
    "C34": 1.2, "C16": 1.25, "C22": 1.2, "C18": 1.25, "C50": 1.1,
}  # fmt: skip


INPATIENT = (
    Diagnosis("J18", (30, 15, 5, 4, 4, 5, 7, 10, 14, 18), cost_factor=0.8, catastrophic=0.5),
    Diagnosis("J20", (20, 12, 3, 2, 2, 2, 2, 2, 2, 2), cost_factor=0.5, catastrophic=0.0),
    Diagnosis("A09", (12, 6, 4, 3, 2, 2, 1, 1, 1, 1), cost_factor=0.4, catastrophic=0.0),
    Diagnosis("P59", (6, 0, 0, 0, 0, 0, 0, 0, 0, 0), cost_factor=0.5, catastrophic=0.0),
    Diagnosis("I63", (0, 0, 0, 1, 3, 8, 14, 18, 20, 18), cost_factor=1.1, catastrophic=1.5,
              procedures=(("99.10", 0.1),)),
    Diagnosis("I25", (0, 0, 0, 1, 2, 6, 10, 12, 12, 10), cost_factor=1.3,
              procedures=(("36.07", 0.25), ("88.56", 0.3))),
    Diagnosis("I21", (0, 0, 0, 0.5, 1, 2, 3, 3, 3, 3), cost_factor=2.2, catastrophic=2.5,
              procedures=(("36.07", 0.7),)),
    Diagnosis("I50", (0, 0, 0, 0.2, 0.5, 1, 2, 4, 7, 10), cost_factor=1.0),
    Diagnosis("I10", (0, 0, 0.3, 1, 3, 5, 6, 6, 5, 4), cost_factor=0.6, catastrophic=0.0),
    Diagnosis("E11", (0, 0, 0.3, 1, 3, 5, 6, 5, 4, 3), cost_factor=0.8, catastrophic=0.3),
    Diagnosis("J44", (0, 0, 0, 0, 0.5, 2, 5, 8, 10, 10), cost_factor=0.9, catastrophic=0.8),
    Diagnosis("K80", (0, 0, 2, 4, 5, 5, 4, 3, 2, 1), cost_factor=1.1, catastrophic=0.3,
              procedures=(("51.23", 0.8),)),
    Diagnosis("K35", (1, 6, 8, 5, 3, 2, 1, 0.5, 0.3, 0.2), cost_factor=0.9, catastrophic=0.2,
              procedures=(("47.01", 0.9),)),
    Diagnosis("K29", (0, 1, 3, 3, 3, 3, 3, 2, 2, 1), cost_factor=0.5, catastrophic=0.0),
    Diagnosis("N20", (0, 0, 3, 5, 5, 4, 3, 2, 1, 0.5), cost_factor=0.7, catastrophic=0.0,
              procedures=(("98.51", 0.5),)),
    Diagnosis("S72", (0, 0.5, 0.5, 0.5, 0.5, 1, 1.5, 3, 6, 9), cost_factor=1.8, catastrophic=1.5,
              procedures=(("79.35", 0.5), ("81.51", 0.3))),
    Diagnosis("S82", (0.5, 3, 5, 4, 4, 4, 3, 2, 1, 0.5), cost_factor=1.3, catastrophic=0.5,
              procedures=(("79.36", 0.6),)),
    Diagnosis("S06", (2, 3, 4, 3, 3, 3, 2, 2, 2, 2), cost_factor=1.4, catastrophic=3.0,
              procedures=(("01.24", 0.1),)),
    Diagnosis("C34", (0, 0, 0, 0.2, 1, 3, 5, 5, 4, 2), cost_factor=1.8, catastrophic=4.0,
              procedures=(("32.41", 0.2), ("99.25", 0.5))),
    Diagnosis("C16", (0, 0, 0, 0.2, 0.8, 2, 3, 3, 2, 1), cost_factor=1.8, catastrophic=4.0,
              procedures=(("43.7", 0.25), ("99.25", 0.5))),
    Diagnosis("C22", (0, 0, 0, 0.3, 1, 2, 2.5, 2, 1.5, 0.5), cost_factor=1.8, catastrophic=4.0,
              procedures=(("50.22", 0.15), ("99.25", 0.3))),
    Diagnosis("C18", (0, 0, 0, 0.2, 0.7, 1.5, 2.5, 2.5, 2, 1), cost_factor=1.8, catastrophic=3.0,
              procedures=(("45.73", 0.3), ("99.25", 0.4))),
    Diagnosis("C50", (0, 0, 0, 0.5, 2, 3, 2.5, 1.5, 0.8, 0.3), sex="F", other="K40",
              cost_factor=1.5, catastrophic=2.0, procedures=(("85.43", 0.3), ("99.25", 0.5))),
    Diagnosis("D25", (0, 0, 0.3, 2, 4, 4, 1, 0, 0, 0), sex="F", other="K40", cost_factor=1.0,
              catastrophic=0.0, procedures=(("68.29", 0.6),)),
    Diagnosis("K40", (2, 1.5, 1, 1, 1, 1.5, 2, 2, 1.5, 1), cost_factor=0.7, catastrophic=0.0,
              procedures=(("53.00", 0.85),)),
    Diagnosis("H25", (0, 0, 0, 0, 0.2, 1, 4, 7, 7, 4), cost_factor=0.6, catastrophic=0.0,
              procedures=(("13.41", 0.95),)),
    Diagnosis("M17", (0, 0, 0, 0, 0.5, 2, 4, 5, 4, 2), cost_factor=1.5, catastrophic=0.5,
              procedures=(("81.54", 0.3),)),
    Diagnosis("M51", (0, 0, 1, 3, 5, 5, 4, 3, 2, 1), cost_factor=1.2, catastrophic=0.5,
              procedures=(("80.51", 0.3),)),
    Diagnosis("N18", (0, 0.2, 0.5, 1, 1.5, 2, 2.5, 3, 3, 3), cost_factor=1.3, catastrophic=1.5,
              procedures=(("39.95", 0.5),)),
)  # fmt: skip

MATERNITY = (
    Diagnosis("O80", (0, 0, 1, 1, 1, 0, 0, 0, 0, 0), cost_factor=0.85,
              procedures=(("73.59", 0.95),)),
    Diagnosis("O82", (0, 0, 0.8, 1, 1.3, 0, 0, 0, 0, 0), cost_factor=1.25,
              procedures=(("74.1", 1.0),)),
)  # fmt: skip

OUTPATIENT = (
    Diagnosis("J06", (40, 30, 15, 12, 10, 8, 6, 5, 5, 5)),
    Diagnosis("J02", (8, 10, 8, 6, 5, 4, 3, 2, 2, 2)),
    Diagnosis("J20", (15, 8, 3, 3, 3, 3, 4, 5, 6, 6)),
    Diagnosis("A09", (10, 5, 4, 4, 3, 3, 2, 2, 2, 2)),
    Diagnosis("R50", (6, 4, 2, 1, 1, 1, 1, 1, 1, 1)),
    Diagnosis("K29", (0, 1, 4, 6, 7, 7, 6, 5, 4, 3)),
    Diagnosis("I10", (0, 0, 0.3, 1, 4, 10, 16, 20, 20, 18)),
    Diagnosis("E11", (0, 0, 0.2, 1, 3, 7, 10, 10, 8, 6)),
    Diagnosis("I25", (0, 0, 0, 0.3, 1, 3, 6, 8, 9, 9)),
    Diagnosis("J44", (0, 0, 0, 0, 0.5, 1, 3, 5, 6, 6)),
    Diagnosis("M54", (0, 0.5, 2, 5, 7, 8, 7, 6, 5, 4)),
    Diagnosis("M17", (0, 0, 0, 0.2, 1, 3, 5, 6, 6, 5)),
    Diagnosis("L30", (6, 5, 6, 5, 4, 3, 3, 3, 3, 2)),
    Diagnosis("H10", (4, 3, 2, 2, 2, 1, 1, 1, 1, 1)),
    Diagnosis("K02", (3, 8, 5, 4, 3, 2, 2, 1, 1, 0.5)),
    Diagnosis("N39", (1, 1, 2, 3, 3, 3, 3, 3, 3, 3)),
)


#: ICD-9-CM-3 procedures done without an operation: no anaesthesia is billed with them
#: (chemotherapy, dialysis, thrombolysis, angiography, lithotripsy, PCI, vaginal delivery).
NON_OPERATIVE = ("99.25", "39.95", "99.10", "88.56", "98.51", "36.07", "73.59")


@dataclass(frozen=True)
class Condition:
    """A chronic or special outpatient condition (门诊慢特病) and how it is treated."""

    code: str
    weights: tuple[float, ...]
    visits: float  # a year
    mean_cost: float  # yuan per visit
    sigma: float  # log-sd of the cost per visit
    levels: tuple[float, float, float]
    sex: str = ""
    other: str = ""


CONDITIONS = (
    Condition("I10", (0, 0, 0.5, 3, 8, 12, 14, 14, 13, 12), 10, 220, 0.6, (0.5, 0.3, 0.2)),
    Condition("E11", (0, 0, 0.5, 2, 5, 8, 9, 8, 7, 5), 10, 300, 0.6, (0.45, 0.3, 0.25)),
    Condition("I25", (0, 0, 0, 0.2, 1, 3, 5, 6, 7, 7), 10, 380, 0.6, (0.35, 0.35, 0.3)),
    Condition("J44", (0, 0, 0, 0, 0.3, 1, 2, 3, 4, 4), 8, 420, 0.6, (0.4, 0.35, 0.25)),
    Condition("I69", (0, 0, 0, 0.2, 0.5, 1.5, 3, 4, 5, 5), 8, 400, 0.7, (0.4, 0.35, 0.25)),
    Condition("C34", (0, 0, 0, 0.3, 1, 1.5, 1.5, 1.2, 0.8, 0.4), 10, 4500, 0.9, (0, 0.25, 0.75)),
    Condition("C50", (0, 0, 0, 0.5, 1.5, 2, 1.5, 1, 0.5, 0.2), 10, 3800, 0.9, (0, 0.25, 0.75),
              sex="F", other="C18"),
    Condition("C18", (0, 0, 0, 0.2, 0.5, 1, 1.2, 1.2, 0.8, 0.3), 10, 4000, 0.9, (0, 0.25, 0.75)),
    Condition("N18", (0, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5, 0.5, 0.4, 0.2), 100, 420, 0.2,
              (0, 0.5, 0.5)),
    Condition("F20", (0, 0.5, 3, 4, 3, 2, 1.5, 1, 0.5, 0.3), 12, 350, 0.6, (0.2, 0.5, 0.3)),
    Condition("G20", (0, 0, 0, 0, 0.1, 0.3, 0.8, 1.5, 2, 2), 10, 450, 0.6, (0.2, 0.4, 0.4)),
    Condition("M05", (0, 0.1, 0.3, 0.6, 1, 1.2, 1.2, 1, 0.8, 0.5), 8, 450, 0.7, (0.2, 0.4, 0.4)),
    Condition("B18", (0, 0.2, 0.5, 1.5, 2, 2, 1.5, 1, 0.5, 0.2), 6, 900, 0.7, (0.1, 0.4, 0.5)),
    Condition("J45", (0, 3, 2, 1, 1, 1, 1, 1, 1, 0.5), 6, 300, 0.6, (0.3, 0.4, 0.3)),
    Condition("E10", (0, 2, 1.5, 0.5, 0.3, 0.2, 0.1, 0.1, 0, 0), 12, 350, 0.5, (0.1, 0.4, 0.5)),
)  # fmt: skip
#: Share of persons with a registered chronic or special condition, by age band (assumption).
CONDITION_PREVALENCE = (0.0, 0.002, 0.004, 0.01, 0.03, 0.07, 0.13, 0.20, 0.24, 0.22)


def weight_cdf(weights: list[tuple[float, ...]]) -> F64:
    """(bands, items) cumulative probabilities from per-item band weights; rows of zeros stay 0."""
    w = np.array(weights, dtype=np.float64).T
    assert w.shape[0] == N_BANDS
    total = w.sum(axis=1, keepdims=True)
    cdf = np.cumsum(w, axis=1) / np.where(total > 0, total, 1.0)
    cdf[:, -1] = np.where(total[:, 0] > 0, 1.0, 0.0)
    return np.asarray(cdf, dtype=np.float64)


def draw_by_band(
    rng: np.random.Generator, cdf: F64, band: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """An item index per row, drawn from the row's band of ``cdf``."""
    u = rng.random(len(band))
    idx = np.zeros(len(band), dtype=np.int64)
    for j in range(cdf.shape[1] - 1):
        idx += u >= cdf[band, j]
    return idx


class _Sexed(Protocol):
    @property
    def sex(self) -> str: ...
    @property
    def other(self) -> str: ...


def sex_fixed(
    codes: tuple[str, ...], items: Sequence[_Sexed]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Index maps (for men, for women) sending a sex-restricted item to its substitute."""
    index = {c: i for i, c in enumerate(codes)}
    men = np.arange(len(items), dtype=np.int64)
    women = men.copy()
    for i, item in enumerate(items):
        if item.sex == "F":
            men[i] = index[item.other]
        elif item.sex == "M":
            women[i] = index[item.other]
    return men, women


#: Comorbidities coded as secondary diagnoses of an inpatient stay: probability by age band
#: (0–4 … 85+). Shaped after the national prevalence surveys: hypertension 27.8% of adults in
#: 2013–14, rising steeply with age (Li Y. et al., "Burden of hypertension in China", 174,621
#: adults); diabetes 12.4% of adults in 2018 (Wang L. et al., JAMA 2021;326(24):2498); the
#: coding probabilities by band, dyslipidaemia, ischaemic heart disease and COPD are assumptions.
COMORBIDITIES = (
    ("I10", (0, 0, 0.01, 0.03, 0.08, 0.18, 0.30, 0.40, 0.48, 0.50)),
    ("E11", (0, 0, 0.005, 0.015, 0.04, 0.09, 0.14, 0.17, 0.18, 0.16)),
    ("E78", (0, 0, 0.01, 0.03, 0.06, 0.10, 0.13, 0.14, 0.12, 0.10)),
    ("I25", (0, 0, 0, 0.005, 0.01, 0.03, 0.06, 0.10, 0.14, 0.16)),
    ("J44", (0, 0, 0, 0, 0.005, 0.01, 0.03, 0.05, 0.08, 0.10)),
)
#: A registered chronic condition is coded as a secondary diagnosis of a stay with this
#: probability (assumption).
CONDITION_CODED_P = 0.8
#: Delivery records carry the outcome of delivery (Z37.0, single live birth) as a secondary
#: diagnosis (China's coding rules for the front page of the inpatient record).
DELIVERY_OUTCOME = "Z37.0"
#: A diagnostic procedure coded for a stay with the principal diagnosis, with a probability
#: (assumption): CT of the head for stroke and head injury, echocardiography for heart disease,
#: gastroscopy for gastritis, bronchoscopy for lung cancer, colonoscopy for colon cancer.
DIAGNOSTIC = {
    "I63": ("87.03", 0.8),
    "S06": ("87.03", 0.9),
    "I21": ("88.72", 0.6),
    "I25": ("88.72", 0.4),
    "I50": ("88.72", 0.6),
    "K29": ("45.13", 0.5),
    "C34": ("33.22", 0.3),
    "C18": ("45.23", 0.4),
}
#: 离院方式 (discharge status): 1 on medical advice, 2 transferred to another hospital,
#: 3 to a community or township health centre, 4 against medical advice, 5 died, 9 other.
DISCHARGE_CODES = ("1", "2", "3", "4", "5", "9")
#: In-hospital death probability by age band (× the diagnosis's severity, ``catastrophic``):
#: assumption, about 0.4% of stays overall.
DEATH_P = (0.002, 0.0003, 0.0003, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.015, 0.03)
#: transferred (2), to primary care (3; tripled at 65+), against advice (4), other (9)
TRANSFER_P, TO_PRIMARY_P, AGAINST_ADVICE_P, OTHER_EXIT_P = 0.012, 0.003, 0.03, 0.005
