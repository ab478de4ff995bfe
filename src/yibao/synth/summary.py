"""Key figures of a generated area beside the published national ones, and a chart of both.

``summarize(out_dir)`` reads the parts one chunk at a time (memory does not grow with the number
of persons) and returns::

    {"meta": {...}, "figures": {name: {"label", "unit", "value", "published", "source"}},
     "rankings": {name: {"label", "generated": [[name, %], ...], "published", "source"}},
     "sources": {key: citation}}

``published`` is None where no comparable national figure is stated. The fund payment ratio
within policy scope needs the settlement kernel: ``fund_ratio(out_dir)`` settles the area
(``synth.calibration``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.policy.vocab import MED_TYPES
from yibao.synth.dates import year_start
from yibao.synth.summary_lines import FIGURES as LINE_FIGURES
from yibao.synth.summary_lines import SOURCES as LINE_SOURCES
from yibao.synth.summary_lines import LineSummary, read_lines
from yibao.synth.writer import read_manifest

SOURCES = {
    "NHSA2023": "National Healthcare Security Administration, 2023 national medical security "
    "statistical bulletin (2023年全国医疗保障事业发展统计公报)",
    "CENSUS2020": "National Bureau of Statistics, Seventh National Population Census, "
    "Communiqué No. 5 (age) and No. 4 (sex), 2021",
    "NHC2023": "National Health Commission, 2023 statistical bulletin on the development of "
    "health care (2023年我国卫生健康事业发展统计公报); approximate, see docs/synthetic-data.md",
    **LINE_SOURCES,
}
#: name: (label, unit, published value or None, source key or None)
PUBLISHED: dict[str, tuple[str, str, float | None, str | None]] = {
    "employee_share": ("employees (incl. retirees, flexible) of insured", "%", 27.8, "NHSA2023"),
    "resident_share": ("residents of insured", "%", 72.2, "NHSA2023"),
    "retiree_share": ("retirees of employees", "%", 27.0, "NHSA2023"),
    "age_0_14": ("aged 0-14", "%", 17.95, "CENSUS2020"),
    "age_15_59": ("aged 15-59", "%", 63.35, "CENSUS2020"),
    "age_60_plus": ("aged 60+", "%", 18.70, "CENSUS2020"),
    "age_65_plus": ("aged 65+", "%", 13.50, "CENSUS2020"),
    "male": ("men", "%", 51.24, "CENSUS2020"),
    "household_size": ("persons per household", "persons", 2.62, "CENSUS2020"),
    "admissions_per_100": ("admissions per 100 insured", "per 100", 21.4, "NHC2023"),
    "avg_inpatient_cost": ("average cost per admission", "yuan", 10316.0, "NHC2023"),
    "avg_inpatient_cost_level3": (
        "average cost per admission, level 3",
        "yuan",
        13000.0,
        "NHC2023",
    ),
    "avg_inpatient_cost_level2": ("average cost per admission, level 2", "yuan", 6300.0, "NHC2023"),
    "avg_inpatient_cost_level1": ("average cost per admission, level 1", "yuan", 3000.0, "NHC2023"),
    "fund_ratio_employee": (
        "fund payment ratio within policy scope, employees (inpatient)",
        "%",
        84.6,
        "NHSA2023",
    ),
    "fund_ratio_resident": (
        "fund payment ratio within policy scope, residents (inpatient)",
        "%",
        68.1,
        "NHSA2023",
    ),
}
UNPUBLISHED: dict[str, tuple[str, str]] = {
    "persons": ("insured persons", "persons"),
    "claims": ("claims", "claims"),
    "claims_per_person": ("claims per person", "claims"),
    "flexible_share": ("flexible workers of employees", "%"),
    "aid_recipients": ("aid recipients (medical assistance classes)", "%"),
    "newborns": ("newborns of the year", "%"),
    "students": ("students", "%"),
    "waiting": ("persons with a waiting period inside the year", "%"),
    "lapsed": ("residents returning after a lapse", "%"),
    "incentive": ("residents with an incentive raise", "%"),
    "admissions_per_100_employee": ("admissions per 100 employees", "per 100"),
    "admissions_per_100_resident": ("admissions per 100 residents", "per 100"),
    "outpatient_per_person": ("outpatient visits per person", "visits"),
    "pharmacy_per_person": ("pharmacy purchases per person", "purchases"),
    "chronic_per_person": ("chronic-disease visits per person", "visits"),
    "avg_inpatient_cost_employee": ("average cost per admission, employees", "yuan"),
    "avg_inpatient_cost_resident": ("average cost per admission, residents", "yuan"),
    "avg_los": ("average length of stay", "days"),
    "cross_region_admissions": ("cross-region admissions", "%"),
    "admissions_over_100k": ("admissions costing over 100,000 yuan", "per 10,000"),
    "max_inpatient_cost": ("largest admission", "yuan"),
}
PUBLISHED.update({k: v for k, v in LINE_FIGURES.items() if v[2] is not None})
UNPUBLISHED.update({k: (v[0], v[1]) for k, v in LINE_FIGURES.items() if v[2] is None})


def fund_ratio(out_dir: Path | str) -> dict[str, float] | None:
    """Fund payment ratio within policy scope by scheme ({"employee": %, "resident": %}), as
    ``synth.calibration.fund_ratios`` computes it (the insurance funds' inpatient payments over
    the policy-scope amount, the claims settled through the kernel); None without inpatient
    claims."""
    from yibao.synth.calibration import fund_ratios

    return fund_ratios(out_dir) or None


@dataclass
class _Totals:
    persons: int = 0
    employees: int = 0
    retirees: int = 0
    flexible: int = 0
    residents: int = 0
    age: Any = None
    male: int = 0
    households: int = 0
    aid: int = 0
    newborns: int = 0
    students: int = 0
    waiting: int = 0
    lapsed: int = 0
    incentive: int = 0
    claims: int = 0
    by_type: Any = None
    admissions_employee: int = 0
    admissions_resident: int = 0
    inpatient_cost_level: Any = None
    inpatient_count_level: Any = None
    inpatient_cost_employee: int = 0
    inpatient_cost_resident: int = 0
    los: int = 0
    cross: int = 0
    over_100k: int = 0
    max_cost: int = 0


def _parts(out: Path) -> Iterator[tuple[Path, Path]]:
    for persons in sorted((out / "persons").glob("part-*.parquet")):
        yield persons, out / "claims" / persons.name


def _np(column: pa.ChunkedArray) -> Any:
    return column.to_numpy()


ADMISSION_TYPES = ("inpatient", "maternity")
TYPES = MED_TYPES


def _accumulate(t: _Totals, persons: pa.Table, claims: pa.Table, year: int) -> None:
    n = persons.num_rows
    t.persons += n
    scheme = persons["scheme"]
    counts = {k["values"]: k["counts"] for k in pc.value_counts(scheme).to_pylist()}
    t.employees += counts.get("employee", 0)
    t.retirees += counts.get("retiree", 0)
    t.flexible += counts.get("flexible", 0)
    t.residents += counts.get("resident", 0)
    birth_year = _np(pc.year(persons["birth_date"]))
    t.age += np.bincount(np.minimum(year - birth_year, 100), minlength=101)
    t.male += int(pc.sum(pc.equal(persons["sex"], "M")).as_py() or 0)
    t.households += len(np.unique(_np(persons["household_id"])))
    t.aid += n - persons["assistance_class"].null_count
    groups = pc.list_flatten(persons["groups"])
    t.newborns += int(pc.sum(pc.equal(groups, "newborn")).as_py() or 0)
    t.students += int(pc.sum(pc.equal(groups, "student")).as_py() or 0)
    entitled = persons["entitled_from"]
    jan1 = pa.scalar(year_start(year), pa.int32()).cast(pa.date32())
    t.waiting += int(pc.sum(pc.greater(entitled, jan1)).as_py() or 0)
    t.lapsed += int(pc.sum(pc.greater(persons["lapsed_years"], 0)).as_py() or 0)
    t.incentive += int(pc.sum(pc.greater(persons["incentive_raise"], 0)).as_py() or 0)

    t.claims += claims.num_rows
    med = claims["med_type"]
    for i, name in enumerate(TYPES):
        t.by_type[i] += int(pc.sum(pc.equal(med, name)).as_py() or 0)
    admitted = pc.is_in(med, value_set=pa.array(ADMISSION_TYPES))
    adm = claims.filter(admitted)
    psn = _np(persons["psn_no"])
    is_resident = _np(pc.equal(scheme, "resident"))
    resident_claim = is_resident[np.searchsorted(psn, _np(adm["psn_no"]))]
    total = _np(adm["total"]).astype(np.int64)
    level = _np(adm["level"]).astype(np.int64)
    t.admissions_resident += int(resident_claim.sum())
    t.admissions_employee += int((~resident_claim).sum())
    t.inpatient_cost_level += np.bincount(level, weights=total, minlength=4).astype(np.int64)
    t.inpatient_count_level += np.bincount(level, minlength=4)
    t.inpatient_cost_resident += int(total[resident_claim].sum())
    t.inpatient_cost_employee += int(total[~resident_claim].sum())
    t.los += int(_np(adm["los_days"]).astype(np.int64).sum())
    t.cross += adm.num_rows - adm["cross_region"].null_count
    t.over_100k += int((total > 10_000_000).sum())
    t.max_cost = max(t.max_cost, int(total.max()) if len(total) else 0)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def _div(a: float, b: float, digits: int = 2) -> float | None:
    return round(a / b, digits) if b else None


def summarize(out_dir: Path | str) -> dict[str, Any]:
    out = Path(out_dir)
    meta = read_manifest(out)
    year = int(meta["year"])
    t = _Totals(
        age=np.zeros(101, dtype=np.int64),
        by_type=np.zeros(len(TYPES), dtype=np.int64),
        inpatient_cost_level=np.zeros(4, dtype=np.int64),
        inpatient_count_level=np.zeros(4, dtype=np.int64),
    )
    person_cols = [
        "psn_no",
        "scheme",
        "birth_date",
        "sex",
        "household_id",
        "assistance_class",
        "groups",
        "entitled_from",
        "lapsed_years",
        "incentive_raise",
    ]
    claim_cols = ["psn_no", "med_type", "level", "total", "los_days", "cross_region"]
    line_summary = LineSummary(str(meta.get("catalogue_region") or ""))
    for persons_path, claims_path in _parts(out):
        persons = pq.read_table(persons_path, columns=person_cols)
        claims = pq.read_table(claims_path)
        _accumulate(t, persons, claims.select(claim_cols), year)
        psn = _np(persons["psn_no"])
        age = year - _np(pc.year(persons["birth_date"]))
        claim_age = age[np.searchsorted(psn, _np(claims["psn_no"]))]
        line_summary.add(claims, read_lines(out / "lines" / claims_path.name), claim_age)

    employees = t.employees + t.retirees + t.flexible
    admissions = int(t.by_type[TYPES.index("inpatient")] + t.by_type[TYPES.index("maternity")])
    n = t.persons
    cost_level = [
        _div(t.inpatient_cost_level[lv] / 100, t.inpatient_count_level[lv], 0) for lv in range(4)
    ]
    ratio = fund_ratio(out)
    values: dict[str, float | None] = {
        "persons": n,
        "claims": t.claims,
        "claims_per_person": _div(t.claims, n),
        "employee_share": _pct(employees, n),
        "resident_share": _pct(t.residents, n),
        "retiree_share": _pct(t.retirees, employees),
        "flexible_share": _pct(t.flexible, employees),
        "age_0_14": _pct(t.age[:15].sum(), n),
        "age_15_59": _pct(t.age[15:60].sum(), n),
        "age_60_plus": _pct(t.age[60:].sum(), n),
        "age_65_plus": _pct(t.age[65:].sum(), n),
        "male": _pct(t.male, n),
        "household_size": _div(n, t.households),
        "aid_recipients": _pct(t.aid, n),
        "newborns": _pct(t.newborns, n),
        "students": _pct(t.students, n),
        "waiting": _pct(t.waiting, n),
        "lapsed": _pct(t.lapsed, t.residents),
        "incentive": _pct(t.incentive, t.residents),
        "admissions_per_100": _pct(admissions, n),
        "admissions_per_100_employee": _pct(t.admissions_employee, employees),
        "admissions_per_100_resident": _pct(t.admissions_resident, t.residents),
        "outpatient_per_person": _div(t.by_type[TYPES.index("outpatient")], n),
        "pharmacy_per_person": _div(t.by_type[TYPES.index("pharmacy")], n),
        "chronic_per_person": _div(t.by_type[TYPES.index("chronic")], n),
        "avg_inpatient_cost": _div(t.inpatient_cost_level.sum() / 100, admissions, 0),
        "avg_inpatient_cost_level1": cost_level[1],
        "avg_inpatient_cost_level2": cost_level[2],
        "avg_inpatient_cost_level3": cost_level[3],
        "avg_inpatient_cost_employee": _div(
            t.inpatient_cost_employee / 100, t.admissions_employee, 0
        ),
        "avg_inpatient_cost_resident": _div(
            t.inpatient_cost_resident / 100, t.admissions_resident, 0
        ),
        "avg_los": _div(t.los, admissions),
        "cross_region_admissions": _pct(t.cross, admissions),
        "admissions_over_100k": _div(10_000 * t.over_100k, admissions),
        "max_inpatient_cost": t.max_cost / 100,
        "fund_ratio_employee": ratio["employee"] if ratio else None,
        "fund_ratio_resident": ratio["resident"] if ratio else None,
        **line_summary.values(),
    }
    figures: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        if name in PUBLISHED:
            label, unit, published, source = PUBLISHED[name]
        else:
            (label, unit), published, source = UNPUBLISHED[name], None, None
        figures[name] = {
            "label": label,
            "unit": unit,
            "value": None
            if value is None
            else int(value)
            if isinstance(value, int | np.integer)
            else float(value),
            "published": published,
            "source": source,
        }
    keys = (
        "region",
        "year",
        "seed",
        "persons",
        "chunk_size",
        "chunks",
        "claims",
        "policy_region",
        "benefits",
        "average_wage",
    )
    return {
        "meta": {k: meta.get(k) for k in keys},
        "figures": figures,
        "rankings": line_summary.rankings(),
        "sources": dict(SOURCES),
    }


SHARE_FIGURES = (
    "employee_share",
    "retiree_share",
    "age_0_14",
    "age_15_59",
    "age_60_plus",
    "admissions_per_100",
    "fund_ratio_employee",
    "fund_ratio_resident",
)
COST_FIGURES = (
    "avg_inpatient_cost",
    "avg_inpatient_cost_level1",
    "avg_inpatient_cost_level2",
    "avg_inpatient_cost_level3",
)


TICKS = {
    "avg_inpatient_cost": "all levels",
    "avg_inpatient_cost_level1": "level 1",
    "avg_inpatient_cost_level2": "level 2",
    "avg_inpatient_cost_level3": "level 3",
    "age_0_14": "age 0-14",
    "age_15_59": "age 15-59",
    "age_60_plus": "age 60+",
}


def draw_chart(summary: dict[str, Any], path: Path | str) -> Path:
    """A PNG with generated and published figures side by side (shares; inpatient costs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = summary["figures"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [2, 1]})
    panels = (
        (axes[0], SHARE_FIGURES, "% (admissions: per 100 insured)"),
        (axes[1], COST_FIGURES, "yuan per admission"),
    )
    for ax, names, ylabel in panels:
        x = np.arange(len(names))
        gen = [figures[k]["value"] if figures[k]["value"] is not None else np.nan for k in names]
        pub = [
            figures[k]["published"] if figures[k]["published"] is not None else np.nan
            for k in names
        ]
        ax.bar(x - 0.2, gen, 0.4, label="generated", color="#3b7dd8")
        ax.bar(x + 0.2, pub, 0.4, label="published (national)", color="#c8c8c8")
        for xi, g in zip(x, gen, strict=True):
            if np.isnan(g):
                ax.text(xi - 0.2, 1, "n/a", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.set_xticks(x)
        ax.set_xticklabels(
            [TICKS.get(k, k.replace("_", " ")) for k in names], rotation=30, ha="right", fontsize=8
        )
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    meta = summary["meta"]
    fig.suptitle(
        f"Synthetic pooling area {meta['region']}, {meta['year']}: "
        f"{meta['persons']:,} persons, seed {meta['seed']}"
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
