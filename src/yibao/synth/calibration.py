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
  68.1%; tolerance 2 points.
- **Per-capita disposable income by household quintile**: households ranked by per-capita
  income (``household_income`` / members) and cut into five groups of equal count, as NBS
  does; each group's total income over its members against the published quintile mean scaled
  to the area (``synth.income``); tolerance 10% of the published figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.synth.income import income_figures
from yibao.synth.writer import read_manifest

NHSA2023 = (
    "National Healthcare Security Administration, 2023 national medical security statistical "
    "bulletin (2023年全国医疗保障事业发展统计公报)"
)
#: scheme group: (published fund payment ratio within policy scope for inpatient care, %)
PUBLISHED_FUND_RATIO = {"employee": 84.6, "resident": 68.1}
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


def inpatient_fund_sums(
    area: Path | str, region: str | None = None, year: int | None = None
) -> dict[str, tuple[int, int]]:
    """{scheme group: (insurance funds' payments, policy-scope amount)} of inpatient claims, fen,
    under the parameters of ``region`` for ``year`` (default: the area's ``meta.json``).

    Each part holds whole persons, so parts settle independently.
    """
    from yibao.kernel.arrow import settle_table
    from yibao.kernel.tables import compile_tables
    from yibao.policy import Policy

    out = Path(area)
    if region is None or year is None:
        meta = read_manifest(out)
        region = region or str(meta.get("policy_region") or meta["region"])
        year = year or int(meta["year"])
    tables = compile_tables(Policy(region), year)
    sums = {"employee": [0, 0], "resident": [0, 0]}
    for persons_path, claims_path in _parts(out):
        persons = pq.read_table(persons_path).sort_by("psn_no")
        settled, _ = settle_table(tables, pq.read_table(claims_path), persons)
        inpatient = pc.equal(settled["med_type"], "inpatient")
        settled = settled.filter(inpatient)
        schemes = pc.take(
            persons["scheme"], pc.index_in(settled["psn_no"], value_set=persons["psn_no"])
        )
        resident = np.asarray(pc.equal(schemes, "resident").to_numpy(zero_copy_only=False))
        fund = sum(np.asarray(settled[c].to_numpy(), dtype=np.int64) for c in INSURANCE_FUNDS)
        scope = np.asarray(settled["inscp_scp_amt"].to_numpy(), dtype=np.int64)
        for group, members in (("resident", resident), ("employee", ~resident)):
            sums[group][0] += int(np.asarray(fund)[members].sum())
            sums[group][1] += int(scope[members].sum())
    return {g: (f, s) for g, (f, s) in sums.items()}


def fund_ratios(area: Path | str) -> dict[str, float]:
    """{"employee": %, "resident": %}: the fund payment ratio within policy scope, inpatient,
    one decimal; a group without inpatient scope amounts is left out."""
    return {g: round(100 * f / s, 1) for g, (f, s) in inpatient_fund_sums(area).items() if s > 0}


def household_quintiles(area: Path | str) -> list[float] | None:
    """Per-capita disposable income (yuan) of the five equal household groups, lowest first;
    None when the persons carry no ``household_income``."""
    out = Path(area)
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
        incomes.append(np.asarray(grouped["household_income_max"].to_numpy(), dtype=np.int64))
        sizes.append(np.asarray(grouped["household_id_count"].to_numpy(), dtype=np.int64))
    if not incomes:
        return None
    income = np.concatenate(incomes).astype(np.float64) / 100.0
    size = np.concatenate(sizes).astype(np.float64)
    order = np.argsort(income / size, kind="stable")
    groups = np.array_split(order, 5)
    return [round(float(income[g].sum() / size[g].sum()), 0) for g in groups]


def calibration_table(area: Path | str) -> list[dict[str, Any]]:
    """The calibration rows of a generated area as dicts (see the module docstring); none for
    an area without ``meta.json`` (an exported area: not generated, nothing to calibrate)."""
    if not (Path(area) / "meta.json").is_file():
        return []
    return [row.as_dict() for row in calibration_rows(area)]


def calibration_rows(area: Path | str) -> list[CalibrationRow]:
    """The calibration rows of a generated area (see the module docstring)."""
    out = Path(area)
    meta = read_manifest(out)
    rows: list[CalibrationRow] = []
    ratios = fund_ratios(out)
    for group, label in (("employee", "employees"), ("resident", "residents")):
        published = PUBLISHED_FUND_RATIO[group]
        value = ratios.get(group)
        rows.append(
            CalibrationRow(
                measure=f"fund payment ratio within policy scope, inpatient, {label}",
                unit="%",
                generated=value,
                published=published,
                source=NHSA2023,
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
