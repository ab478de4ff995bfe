"""A year of claims for a chunk of persons: outpatient, pharmacy, chronic, inpatient, maternity.

Counts: each person has a frailty z ~ Gamma(shape 0.8, mean 1) shared by every kind of visit
(so that heavy users of one kind use the others too), and an exposure e = share of the year
from the first day they can have claims (birth, or enrolment during the year). Per person-year:

- outpatient visits ~ Poisson(OUTPATIENT_RATE[age band] · z · e)
- pharmacy purchases ~ Poisson(PHARMACY_RATE[scheme] · PHARMACY_AGE[band] · √z · e)
- inpatient admissions ~ Poisson(INPATIENT_RATE[band] · z · e)
- maternity admissions (women) ~ Bernoulli(BIRTH_RATE[age] · e)
- chronic visits ~ Poisson(condition visits · e) for persons with a registered condition

Costs are lognormal with the stated mean and log-sd σ (μ = ln mean − σ²/2); a small share of
admissions is catastrophic (a second lognormal) so that caps, critical illness insurance and
medical assistance are reached. A claim's drawn cost is the budget of its fee detail lines
(``synth.lines``): its total, fully self-paid, over-limit and category-B amounts are the sums of
its lines as the catalogue classifies them. Diagnoses, procedures and the discharge status come
from ``synth.visit_codes``. Every figure is documented with its source or as an assumption in
docs/synthetic-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.policy.vocab import MED_TYPES
from yibao.synth.catalog import (
    COMORBIDITIES,
    CONDITIONS,
    DELIVERY_OUTCOME,
    DIAGNOSTIC,
    DISCHARGE_CODES,
    INPATIENT,
    LOS_FACTOR,
    MATERNITY,
    NON_OPERATIVE,
    OUTPATIENT,
    Diagnosis,
    draw_by_band,
    sex_fixed,
    weight_cdf,
)
from yibao.synth.claim_rates import (
    BASE_LOS,
    BIRTH_RATE,
    CATASTROPHIC_COST,
    CATASTROPHIC_P,
    CHRONIC_LEVEL_COST,
    CHRONIC_T,
    CROSS,
    CROSS_CDF,
    CROSS_LEVEL3,
    CROSS_P,
    CROSS_REGION_COST,
    FRAILTY_SHAPE,
    INPATIENT_COST,
    INPATIENT_LEVELS,
    INPATIENT_RATE,
    INPATIENT_T,
    MATERNITY_COST,
    MATERNITY_LEVELS,
    MATERNITY_T,
    MAX_LOS,
    OUTPATIENT_COST,
    OUTPATIENT_LEVELS,
    OUTPATIENT_RATE,
    OUTPATIENT_T,
    PHARMACY_AGE,
    PHARMACY_COST,
    PHARMACY_RATE,
    PHARMACY_T,
)
from yibao.synth.columns import dates, strings
from yibao.synth.config import Area
from yibao.synth.coverage import RESIDENT, RETIREE
from yibao.synth.dates import I64, days_in_year, year_start
from yibao.synth.demography import BAND_OF_AGE
from yibao.synth.institutions import Institutions
from yibao.synth.lines import ItemPool, Visits, bill_claims
from yibao.synth.population import Persons
from yibao.synth.visit_codes import diagnoses, discharge_status, procedures

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

_ALL = (*INPATIENT, *MATERNITY, *OUTPATIENT)
DIAGNOSES = tuple(
    sorted(
        {d.code for d in _ALL}
        | {c.code for c in CONDITIONS}
        | {c for c, _ in COMORBIDITIES}
        | {DELIVERY_OUTCOME}
    )
)
PROCEDURES = tuple(
    sorted(
        {p for d in _ALL for p, _ in d.procedures}
        | {"39.95", "99.25"}
        | {p for p, _ in DIAGNOSTIC.values()}
    )
)
_DIAG = {c: i for i, c in enumerate(DIAGNOSES)}
#: procedures done without an operation (no anaesthesia billed), and "none" (index -1)
_NON_OPERATIVE = np.array([c in NON_OPERATIVE for c in PROCEDURES] + [True], dtype=np.bool_)
_PROC = {c: i for i, c in enumerate(PROCEDURES)}
#: severity of a principal diagnosis for in-hospital deaths: (0.5 + its catastrophic factor) / 1.5
_SEVERITY = np.ones(len(DIAGNOSES) + 1)
for _d in INPATIENT:
    _SEVERITY[_DIAG[_d.code]] = (0.5 + _d.catastrophic) / 1.5


@dataclass(frozen=True)
class _Catalogue:
    cdf: F64
    men: I64
    women: I64
    code: I64  # index into DIAGNOSES
    cost: F64
    catastrophic: F64
    los: F64  # LOS_FACTOR of the item's code
    proc: I64  # (items, 2) index into PROCEDURES, -1 none
    proc_p: F64  # (items, 2)


def _catalogue(items: tuple[Diagnosis, ...]) -> _Catalogue:
    men, women = sex_fixed(tuple(d.code for d in items), items)
    proc = np.full((len(items), 2), -1, dtype=np.int64)
    proc_p = np.zeros((len(items), 2))
    for i, d in enumerate(items):
        for j, (code, p) in enumerate(d.procedures):
            proc[i, j] = _PROC[code]
            proc_p[i, j] = p
    return _Catalogue(
        cdf=weight_cdf([d.weights for d in items]),
        men=men,
        women=women,
        code=np.array([_DIAG[d.code] for d in items], dtype=np.int64),
        cost=np.array([d.cost_factor for d in items]),
        catastrophic=np.array([d.catastrophic for d in items]),
        los=np.array([LOS_FACTOR.get(d.code, 1.0) for d in items]),
        proc=proc,
        proc_p=proc_p,
    )


_INPATIENT = _catalogue(INPATIENT)
_MATERNITY = _catalogue(MATERNITY)
_OUTPATIENT = _catalogue(OUTPATIENT)
_COND_DIAG = np.array([_DIAG[c.code] for c in CONDITIONS], dtype=np.int64)
_COND_VISITS = np.array([c.visits for c in CONDITIONS])
_COND_COST = np.array([c.mean_cost for c in CONDITIONS])
_COND_SIGMA = np.array([c.sigma for c in CONDITIONS])
_COND_LEVEL_CDF = np.cumsum(np.array([c.levels for c in CONDITIONS]), axis=1)[:, :2]
_COND_PROC = np.array(
    [
        _PROC["39.95"] if c.code == "N18" else _PROC["99.25"] if c.code[0] == "C" else -1
        for c in CONDITIONS
    ],
    dtype=np.int64,
)
_COND_PROC_P = np.where(_COND_PROC < 0, 0.0, np.where(_DIAG["N18"] == _COND_DIAG, 1.0, 0.6))


@dataclass
class _Block:
    person: I64
    med_type: int
    day: I64
    level: I64
    cross: I64
    total: I64
    diagnosis: I64
    procedure: I64
    los: I64
    institution: I64


def _lognormal(rng: np.random.Generator, mean: F64 | float, sigma: F64 | float, n: int) -> F64:
    sigma = np.asarray(sigma, dtype=np.float64)
    return np.asarray(mean * rng.lognormal(-(sigma**2) / 2, sigma, n), dtype=np.float64)


def _level(rng: np.random.Generator, shares: F64) -> I64:
    """Level 1..3 from per-row (or one) (p1, p2, p3)."""
    cdf = np.cumsum(shares, axis=-1)
    u = rng.random(shares.shape[0] if shares.ndim == 2 else 1)
    return np.asarray(1 + (u >= cdf[..., 0]) + (u >= cdf[..., 1]), dtype=np.int64)


def _cross(rng: np.random.Generator, p: float, n: int) -> I64:
    u = rng.random(n)
    kind = np.searchsorted(CROSS_CDF, rng.random(n), side="right")
    return np.asarray(np.where(u < p, kind, -1), dtype=np.int64)


def _procedure(rng: np.random.Generator, proc: I64, proc_p: F64) -> I64:
    u = rng.random(len(proc))
    first = u < proc_p[:, 0]
    second = ~first & (u < proc_p[:, 0] + proc_p[:, 1])
    return np.asarray(np.where(first, proc[:, 0], np.where(second, proc[:, 1], -1)), np.int64)


def _days(rng: np.random.Generator, start: I64, ndays: int) -> I64:
    return np.asarray(start + (rng.random(len(start)) * (ndays - start)).astype(np.int64), np.int64)


def _fen(yuan: F64) -> I64:
    return np.asarray(np.maximum(np.rint(yuan * 100), 100).astype(np.int64), dtype=np.int64)


def _admissions(
    rng: np.random.Generator,
    p: Persons,
    who: I64,
    group: I64,
    start: I64,
    ndays: int,
    inst: Institutions,
    maternity: bool,
) -> _Block:
    k = len(who)
    band = BAND_OF_AGE[p.age[who]]
    cat = _MATERNITY if maternity else _INPATIENT
    item = draw_by_band(rng, cat.cdf, band)
    item = np.where(p.male[who], cat.men[item], cat.women[item])
    level = _level(
        rng, MATERNITY_LEVELS[None, :].repeat(k, 0) if maternity else INPATIENT_LEVELS[group[who]]
    )
    cross = _cross(rng, float(CROSS_P[MATERNITY_T if maternity else INPATIENT_T]), k)
    level = np.where((cross >= 0) & (rng.random(k) < CROSS_LEVEL3), 3, level)
    if maternity:
        cost = _lognormal(rng, MATERNITY_COST[0] * cat.cost[item], MATERNITY_COST[1], k)
        cost *= np.where(level == 3, 1.25, 1.0)
        los = 2 + rng.poisson(2.0, k) + 2 * (cat.code[item] == _DIAG["O82"])
    else:
        mean, sigma = INPATIENT_COST
        cost = _lognormal(rng, mean[level] * cat.cost[item], sigma[level], k)
        catastrophic = rng.random(k) < CATASTROPHIC_P[level] * cat.catastrophic[item]
        big = _lognormal(rng, CATASTROPHIC_COST[0][level], CATASTROPHIC_COST[1], k)
        cost = np.where(catastrophic, big, cost)
        scale = (cost / mean[level]) ** 0.6 * rng.lognormal(0.0, 0.3, k)
        los = np.rint(BASE_LOS[level] * cat.los[item] * scale)
        los = np.clip(los, 1, MAX_LOS).astype(np.int64)
    cost = np.where(cross >= 0, cost * CROSS_REGION_COST, cost)
    day = _days(rng, start[who], ndays)
    # admitted no earlier than the first day of cover when that is inside the year
    floor = np.where(start[who] > 0, start[who], day - MAX_LOS)
    los = day - np.maximum(day - los, floor)
    return _Block(
        person=who,
        med_type=MATERNITY_T if maternity else INPATIENT_T,
        day=day,
        level=level,
        cross=cross,
        total=_fen(cost),
        diagnosis=cat.code[item],
        procedure=_procedure(rng, cat.proc[item], cat.proc_p[item]),
        los=np.asarray(los, dtype=np.int64),
        institution=inst.pick(rng, level, np.zeros(k, dtype=np.bool_), cross >= 0),
    )


def _outpatient(
    rng: np.random.Generator,
    p: Persons,
    who: I64,
    group: I64,
    start: I64,
    ndays: int,
    inst: Institutions,
) -> _Block:
    k = len(who)
    band = BAND_OF_AGE[p.age[who]]
    item = draw_by_band(rng, _OUTPATIENT.cdf, band)
    level = _level(rng, OUTPATIENT_LEVELS[group[who]])
    cross = _cross(rng, float(CROSS_P[OUTPATIENT_T]), k)
    mean, sigma = OUTPATIENT_COST
    cost = _lognormal(rng, mean[level], sigma[level], k)
    none = np.full(k, -1, dtype=np.int64)
    return _Block(
        who,
        OUTPATIENT_T,
        _days(rng, start[who], ndays),
        level,
        cross,
        _fen(cost),
        _OUTPATIENT.code[item],
        none,
        np.zeros(k, dtype=np.int64),
        inst.pick(rng, level, np.zeros(k, dtype=np.bool_), cross >= 0),
    )


def _pharmacy(
    rng: np.random.Generator, who: I64, start: I64, ndays: int, inst: Institutions
) -> _Block:
    k = len(who)
    level = np.ones(k, dtype=np.int64)
    cross = _cross(rng, float(CROSS_P[PHARMACY_T]), k)
    cost = _lognormal(rng, PHARMACY_COST[0], PHARMACY_COST[1], k)
    none = np.full(k, -1, dtype=np.int64)
    return _Block(
        who,
        PHARMACY_T,
        _days(rng, start[who], ndays),
        level,
        cross,
        _fen(cost),
        none,
        none,
        np.zeros(k, dtype=np.int64),
        inst.pick(rng, level, np.ones(k, dtype=np.bool_), cross >= 0),
    )


def _chronic(
    rng: np.random.Generator, p: Persons, who: I64, start: I64, ndays: int, inst: Institutions
) -> _Block:
    k = len(who)
    cond = p.condition[who]
    cdf = _COND_LEVEL_CDF[cond]
    u = rng.random(k)
    level = (1 + (u >= cdf[:, 0]) + (u >= cdf[:, 1])).astype(np.int64)
    cross = _cross(rng, float(CROSS_P[CHRONIC_T]), k)
    cost = _lognormal(rng, _COND_COST[cond] * CHRONIC_LEVEL_COST[level], _COND_SIGMA[cond], k)
    proc = np.where(rng.random(k) < _COND_PROC_P[cond], _COND_PROC[cond], -1)
    return _Block(
        who,
        CHRONIC_T,
        _days(rng, start[who], ndays),
        level,
        cross,
        _fen(cost),
        _COND_DIAG[cond],
        proc,
        np.zeros(k, dtype=np.int64),
        inst.pick(rng, level, np.zeros(k, dtype=np.bool_), cross >= 0),
    )


def make_claims(
    rng: np.random.Generator,
    area: Area,
    p: Persons,
    inst: Institutions,
    chunk: int,
    pool: ItemPool,
) -> tuple[pa.Table, pa.Table]:
    """The year's claims of the chunk's persons, sorted by (psn_no, date), and their fee detail
    lines (grouped by claim); the claims' amounts are the sums of their lines'."""
    n = len(p.age)
    ndays = days_in_year(area.year)
    y0 = year_start(area.year)
    start = p.start_day
    exposure = (ndays - start) / ndays
    frailty = rng.gamma(FRAILTY_SHAPE, 1.0 / FRAILTY_SHAPE, n)
    band = BAND_OF_AGE[p.age]
    group = np.where(p.scheme == RETIREE, 1, np.where(p.scheme == RESIDENT, 2, 0))
    idx = np.arange(n, dtype=np.int64)

    def repeat(rate: F64) -> I64:
        return np.repeat(idx, rng.poisson(rate))

    chronic_rate = np.where(p.condition >= 0, _COND_VISITS[np.maximum(p.condition, 0)], 0.0)
    births = ~p.male & (rng.random(n) < BIRTH_RATE[p.age] * exposure)
    blocks = [
        _admissions(
            rng,
            p,
            repeat(INPATIENT_RATE[band] * frailty * exposure),
            group,
            start,
            ndays,
            inst,
            maternity=False,
        ),
        _admissions(rng, p, idx[births], group, start, ndays, inst, maternity=True),
        _outpatient(
            rng, p, repeat(OUTPATIENT_RATE[band] * frailty * exposure), group, start, ndays, inst
        ),
        _pharmacy(
            rng,
            repeat(PHARMACY_RATE[group] * PHARMACY_AGE[band] * np.sqrt(frailty) * exposure),
            start,
            ndays,
            inst,
        ),
        _chronic(rng, p, repeat(chronic_rate * exposure), start, ndays, inst),
    ]

    person = np.concatenate([b.person for b in blocks])
    day = np.concatenate([b.day for b in blocks])
    order = np.argsort(person * 512 + day, kind="stable")

    def cat(name: str) -> I64:
        return np.concatenate([getattr(b, name) for b in blocks])[order]

    med_type = np.concatenate([np.full(len(b.person), b.med_type, np.int64) for b in blocks])
    med_type = med_type[order]
    person, day = person[order], day[order]
    los = cat("los")
    procedure = cat("procedure")
    claim_id = (np.int64(chunk) << 32) + np.arange(len(person), dtype=np.int64)
    sums, lines = bill_claims(
        rng,
        pool,
        Visits(
            med_type=med_type,
            level=cat("level"),
            cost=cat("total") / 100.0,
            day=y0 + day,
            los=los,
            procedure=pool_procedure(pool)[procedure],
            operated=(procedure >= 0) & ~_NON_OPERATIVE[procedure],
            sex=np.where(p.male[person], 1, 2).astype(np.int64),
            age=p.age[person],
        ),
        claim_id,
    )
    diagnosis = cat("diagnosis")
    band = BAND_OF_AGE[p.age[person]]
    condition = np.where(p.condition[person] >= 0, _COND_DIAG[p.condition[person]], -1)
    maternity = med_type == MATERNITY_T
    admitted = (med_type == INPATIENT_T) | maternity
    procedure_list, principal_procedure = procedures(
        rng, PROCEDURES, DIAGNOSES, procedure, diagnosis, admitted
    )
    date = y0 + day
    claims = pa.table(
        {
            "psn_no": pa.array(p.psn_no[person]),
            "date": dates(date),
            "med_type": strings(MED_TYPES, med_type),
            "level": pa.array(cat("level").astype(np.int8)),
            "cross_region": strings(CROSS, cat("cross")),
            "total": pa.array(sums.total),
            "fully_self_paid": pa.array(sums.fully_self_paid),
            "over_limit": pa.array(sums.over_limit),
            "category_b": pa.array(sums.category_b),
            "claim_id": pa.array(claim_id),
            "fixmedins_code": inst.codes.take(pa.array(cat("institution"))),
            "diagnosis": strings(DIAGNOSES, cat("diagnosis")),
            "procedure": strings(PROCEDURES, principal_procedure),
            "admit_date": dates(np.where(admitted, date - los, -1), -1),
            "los_days": pa.array(los.astype(np.int16)),
            "diagnoses": diagnoses(
                rng, DIAGNOSES, diagnosis, med_type == INPATIENT_T, maternity, band, condition
            ),
            "procedures": procedure_list,
            "discharge_status": strings(
                DISCHARGE_CODES,
                discharge_status(rng, admitted, maternity, band, _SEVERITY[diagnosis]),
            ),
        }
    )
    return claims, lines


def pool_procedure(pool: ItemPool) -> I64:
    """Index into ``pool.procedures`` of each of PROCEDURES (-1 when none), with a trailing -1
    for "no procedure" (index -1)."""
    index = {c: k for k, c in enumerate(pool.procedures)}
    return np.array([index.get(c, -1) for c in PROCEDURES] + [-1], dtype=np.int64)
