"""``yibao project``: the insurance funds' income, expenditure, balance and reserve months year by
year, from an area's settled year, under the baseline and each reform (docs/simulation.md,
Projection).

1. **The settled year.** The area's claims are settled through the one kernel under every
   scenario (``simulation.engine.settle_part``, as ``yibao simulate`` does), contributions by the
   contribution rules. Per cell of (insured category, sex, age 0..100) and scenario: persons,
   the funds' income (contributions − personal-account credits) and expenditure (basic pooling
   + critical illness + large amount: hifp + hifmi + hifob; medical assistance is financed
   apart). These are year 0 of the projection, to the fen.
2. **Per-person profiles** by (category, sex, 5-year age band): income and expenditure per
   person of the settled year.
3. **Population** (``projection.ageing``): each year every cell ages one year and survives by a
   Gompertz life table per sex fitted to the published life expectancy and infant mortality;
   employees in service and flexible workers reaching the retirement age become retirees;
   newborns (births per thousand of the population, boys per hundred girls) enrol as residents;
   each scheme's cells are multiplied by its enrolment drift.
4. **Amounts of year t** = Σ cells persons × profile × growth^t (cost growth for expenditure,
   wage growth for the employee fund's income, income growth for the resident fund's), rounded
   half up to the fen once per fund and year. A reform's profiles apply from its year of effect;
   before it the baseline's.
5. **Balance** = the opening balance (``opening_reserve_months`` × the settled year's baseline
   expenditure ÷ 12) + each year's surplus; reserve months by ``rules.funds.reserve_months``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.batch.simulation.aggregate import SCHEMES
from yibao.batch.simulation.contributions import CATEGORIES, FLEXIBLE, RESIDENT, RETIREE
from yibao.batch.simulation.contributions import EMPLOYEE as IN_SERVICE
from yibao.batch.simulation.engine import (
    INPATIENT,
    Scenario,
    inpatient_by_level,
    scenario,
    settle_part,
)
from yibao.batch.simulation.local import AreaError, area_meta, check_area, read_slice
from yibao.batch.simulation.reform import load_reforms
from yibao.batch.simulation.run import calibration
from yibao.policy import ParameterError, Policy, UnknownRegion
from yibao.policy.params import fen_to_yuan
from yibao.rules.funds import reserve_months
from yibao.synth.calibrated import BenefitsError, area_overlays, benefits_of

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

MAX_AGE = 100
AGES = MAX_AGE + 1
BAND = 5
BANDS = MAX_AGE // BAND + 1
SEXES = ("female", "male")
FUNDS = ("employee", "resident")
MAX_YEARS = 50
#: a fund's scheme by insured category (CATEGORIES order)
FUND_OF = np.array([0 if c != "resident" else 1 for c in CATEGORIES], dtype=np.int64)
SPENT = ("hifp_pay", "hifmi_pay", "hifob_pay")


class ProjectionError(ValueError):
    """A bad projection input: ``field: reason`` (one line)."""

    def __init__(self, field_name: str, reason: str) -> None:
        self.field = field_name
        self.reason = reason
        super().__init__(f"{field_name}: {reason}")


# ----------------------------------------------------------------------------- assumptions


def _number(low: float, high: float) -> Callable[[Any], Decimal]:
    def check(value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueError(f"must be a number, not {value!r}")
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"must be a number, not {value!r}") from None
        if not number.is_finite() or not Decimal(str(low)) <= number <= Decimal(str(high)):
            raise ValueError(f"must be between {low:g} and {high:g}, got {value}")
        return number

    return check


def _whole(low: int, high: int) -> Callable[[Any], Decimal]:
    number = _number(low, high)

    def check(value: Any) -> Decimal:
        found = number(value)
        if found != found.to_integral_value():
            raise ValueError(f"must be a whole number, got {value}")
        return found

    return check


def _flag(value: Any) -> Decimal:
    if isinstance(value, bool):
        return Decimal(int(value))
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return Decimal(1)
    if text in ("false", "0", "no"):
        return Decimal(0)
    raise ValueError(f"must be true or false, not {value!r}")


#: the ``projection.*`` parameters: name (under ``projection.``) -> check
PARAMETERS: dict[str, Callable[[Any], Decimal]] = {
    "growth.cost_factor": _number(0.5, 1.5),
    "growth.wage_factor": _number(0.5, 1.5),
    "growth.income_factor": _number(0.5, 1.5),
    "enrolment_drift.employee_factor": _number(0.5, 1.5),
    "enrolment_drift.resident_factor": _number(0.5, 1.5),
    "ageing": _flag,
    "births_per_thousand": _number(0, 60),
    "boys_per_hundred_girls": _number(80, 130),
    "mortality.life_expectancy.male": _number(30, 100),
    "mortality.life_expectancy.female": _number(30, 100),
    "mortality.infant": _number(0, 0.2),
    "mortality.gompertz_slope": _number(0.02, 0.2),
    "retirement_age.male": _whole(40, 75),
    "retirement_age.female": _whole(40, 75),
    "opening_reserve_months.employee": _number(0, 240),
    "opening_reserve_months.resident": _number(0, 240),
}


@dataclass(frozen=True)
class Assumptions:
    """The ``projection.*`` parameters in force, checked (``values`` by name)."""

    values: dict[str, Decimal]

    def __getitem__(self, name: str) -> Decimal:
        return self.values[name]

    def f(self, name: str) -> float:
        return float(self.values[name])

    @property
    def ageing(self) -> bool:
        return bool(self.values["ageing"])


def assumptions(
    policy: Policy, on: dt.date, overrides: Mapping[str, str] | None = None
) -> Assumptions:
    """The region's ``projection.*`` parameters on ``on`` with ``overrides`` (name → text, the
    command line's ``--set``) on top; a bad one is a ``ProjectionError`` naming it."""
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(PARAMETERS))
    if unknown:
        raise ProjectionError(f"projection.{unknown[0]}", "unknown parameter")
    values: dict[str, Decimal] = {}
    for name, check in PARAMETERS.items():
        path = f"projection.{name}"
        if name in overrides:
            raw: Any = overrides[name]
        else:
            try:
                raw = policy.get(path, on)
            except ParameterError as exc:
                raise ProjectionError(path, exc.reason) from None
        try:
            values[name] = check(raw)
        except ValueError as exc:
            raise ProjectionError(path, str(exc)) from None
    return Assumptions(values)


# ------------------------------------------------------------------------------ life table


def gompertz_q(life_expectancy: float, infant: float, slope: float) -> F64:
    """Death probabilities q(0..100) (q(100) = 1: the last age is open): q(0) = ``infant``;
    from age 1 a Gompertz force of mortality a·e^(slope·x), with a solved (bisection) so that
    the life expectancy at birth is ``life_expectancy``."""

    def table(a: float) -> F64:
        x = np.arange(AGES, dtype=np.float64)
        hazard = a / slope * np.exp(slope * x) * (math.exp(slope) - 1.0)
        q = 1.0 - np.exp(-hazard)
        q[0] = infant
        q[MAX_AGE] = 1.0
        return np.asarray(q, dtype=np.float64)

    def e0(a: float) -> float:
        q = table(a)
        alive = np.concatenate([[1.0], np.cumprod(1.0 - q)[:-1]])
        dead = alive * q
        return float((alive - 0.5 * dead).sum())  # deaths mid-year

    lo, hi = 1e-9, 1.0
    if not e0(hi) <= life_expectancy <= e0(lo):
        raise ProjectionError(
            "projection.mortality.life_expectancy",
            f"{life_expectancy} cannot be reached with infant mortality {infant} and slope {slope}",
        )
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if e0(mid) > life_expectancy:
            lo = mid
        else:
            hi = mid
    return table(math.sqrt(lo * hi))


def life_expectancy(q: F64) -> float:
    alive = np.concatenate([[1.0], np.cumprod(1.0 - q)[:-1]])
    return float((alive - 0.5 * alive * q).sum())


# ----------------------------------------------------------------------------- settled year


@dataclass
class Cells:
    """The settled year per (category, sex, age): persons, and per scenario the funds' income
    and expenditure in fen."""

    persons: I64  # (4, 2, 101)
    income: I64  # (K, 4, 2, 101)
    spent: I64  # (K, 4, 2, 101)
    claims: int = 0
    #: the baseline's ``engine.INPATIENT`` amounts per name, per scheme (employee, resident):
    #: the calibration table's fund payment ratios (``Accumulator.inpatient_by_level``)
    inpatient: dict[str, list[int]] = field(default_factory=dict)

    @staticmethod
    def empty(scenarios: int) -> Cells:
        shape = (len(CATEGORIES), 2, AGES)
        return Cells(
            np.zeros(shape, np.int64),
            np.zeros((scenarios, *shape), np.int64),
            np.zeros((scenarios, *shape), np.int64),
            inpatient={name: [0, 0] for name in INPATIENT},
        )


def settle_part_cells(
    persons_path: Path, claims_path: Path, scenarios: list[Scenario], year: int
) -> Cells:
    """One part settled under every scenario through the kernel, summed per cell."""
    cells = Cells.empty(len(scenarios))
    names = pq.read_schema(persons_path).names
    missing = [c for c in ("sex", "birth_date") if c not in names]
    if missing:
        raise AreaError(f"--area: {persons_path.name} has no {missing[0]} column (ageing)")
    part = read_slice(persons_path, claims_path, year)
    sums = settle_part(part, scenarios)
    people = pq.read_table(persons_path, columns=["psn_no", "sex", "birth_date"])
    people = people.sort_by("psn_no")
    male = np.asarray(pc.equal(people["sex"], "M").fill_null(False).to_numpy(), np.int64)
    born = np.asarray(pc.year(people["birth_date"]).fill_null(year).to_numpy(), np.int64)
    age = np.clip(year - born, 0, MAX_AGE)
    cell = (part.category * 2 + male) * AGES + age
    cells.persons += np.bincount(cell, minlength=cells.persons.size).reshape(cells.persons.shape)
    cells.claims = len(part.claims)
    resident = part.category == RESIDENT
    for name in INPATIENT:
        values = sums[f"s0_{name}"]
        cells.inpatient[name] = [int(values[~resident].sum()), int(values[resident].sum())]
    for k in range(len(scenarios)):
        income = sums[f"s{k}_contributions"] - sums[f"s{k}_account_credits"]
        spent = sum((sums[f"s{k}_{n}"] for n in SPENT), np.zeros(len(cell), np.int64))
        np.add.at(cells.income[k].reshape(-1), cell, income)  # reshape: a view (contiguous)
        np.add.at(cells.spent[k].reshape(-1), cell, spent)
    return cells


def settle_cells(
    area: Path,
    scenarios: list[Scenario],
    year: int,
    workers: int | None = None,
    on_part: Callable[[int], None] | None = None,
) -> Cells:
    """The area's year settled under every scenario through the kernel, summed per cell; parts
    in parallel threads (the compiled kernel runs without the GIL). ``on_part(claims)`` is
    called as each part is done."""
    todo = check_area(area)
    cells = Cells.empty(len(scenarios))
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        futures = [pool.submit(settle_part_cells, p, c, scenarios, year) for p, c in todo]
        for future in futures:
            done = future.result()
            cells.persons += done.persons
            cells.income += done.income
            cells.spent += done.spent
            cells.claims += done.claims
            for name, by_scheme in done.inpatient.items():
                cells.inpatient[name] = [
                    a + b for a, b in zip(cells.inpatient[name], by_scheme, strict=True)
                ]
            if on_part is not None:
                on_part(done.claims)
    return cells


# ------------------------------------------------------------------------------ projection


def _banded(values: I64, persons: I64) -> F64:
    """Per-person amounts by (category, sex, 5-year band), spread back to single ages."""
    band_of = np.arange(AGES) // BAND
    sums = np.zeros((*values.shape[:-1], BANDS))
    counts = np.zeros((*persons.shape[:-1], BANDS))
    for b in range(BANDS):
        mask = band_of == b
        sums[..., b] = values[..., mask].sum(axis=-1)
        counts[..., b] = persons[..., mask].sum(axis=-1)
    per = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.asarray(per[..., band_of], dtype=np.float64)


def populations(cells: Cells, a: Assumptions, years: int) -> list[F64]:
    """The persons per cell in each projected year (year 0: the settled year's)."""
    pop = cells.persons.astype(np.float64)
    out = [pop]
    q = np.stack(
        [
            gompertz_q(a.f(f"mortality.life_expectancy.{s}"), a.f("mortality.infant"),
                       a.f("mortality.gompertz_slope"))
            for s in SEXES
        ]
    )  # fmt: skip
    drift = np.where(FUND_OF == 1, a.f("enrolment_drift.resident_factor"),
                     a.f("enrolment_drift.employee_factor"))  # fmt: skip
    retire = [int(a["retirement_age.female"]), int(a["retirement_age.male"])]
    boys = a.f("boys_per_hundred_girls")
    for _ in range(1, years):
        if a.ageing:
            new = np.zeros_like(pop)
            survive = pop * (1.0 - q[None, :, :])
            new[:, :, 1:] = survive[:, :, :-1]
            new[:, :, MAX_AGE] += survive[:, :, MAX_AGE]
            for s in range(2):
                for c in (IN_SERVICE, FLEXIBLE):
                    new[RETIREE, s, retire[s] :] += new[c, s, retire[s] :]
                    new[c, s, retire[s] :] = 0.0
            births = pop.sum() * a.f("births_per_thousand") / 1000.0
            new[RESIDENT, 1, 0] += births * boys / (100.0 + boys)
            new[RESIDENT, 0, 0] += births * 100.0 / (100.0 + boys)
            pop = new
        pop = pop * drift[:, None, None]
        out.append(pop)
    return out


def _fen(x: float) -> int:
    """Half up to the fen (amounts here are never negative)."""
    return math.floor(x + 0.5)


@dataclass
class Year:
    year: int
    persons: int
    income: int
    expenditure: int
    surplus: int
    balance: int
    reserve_months: Decimal

    def as_dict(self) -> dict[str, Any]:
        months = self.reserve_months
        return {
            "year": self.year,
            "persons": self.persons,
            "income": fen_to_yuan(self.income),
            "expenditure": fen_to_yuan(self.expenditure),
            "surplus": fen_to_yuan(self.surplus),
            "balance": fen_to_yuan(self.balance),
            "reserve_months": None if months.is_infinite() else str(months),
        }


@dataclass
class Path_:
    """One scenario's projection: per fund, a row per year."""

    name: str
    effective: int | None
    funds: dict[str, list[Year]] = field(default_factory=dict)


def project_cells(
    cells: Cells,
    a: Assumptions,
    base_year: int,
    years: int,
    names: list[str],
    effective: int | None = None,
) -> list[Path_]:
    """Each scenario's projection from the settled cells (``names``: baseline first). A reform
    applies from ``effective`` (default: the year after the settled one)."""
    if not 1 <= years <= MAX_YEARS:
        raise ProjectionError("--years", f"must be between 1 and {MAX_YEARS}, got {years}")
    start = base_year + 1 if effective is None else effective
    if not base_year <= start <= base_year + MAX_YEARS:
        raise ProjectionError(
            "--effective", f"must be a year from {base_year} (the settled year) on, got {start}"
        )
    pops = populations(cells, a, years)
    income_pp = _banded(cells.income, cells.persons)
    spent_pp = _banded(cells.spent, cells.persons)
    growth_in = np.array([a.f("growth.wage_factor"), a.f("growth.income_factor")], dtype=np.float64)
    cost = a.f("growth.cost_factor")
    base_spent = [int(cells.spent[0][f == FUND_OF].sum()) for f in range(2)]
    opening = [
        _fen(a.f(f"opening_reserve_months.{fund}") * base_spent[f] / 12.0)
        for f, fund in enumerate(FUNDS)
    ]
    out: list[Path_] = []
    for k, name in enumerate(names):
        path = Path_(name, start if k else None, {fund: [] for fund in FUNDS})
        balance = list(opening)
        for t in range(years):
            year = base_year + t
            profile = k if (k and year >= start) else 0
            pop = pops[t]
            for f, fund in enumerate(FUNDS):
                mine = f == FUND_OF
                inc = _fen(float((pop[mine] * income_pp[profile][mine]).sum()) * growth_in[f] ** t)
                spent = _fen(float((pop[mine] * spent_pp[profile][mine]).sum()) * cost**t)
                surplus = inc - spent
                balance[f] += surplus
                path.funds[fund].append(
                    Year(
                        year,
                        _fen(float(pop[mine].sum())),
                        inc,
                        spent,
                        surplus,
                        balance[f],
                        reserve_months(balance[f], spent),
                    )
                )
        out.append(path)
    return out


# ---------------------------------------------------------------------------------- the run


@dataclass
class Projection:
    area: Path
    region: str
    base_year: int
    years: int
    assumptions: Assumptions
    paths: list[Path_]
    persons: int
    claims: int
    sources: dict[str, str]
    #: the benefits the area is settled under (``synth.calibrated``), None: not generated
    benefits: str | None = None
    #: the area's calibration table (``simulation.run.calibration``), None: not generated
    calibration: list[dict[str, Any]] | None = None

    def report(self) -> dict[str, Any]:
        return {
            "area": str(self.area),
            "region": self.region,
            "base_year": self.base_year,
            "years": self.years,
            "persons": self.persons,
            "claims": self.claims,
            "assumptions": {
                f"projection.{n}": (bool(v) if n == "ageing" else str(v))
                for n, v in self.assumptions.values.items()
            },
            "sources": self.sources,
            "scenarios": [
                {
                    "name": p.name,
                    "effective": p.effective,
                    "funds": {f: [y.as_dict() for y in rows] for f, rows in p.funds.items()},
                }
                for p in self.paths
            ],
            "benefits": self.benefits,
            "calibration": self.calibration,
        }


#: the sources the ``projection.*`` parameters cite (policy/regions/000000.yaml)
SOURCE_IDS = ("NBS2023-POP", "CENSUS2020-LIFE", "NHC2023-MORT", "SPEC-PROJ")


def _sources(policy: Policy) -> dict[str, str]:
    known = policy.sources()
    return {i: known[i] for i in SOURCE_IDS if i in known}


def project(
    area: Path,
    years: int,
    reform_paths: Sequence[Path] = (),
    effective: int | None = None,
    overrides: Mapping[str, str] | None = None,
    on_part: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> Projection:
    """Check everything (before any claim is read), settle the area's year under the baseline
    and each reform, and project ``years`` years from it. ``on_start(claims)`` is called once
    the inputs are checked, ``on_part(claims)`` as each part is settled (progress)."""
    check_area(area)
    meta = area_meta(area)
    region = str(meta.get("policy_region") or meta.get("region") or "")
    year = meta.get("year")
    if not region or not isinstance(year, int):
        raise AreaError("--area: the area has no meta.json with its region and year")
    if not 1 <= years <= MAX_YEARS:
        raise ProjectionError("--years", f"must be between 1 and {MAX_YEARS}, got {years}")
    if effective is not None and not year <= effective <= year + MAX_YEARS:
        raise ProjectionError(
            "--effective", f"must be a year from {year} (the settled year) on, got {effective}"
        )
    try:
        base = area_overlays(meta)
        policy = Policy(region, overlays=base)
    except UnknownRegion as exc:
        raise AreaError(f"--area: unknown region {region!r}") from exc
    except BenefitsError as exc:
        raise AreaError(f"--area: {exc}") from exc
    on = dt.date(year, 1, 1)
    a = assumptions(policy, on, overrides or {})
    for s in SEXES:  # fit the life tables now: a bad combination fails before any work
        gompertz_q(
            a.f(f"mortality.life_expectancy.{s}"),
            a.f("mortality.infant"),
            a.f("mortality.gompertz_slope"),
        )
    checked = load_reforms(list(reform_paths), region, base)
    try:
        scenarios = [scenario("baseline", policy, year)]
        scenarios += [scenario(r.name, p, year) for r, p in checked]
    except ParameterError as exc:
        raise AreaError(f"{exc.file}: {exc.path}: {exc.reason}") from exc
    names = ["baseline", *(r.name for r, _ in checked)]
    if on_start is not None:
        on_start(sum(pq.ParquetFile(c).metadata.num_rows for _, c in check_area(area)))
    cells = settle_cells(area, scenarios, year, on_part=on_part)
    paths = project_cells(cells, a, year, years, names, effective)
    return Projection(
        area,
        region,
        year,
        years,
        a,
        paths,
        int(cells.persons.sum()),
        cells.claims,
        _sources(policy),
        benefits_of(meta) if meta.get("generator") == "yibao.synth" else None,
        calibration(area, region, inpatient_by_level(cells.inpatient, SCHEMES)),
    )


def draw_chart(report: dict[str, Any], path: Path) -> Path:
    """Two panels per fund (employee, resident): the year-end balance (10,000 yuan) and the
    reserve months, the baseline solid and each reform dashed from its year of effect."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    for col, fund in enumerate(FUNDS):
        for i, sc in enumerate(report["scenarios"]):
            rows = sc["funds"][fund]
            years = [r["year"] for r in rows]
            balance = [float(Decimal(r["balance"])) / 10_000 for r in rows]
            months = [
                float(r["reserve_months"]) if r["reserve_months"] is not None else np.nan
                for r in rows
            ]
            style = "-" if i == 0 else "--"
            axes[0][col].plot(years, balance, style, marker="o", ms=3, label=sc["name"])
            axes[1][col].plot(years, months, style, marker="o", ms=3, label=sc["name"])
        axes[0][col].set_title(f"{fund} fund")
        axes[0][col].set_ylabel("year-end balance, 10,000 yuan")
        axes[1][col].set_ylabel("reserve months")
        axes[1][col].set_xlabel("year")
        for ax in (axes[0][col], axes[1][col]):
            ax.axhline(0, color="#888888", lw=0.8)
            ax.grid(alpha=0.3)
        axes[0][col].legend(fontsize=8)
    fig.suptitle(
        f"Projection of area {report['region']} from {report['base_year']} "
        f"({report['persons']:,} persons), {report['years']} years"
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
