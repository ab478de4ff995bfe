"""How far a generated area is from the published figures a simulation's answer depends on.

``calibration_table(area)`` returns one row per measure (a plain dict, ready for JSON, with the
keys of ``CalibrationRow``): the generated value, the published one, its source, the tolerance
and whether the generated value is within it.

- **Fund payment ratio within policy scope, inpatient care** (政策范围内住院费用基金支付比例), by
  scheme: the area's inpatient claims settled through the kernel (``kernel.arrow.settle_table``)
  with the area's own parameters, year-to-date state per person; the insurance funds' payments
  (basic pooling ``hifp_pay`` + critical illness ``hifmi_pay`` + large amount ``hifob_pay``)
  over the policy-scope amount (``inscp_scp_amt``). Medical assistance (``maf_pay``) is left
  out: the bulletin reports it apart, as its own fund. Employees are employees in service,
  flexible workers and retirees. Published: NHSA 2023 bulletin, employees 84.6%, residents
  68.1%; tolerance 2 points. The same by institution level (tertiary, secondary, primary or
  below: employees 83.5 / 87.4 / 89.4%, residents 63.2 / 72.4 / 80.8%), the figures the
  calibrated benefits (``synth.calibrated``) were fitted to. A simulation or projection
  passes the sums its engine already made of the baseline (``simulation.engine.INPATIENT``,
  summed per part or Spark partition), so the area is not settled twice.
- **Per-capita disposable income by household quintile**: households ranked by per-capita
  income (``household_income`` / members) and cut into five groups of equal count, as NBS
  does; each group's total income over its members against the published quintile mean scaled
  to the area (``synth.income``); tolerance 10% of the published figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from math import nan
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.kernel.quintiles import QUINTILES, quintiles_of
from yibao.synth.calibrated import area_policy
from yibao.synth.income import income_figures
from yibao.synth.writer import read_manifest

NHSA2023 = (
    "National Healthcare Security Administration, 2023 national medical security statistical "
    "bulletin (2023年全国医疗保障事业发展统计公报, 2024-07-25)"
)
#: what the bulletin says, by scheme group (its section on each scheme's benefits: the
#: inpatient fund payment ratio within the catalogue, then by institution level)
NHSA2023_SENTENCE = {
    "employee": "employees' inpatient fund payment ratio within the catalogue "
    "(职工医保住院费用目录内基金支付比例) 84.6%; tertiary, secondary, primary-or-below "
    "institutions 83.5%, 87.4%, 89.4%",
    "resident": "residents' inpatient fund payment ratio within the catalogue "
    "(居民医保住院费用目录内基金支付比例) 68.1%; tertiary, secondary, primary-or-below "
    "institutions 63.2%, 72.4%, 80.8%",
}
#: scheme group: (published fund payment ratio within policy scope for inpatient care, %)
PUBLISHED_FUND_RATIO = {"employee": 84.6, "resident": 68.1}
#: the same by institution level (1: primary or below, 2: secondary, 3: tertiary)
PUBLISHED_FUND_RATIO_BY_LEVEL = {
    "employee": {1: 89.4, 2: 87.4, 3: 83.5},
    "resident": {1: 80.8, 2: 72.4, 3: 63.2},
}
LEVEL_NAMES = {1: "primary or below", 2: "secondary", 3: "tertiary"}
FUND_RATIO_TOLERANCE = 2.0  # percentage points
INCOME_TOLERANCE = 0.10  # share of the published figure
#: the insurance funds whose payments count in the fund payment ratio
INSURANCE_FUNDS = ("hifp_pay", "hifmi_pay", "hifob_pay")


@dataclass(frozen=True)
class CalibrationRow:
    measure: str
    unit: str
    generated: float | None
    published: float
    source: str
    tolerance: str
    within_tolerance: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _parts(out: Path) -> list[tuple[Path, Path]]:
    return [(p, out / "claims" / p.name) for p in sorted((out / "persons").glob("part-*.parquet"))]


def inpatient_fund_sums_by_level(
    area: Path | str, region: str | None = None, year: int | None = None
) -> dict[tuple[str, int], tuple[int, int]]:
    """{(scheme group, institution level): (insurance funds' payments, policy-scope amount)} of
    inpatient claims, fen, under the parameters of ``region`` for ``year`` (default: the
    area's ``meta.json``) with the area's benefits on top (``synth.calibrated.area_policy``).

    Each part holds whole persons, so parts settle independently.
    """
    from yibao.kernel.arrow import settle_table
    from yibao.kernel.tables import compile_tables

    out = Path(area)
    meta = read_manifest(out) if (out / "meta.json").is_file() else {}
    region = region or str(meta.get("policy_region") or meta["region"])
    year = year or int(meta["year"])
    tables = compile_tables(area_policy(region, meta), year)
    sums = {(g, level): [0, 0] for g in ("employee", "resident") for level in (1, 2, 3)}
    for persons_path, claims_path in _parts(out):
        persons = pq.read_table(persons_path).sort_by("psn_no")
        settled, _ = settle_table(tables, pq.read_table(claims_path), persons)
        inpatient = pc.equal(settled["med_type"], "inpatient")
        settled = settled.filter(inpatient)
        schemes = pc.take(
            persons["scheme"], pc.index_in(settled["psn_no"], value_set=persons["psn_no"])
        )
        resident = np.asarray(pc.equal(schemes, "resident").to_numpy(zero_copy_only=False))
        fund = np.asarray(
            sum(np.asarray(settled[c].to_numpy(), dtype=np.int64) for c in INSURANCE_FUNDS)
        )
        scope = np.asarray(settled["inscp_scp_amt"].to_numpy(), dtype=np.int64)
        level = np.asarray(settled["level"].to_numpy(), dtype=np.int64)
        for group, members in (("resident", resident), ("employee", ~resident)):
            for lv in (1, 2, 3):
                mine = members & (level == lv)
                sums[(group, lv)][0] += int(fund[mine].sum())
                sums[(group, lv)][1] += int(scope[mine].sum())
    return {k: (f, s) for k, (f, s) in sums.items()}


def inpatient_fund_sums(
    area: Path | str, region: str | None = None, year: int | None = None
) -> dict[str, tuple[int, int]]:
    """{scheme group: (insurance funds' payments, policy-scope amount)} of inpatient claims,
    fen, every level (``inpatient_fund_sums_by_level`` summed)."""
    return _by_group(inpatient_fund_sums_by_level(area, region, year))


def _by_group(by_level: dict[tuple[str, int], tuple[int, int]]) -> dict[str, tuple[int, int]]:
    out = {"employee": (0, 0), "resident": (0, 0)}
    for (group, _), (fund, scope) in by_level.items():
        out[group] = (out[group][0] + fund, out[group][1] + scope)
    return out


def _ratios(sums: dict[Any, tuple[int, int]]) -> dict[Any, float]:
    return {k: round(100 * f / s, 1) for k, (f, s) in sums.items() if s > 0}


def fund_ratios(area: Path | str) -> dict[str, float]:
    """{"employee": %, "resident": %}: the fund payment ratio within policy scope, inpatient,
    one decimal; a group without inpatient scope amounts is left out."""
    return _ratios(inpatient_fund_sums(area))


def household_quintiles(area: Path | str) -> list[float] | None:
    """Per-capita disposable income (yuan) of the five household income groups, lowest first:
    the households grouped as the simulation groups them (``kernel.quintiles``), each group's
    income over its members; None when the persons carry no ``household_income``."""
    out = Path(area)
    keys: list[np.ndarray[Any, Any]] = []
    incomes: list[np.ndarray[Any, Any]] = []
    sizes: list[np.ndarray[Any, Any]] = []
    for persons_path, _ in _parts(out):
        schema = pq.read_schema(persons_path)
        if "household_income" not in schema.names:
            return None
        t = pq.read_table(persons_path, columns=["household_id", "household_income"])
        grouped = t.group_by("household_id").aggregate(
            [("household_income", "max"), ("household_id", "count")]
        )
        keys.append(np.asarray(grouped["household_id"].to_numpy(), dtype=np.int64))
        incomes.append(
            np.asarray(grouped["household_income_max"].fill_null(-1).to_numpy(), dtype=np.int64)
        )
        sizes.append(np.asarray(grouped["household_id_count"].to_numpy(), dtype=np.int64))
    if not incomes:
        return None
    income, size = np.concatenate(incomes), np.concatenate(sizes)
    group = quintiles_of(np.concatenate(keys), income, size)
    income = np.maximum(income, 0)
    return [_mean_yuan(income[group == q], size[group == q]) for q in range(QUINTILES)]


def _mean_yuan(income: np.ndarray[Any, Any], members: np.ndarray[Any, Any]) -> float:
    """Income over members, whole yuan (NaN for a group without households)."""
    return round(float(income.sum()) / 100.0 / float(members.sum()), 0) if len(members) else nan


def calibration_table(
    area: Path | str, by_level: dict[tuple[str, int], tuple[int, int]] | None = None
) -> list[dict[str, Any]]:
    """The calibration rows of a generated area as dicts (see the module docstring); none for
    an area without ``meta.json`` (an exported area: not generated, nothing to calibrate).
    ``by_level``: the inpatient sums of ``inpatient_fund_sums_by_level`` already at hand (a
    simulation's baseline, summed by its engine), else the area is settled here."""
    if not (Path(area) / "meta.json").is_file():
        return []
    return [row.as_dict() for row in calibration_rows(area, by_level)]


def calibration_rows(
    area: Path | str, by_level: dict[tuple[str, int], tuple[int, int]] | None = None
) -> list[CalibrationRow]:
    """The calibration rows of a generated area (see the module docstring; ``by_level`` as
    ``calibration_table``'s)."""
    out = Path(area)
    meta = read_manifest(out)
    rows: list[CalibrationRow] = []
    if by_level is None:
        by_level = inpatient_fund_sums_by_level(out)
    level_ratios = _ratios(by_level)
    ratios = _ratios(_by_group(by_level))
    for group, label in (("employee", "employees"), ("resident", "residents")):
        source = f"{NHSA2023}: {NHSA2023_SENTENCE[group]}"
        measures: list[tuple[str, float | None, float]] = [
            (
                f"fund payment ratio within policy scope, inpatient, {label}",
                ratios.get(group),
                PUBLISHED_FUND_RATIO[group],
            )
        ]
        measures += [
            (
                f"fund payment ratio within policy scope, inpatient, {label}, {LEVEL_NAMES[lv]}",
                level_ratios.get((group, lv)),
                PUBLISHED_FUND_RATIO_BY_LEVEL[group][lv],
            )
            for lv in (3, 2, 1)
        ]
        for measure, value, published in measures:
            rows.append(
                CalibrationRow(
                    measure=measure,
                    unit="%",
                    generated=value,
                    published=published,
                    source=source,
                    tolerance=f"±{FUND_RATIO_TOLERANCE:g} points",
                    within_tolerance=value is not None
                    and abs(value - published) <= FUND_RATIO_TOLERANCE,
                )
            )
    quintiles = household_quintiles(out)
    if quintiles is not None:
        figures = income_figures(int(meta["year"]), _area_income(meta))
        means: list[int] = list(figures["quintile_means"])  # type: ignore[call-overload]
        names = ("lowest", "lower middle", "middle", "upper middle", "highest")
        for name, value_q, published_q in zip(names, quintiles, means, strict=True):
            rows.append(
                CalibrationRow(
                    measure=f"per-capita disposable income, {name} fifth of households",
                    unit="yuan",
                    generated=value_q,
                    published=float(published_q),
                    source=str(figures["source"])
                    + (
                        f", × {figures['area_mean']}/{figures['published_mean']} (the area's "
                        "per-capita disposable income over the national)"
                        if figures["area_mean"] != figures["published_mean"]
                        else ""
                    ),
                    tolerance=f"±{INCOME_TOLERANCE:.0%}",
                    within_tolerance=abs(value_q - published_q) <= INCOME_TOLERANCE * published_q,
                )
            )
    return rows


def _area_income(meta: dict[str, Any]) -> float:
    income = meta.get("income") or {}
    if "area_mean" in income:
        return float(income["area_mean"])
    from yibao.synth.config import load_area

    return load_area(str(meta["region"]), int(meta["year"])).disposable_income / 100.0
