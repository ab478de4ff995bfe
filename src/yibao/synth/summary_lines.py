"""The figures of a generated area's fee detail lines, diagnoses and procedures, beside the
published ones (``synth.summary`` adds them to its figures and rankings).

Read one chunk at a time: a claims part and its lines part. The kind and class of each line come
from the catalogue the area was generated with (``meta.json``: ``catalogue_region``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from yibao.policy.catalogue import shipped_items
from yibao.policy.vocab import ItemClass, ItemKind

SOURCES = {
    "NHFPC2016": "National Health and Family Planning Commission, 2016 statistical bulletin on "
    "health care development (2016年我国卫生和计划生育事业发展统计公报), as reported by People's "
    "Daily, 23 August 2017: drugs 45.5% of the average outpatient bill and 34.6% of the average "
    "inpatient bill in hospitals (both falling every year since)",
    "HTN2014": "Li Y. et al., Burden of hypertension in China: a nationally representative "
    "survey of 174,621 adults (2013-14): 27.8% of adults hypertensive, rising steeply with age",
    "DM2018": "Wang L. et al., Prevalence and treatment of diabetes in China, 2013-2018, JAMA "
    "2021;326(24):2498-2506: 12.4% of adults in 2018",
    "NHC2010DX": "National inpatient disease composition 2010 (36.3 million discharges, NHC "
    "statistics; Chinese Journal of Health Statistics): by ICD-10 chapter, circulatory, "
    "respiratory, injury and poisoning, digestive, pregnancy and childbirth, neoplasms first",
}
#: the ICD-10 chapters of the published ranking, by the first letter (and range) of a code
CHAPTERS = (
    ("circulatory", ("I",)),
    ("respiratory", ("J",)),
    ("injury", ("S", "T")),
    ("digestive", ("K",)),
    ("pregnancy", ("O",)),
    ("neoplasms", ("C", "D0", "D1", "D2", "D3", "D4")),
    ("genitourinary", ("N",)),
    ("musculoskeletal", ("M",)),
    ("eye", ("H0", "H1", "H2", "H3", "H4", "H5")),
    ("endocrine", ("E",)),
    ("infectious", ("A", "B")),
    ("perinatal", ("P",)),
)
PUBLISHED_CHAPTERS = (
    "circulatory",
    "respiratory",
    "injury",
    "digestive",
    "pregnancy",
    "neoplasms",
)
#: name: (label, unit, published value or None, source key or None)
FIGURES: dict[str, tuple[str, str, float | None, str | None]] = {
    "drug_share_inpatient": ("drugs of inpatient cost (药占比)", "%", 34.6, "NHFPC2016"),
    "drug_share_outpatient": ("drugs of outpatient cost (药占比)", "%", 45.5, "NHFPC2016"),
    "lines_per_admission": ("fee detail lines per admission", "lines", None, None),
    "lines_per_outpatient_visit": ("fee detail lines per outpatient visit", "lines", None, None),
    "class_a_inpatient": ("class A of inpatient cost", "%", None, None),
    "class_b_inpatient": ("class B of inpatient cost", "%", None, None),
    "class_c_inpatient": ("class C of inpatient cost", "%", None, None),
    "lines_over_limit": ("lines billed over the price limit", "%", None, None),
    "self_paid_inpatient": ("fully self-paid of inpatient cost", "%", None, None),
    "secondary_diagnoses": ("secondary diagnoses per inpatient stay", "codes", None, None),
    "hypertension_60_plus": ("hypertension coded, inpatients aged 60+", "%", None, None),
    "hypertension_adults": ("hypertension coded, adult inpatients", "%", 27.8, "HTN2014"),
    "diabetes_adults": ("diabetes coded, adult inpatients", "%", 12.4, "DM2018"),
    "deaths_per_1000": ("in-hospital deaths per 1,000 admissions", "per 1,000", None, None),
    "transfers": ("admissions ending in a transfer (离院方式 2, 3)", "%", None, None),
}


@dataclass
class LineTotals:
    amount: dict[str, int] = field(default_factory=Counter)
    lines: Counter[str] = field(default_factory=Counter)
    visits: Counter[str] = field(default_factory=Counter)
    over_limit_lines: int = 0
    all_lines: int = 0
    inpatient_self_paid: int = 0
    inpatient_total: int = 0
    stays: int = 0
    adult_stays: int = 0
    old_stays: int = 0
    secondary: int = 0
    hypertension_adult: int = 0
    hypertension_old: int = 0
    diabetes_adult: int = 0
    admissions: int = 0
    deaths: int = 0
    transfers: int = 0
    chapters: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)


def _np(column: pa.ChunkedArray | pa.Array) -> Any:
    return column.to_numpy(zero_copy_only=False)


def _chapter(code: str) -> str:
    for name, prefixes in CHAPTERS:
        if code.startswith(prefixes):
            return name
    return "other"


class LineSummary:
    """Accumulates the line and diagnosis figures chunk by chunk."""

    def __init__(self, catalogue_region: str) -> None:
        items = shipped_items(catalogue_region or "000000")[1]
        self.kind = {i.code: i.kind for i in items}
        self.item_class = {i.code: i.item_class for i in items}
        self.limit = {i.code: i.price_limit for i in items}
        self.t = LineTotals()

    def add(self, claims: pa.Table, lines: pa.Table | None, age: Any) -> None:
        """One chunk: its claims (with the patients' ages, per claim) and its lines."""
        t = self.t
        med = _np(claims["med_type"])
        for m in ("inpatient", "outpatient"):
            t.visits[m] += int((med == m).sum())
        if lines is not None and lines.num_rows:
            self._lines(claims, lines, med)
        self._codes(claims, med, age)

    def _lines(self, claims: pa.Table, lines: pa.Table, med: Any) -> None:
        t = self.t
        at = np.searchsorted(_np(claims["claim_id"]), _np(lines["claim_id"]))
        line_med = med[at]
        codes = _np(lines["code"])
        unique, inverse = np.unique(codes, return_inverse=True)
        kind = np.array([self.kind.get(c) == ItemKind.DRUG for c in unique])[inverse]
        cls = np.array([str(self.item_class.get(c, ItemClass.C)) for c in unique])[inverse]
        limit = np.array([self.limit.get(c) or 0 for c in unique], dtype=np.int64)[inverse]
        amount = _np(lines["amount"]).astype(np.int64)
        for m in ("inpatient", "outpatient"):
            sel = line_med == m
            t.lines[m] += int(sel.sum())
            t.amount[f"{m}_all"] += int(amount[sel].sum())
            t.amount[f"{m}_drug"] += int(amount[sel & kind].sum())
        sel = line_med == "inpatient"
        for c in ("A", "B", "C"):
            t.amount[f"class_{c}"] += int(amount[sel & (cls == c)].sum())
        price = _np(lines["unit_price"]).astype(np.int64)
        t.over_limit_lines += int(((limit > 0) & (price > limit)).sum())
        t.all_lines += lines.num_rows
        stay = med == "inpatient"
        t.inpatient_self_paid += int(_np(claims["fully_self_paid"])[stay].sum())
        t.inpatient_total += int(_np(claims["total"])[stay].sum())

    def _codes(self, claims: pa.Table, med: Any, age: Any) -> None:
        t = self.t
        stay = med == "inpatient"
        admitted = stay | (med == "maternity")
        t.admissions += int(admitted.sum())
        if "discharge_status" in claims.column_names:
            status = _np(claims["discharge_status"].fill_null(""))
            t.deaths += int((status == "5").sum())
            t.transfers += int(((status == "2") | (status == "3")).sum())
        counts = pc.value_counts(claims["diagnosis"].filter(pa.array(admitted)).drop_null())
        for entry in counts.to_pylist():
            code, n = str(entry["values"]), int(entry["counts"])
            t.codes[code] += n
            t.chapters[_chapter(code)] += n
        if "diagnoses" not in claims.column_names:
            return
        stays = claims.filter(pa.array(stay))
        ages = age[stay]
        secondary = pc.list_slice(stays["diagnoses"], 1)
        t.stays += stays.num_rows
        t.secondary += int(pc.sum(pc.list_value_length(secondary)).as_py() or 0)
        flat_row = _np(pc.list_parent_indices(secondary))
        flat = _np(pc.list_flatten(secondary))
        adult, old = ages >= 18, ages >= 60
        t.adult_stays += int(adult.sum())
        t.old_stays += int(old.sum())
        htn = np.zeros(stays.num_rows, dtype=np.bool_)
        htn[flat_row[flat == "I10"]] = True
        htn |= _np(stays["diagnosis"]) == "I10"
        dm = np.zeros(stays.num_rows, dtype=np.bool_)
        dm[flat_row[flat == "E11"]] = True
        dm |= _np(stays["diagnosis"]) == "E11"
        t.hypertension_adult += int((htn & adult).sum())
        t.hypertension_old += int((htn & old).sum())
        t.diabetes_adult += int((dm & adult).sum())

    def values(self) -> dict[str, float | None]:
        t = self.t

        def pct(a: float, b: float) -> float | None:
            return round(100.0 * a / b, 2) if b else None

        def div(a: float, b: float) -> float | None:
            return round(a / b, 2) if b else None

        inpatient_all = t.amount["inpatient_all"]
        return {
            "drug_share_inpatient": pct(t.amount["inpatient_drug"], inpatient_all),
            "drug_share_outpatient": pct(t.amount["outpatient_drug"], t.amount["outpatient_all"]),
            "lines_per_admission": div(t.lines["inpatient"], t.visits["inpatient"]),
            "lines_per_outpatient_visit": div(t.lines["outpatient"], t.visits["outpatient"]),
            "class_a_inpatient": pct(t.amount["class_A"], inpatient_all),
            "class_b_inpatient": pct(t.amount["class_B"], inpatient_all),
            "class_c_inpatient": pct(t.amount["class_C"], inpatient_all),
            "lines_over_limit": pct(t.over_limit_lines, t.all_lines),
            "self_paid_inpatient": pct(t.inpatient_self_paid, t.inpatient_total),
            "secondary_diagnoses": div(t.secondary, t.stays),
            "hypertension_60_plus": pct(t.hypertension_old, t.old_stays),
            "hypertension_adults": pct(t.hypertension_adult, t.adult_stays),
            "diabetes_adults": pct(t.diabetes_adult, t.adult_stays),
            "deaths_per_1000": div(1000 * t.deaths, t.admissions),
            "transfers": pct(t.transfers, t.admissions),
        }

    def rankings(self) -> dict[str, dict[str, Any]]:
        t = self.t
        total = sum(t.chapters.values())
        return {
            "admission_chapters": {
                "label": "ICD-10 chapters of admissions' principal diagnoses, commonest first",
                "generated": [
                    [name, round(100.0 * n / total, 1)] for name, n in t.chapters.most_common(8)
                ],
                "published": list(PUBLISHED_CHAPTERS),
                "source": "NHC2010DX",
            },
            "admission_diagnoses": {
                "label": "principal diagnoses of admissions (ICD-10 categories), commonest first",
                "generated": [
                    [code, round(100.0 * n / total, 1)] for code, n in t.codes.most_common(10)
                ],
                "published": None,
                "source": None,
            },
        }


def read_lines(path: Path) -> pa.Table | None:
    """A chunk's lines part (the columns the summary reads), or None for an area without."""
    if not path.exists():
        return None
    return pq.read_table(path, columns=["claim_id", "code", "unit_price", "amount"])
