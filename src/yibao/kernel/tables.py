"""Policy tables: the parameters of a region compiled into NumPy arrays for the kernel.

Each parameter version (a date where any value changes) is one row along the first axis, so
a claim reads the parameters in force on its own date by fancy indexing. Rates are integers
scaled by ``SCALE`` (1e6) so that all arithmetic is exact integer arithmetic on fen.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from yibao.policy import ParameterError, Policy
from yibao.policy.chronic import chronic_diseases, listed_codes
from yibao.policy.commercial import Product
from yibao.policy.vocab import (
    CROSS_REGIONS,
    AidClass,
    BenefitScheme,
    ChronicClass,
    InsuredCategory,
)
from yibao.policy.vocab import LEVELS as LEVELS
from yibao.policy.vocab import MED_TYPES as MED_TYPES

I64 = npt.NDArray[np.int64]

SCALE = 1_000_000
#: A cap that is never reached (uncapped layers); far above any year's cost.
UNCAPPED = 1 << 46
#: The top edge of the last band.
OPEN = 1 << 46

#: The kernel's indexes of the vocabulary (``policy.vocab``): position = code.
SCHEMES: tuple[str, ...] = tuple(s.value for s in BenefitScheme)
AID_CLASSES: tuple[str, ...] = ("none", *(a.value for a in AidClass))
#: An insured category's code on the scheme axis: the benefit scheme it is paid as.
SCHEME_INPUT = {c.value: SCHEMES.index(c.benefits) for c in InsuredCategory}
#: Where a med type has no benefits of its own it is paid like another one.
MED_FALLBACK = {"maternity": "inpatient", "pharmacy": "outpatient"}

ADMISSION, ANNUAL = 0, 1
#: ``Tables.chronic_class``: a disease not listed on the version's date, or its class
#: (``policy.vocab.ChronicClass``: paid with the chronic benefit's ratios, or like inpatient care).
CHRONIC_UNLISTED, CHRONIC_CLASS, CHRONIC_INPATIENT = -1, 0, 1
#: A chronic claim's ``disease`` column (``kernel.layers.chronic``) when it is no disease's
#: index: none certified on the claim's date (the fund pays nothing), or not looked up (a file
#: without the column: the chronic benefit alone pays it).
DISEASE_NOT_CERTIFIED, DISEASE_UNCHECKED = -1, -2
#: What a supplementary commercial product (惠民保) covers (``Persons.com_covers``, bits): the
#: in-scope remainder after the funds, the claim's self-paid items on its list.
COVERS_IN_SCOPE, COVERS_LISTED = 1, 2
AMOUNT, EXCESS = 0, 1


def scaled(rate: Any) -> int:
    """A decimal rate as an integer multiple of 1/SCALE (exact up to 6 places)."""
    value = Decimal(str(rate)) * SCALE
    out = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if out != value:
        raise ValueError(f"rate {rate} has more than 6 decimal places")
    return int(out)


def product_columns(product: Product | None) -> dict[str, int]:
    """A supplementary commercial product's terms (惠民保, ``policy.commercial.Product``) as the
    kernel's person columns ``com_*`` (none: all 0, it pays nothing)."""
    if product is None:
        return {"com_deductible": 0, "com_ratio": 0, "com_cap": 0, "com_covers": 0}
    bits = (COVERS_IN_SCOPE if "in_scope" in product.covers else 0) | (
        COVERS_LISTED if "listed" in product.covers else 0
    )
    return {
        "com_deductible": product.deductible,
        "com_ratio": scaled(product.ratio),
        "com_cap": product.cap,
        "com_covers": bits,
    }


@dataclass(frozen=True)
class Bands:
    """A piecewise-linear schedule: band k ends at ``edges[k]`` (fen), paid at ``ratios[k]``."""

    edges: list[int]
    ratios: list[int]


def parse_bands(file: str, path: str, value: Any, bonus: int = 0) -> Bands:
    """A number (one band) or a list of ``{upto, ratio}`` bands, with a bonus added to each."""
    if isinstance(value, list):
        edges, ratios = [], []
        last = 0
        for i, band in enumerate(value):
            if not isinstance(band, dict) or "ratio" not in band:
                raise ParameterError(file, f"{path}[{i}]", "a band needs a ratio")
            upto = band.get("upto")
            if upto is None and i != len(value) - 1:
                raise ParameterError(file, f"{path}[{i}]", "only the last band may omit 'upto'")
            top = OPEN if upto is None else int(upto)
            if top <= last and i:
                raise ParameterError(file, f"{path}[{i}].upto", "band edges must increase")
            edges.append(top)
            ratios.append(min(SCALE, scaled(band["ratio"]) + bonus))
            last = top
        if not edges or edges[-1] != OPEN:
            raise ParameterError(file, path, "the last band must have no 'upto'")
        return Bands(edges, ratios)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ParameterError(file, path, "must be a ratio or a list of bands")
    return Bands([OPEN], [min(SCALE, scaled(value) + bonus)])


#: Ints per array in the layout of ``Tables.packed``: offset and up to 5 dimensions.
PACKED = 6


class KernelTables(NamedTuple):
    """The arrays of ``Tables`` as the compiled kernel takes them (``Tables.kernel``): one
    argument, read by name inside the compiled functions."""

    version_dates: I64
    style: I64
    deductible: I64
    repeat: I64
    band_edges: I64
    band_ratios: I64
    band_basis: I64
    annual_cap: I64
    cap_group: I64
    ded_group: I64
    prepay_b: I64
    cross_prepay: I64
    ci_residual_excl_ded: I64
    ci_include_b: I64
    ci_deductible: I64
    ci_edges: I64
    ci_ratios: I64
    ci_basis: I64
    ci_cap: I64
    ci_vulnerable: npt.NDArray[np.bool_]
    la_ratio: I64
    la_cap: I64
    la_group: int
    ma_deductible: I64
    ma_ratio: I64
    ma_cap: I64
    chronic_class: I64
    chronic_cap: I64
    chronic_ded: I64


@dataclass
class Tables:
    """All arrays the kernel reads, indexed [version, ...]."""

    policy: Policy
    version_dates: npt.NDArray[np.int64]  # days since epoch of each version's start
    n_bands: int
    cap_groups: tuple[str, ...]
    # basic layer [v, scheme, med_type(, level(, band))]
    style: I64
    deductible: I64  # [v,s,m,l] per admission (ADMISSION) or per year (ANNUAL)
    repeat: I64  # [v,s,m,k] factor of admission k+1 (the last for all later ones), scaled
    band_edges: I64  # [v,s,m,l,b]
    band_ratios: I64  # [v,s,m,l,b]
    band_basis: I64  # [v,s,m]
    annual_cap: I64  # [v,s,m]
    cap_group: I64  # [v,s,m] index into cap_groups
    ded_group: I64  # [v,s,m] index of the med type whose annual deductible is shared
    prepay_b: I64  # [v]
    cross_prepay: I64  # [v,c]
    # critical illness (大病保险)
    ci_residual_excl_ded: I64  # [v]
    ci_include_b: I64  # [v]
    ci_deductible: I64  # [v, vulnerable]
    ci_edges: I64  # [v, vulnerable, b]
    ci_ratios: I64  # [v, vulnerable, b]
    ci_basis: I64  # [v]
    ci_cap: I64  # [v, vulnerable]
    ci_vulnerable: npt.NDArray[np.bool_]  # [v, aid_class]
    # large-amount insurance (大额医疗费用补助)
    la_ratio: I64  # [v]
    la_cap: I64  # [v]
    la_group: int
    # medical assistance (医疗救助) [v, aid_class, tier]
    n_tiers: int
    ma_deductible: I64
    ma_ratio: I64
    ma_cap: I64
    # outpatient chronic and special diseases (门诊慢特病) [v, disease]: the disease axis is
    # ``chronic_codes`` (every code listed in the year, in first-listed order)
    chronic_codes: tuple[str, ...]
    chronic_class: I64  # CHRONIC_UNLISTED (not listed on the version's date) or a class code
    chronic_cap: I64  # the disease's annual limit on the basic fund's payment (UNCAPPED: none)
    chronic_ded: I64  # 1: the chronic benefit's annual deductible applies
    #: what the compiled kernel derives from the tables once (``kernel.single_pass``)
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def kernel(self) -> KernelTables:
        """The arrays by name, as the compiled kernel's layers read them."""
        kt = self.derived.get("kernel")
        if kt is None:
            kt = self.derived["kernel"] = KernelTables(
                **{name: getattr(self, name) for name in KernelTables._fields}
            )
        return kt

    def packed(self) -> tuple[I64, I64]:
        """The arrays of ``KernelTables`` as the compiled pass takes them (built once): one int64
        buffer, and where each array lies in it (``PACKED`` ints per array: its offset, then its
        shape padded with ones; ``la_group`` last). Two arguments instead of a tuple of 26:
        Numba's dispatcher checks each array's type on every call (``kernel.single_pass.unpack``
        takes them apart again)."""
        packed = self.derived.get("packed")
        if packed is None:
            parts, layout, offset = [], [], 0
            for name in KernelTables._fields:
                if name == "la_group":
                    continue
                array = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
                shape = [*array.shape, *[1] * (PACKED - 1 - array.ndim)]
                layout += [offset, *shape]
                parts.append(array.reshape(-1))
                offset += array.size
            layout.append(self.la_group)
            packed = self.derived["packed"] = (
                np.concatenate(parts),
                np.array(layout, dtype=np.int64),
            )
        return packed

    def version_of(self, days: npt.NDArray[np.int64]) -> I64:
        idx = np.searchsorted(self.version_dates, days, side="right") - 1
        return np.maximum(idx, 0).astype(np.int64)


EPOCH = dt.date(1970, 1, 1)


def epoch_days(d: dt.date) -> int:
    """A date as the kernel stores it: days since 1970-01-01."""
    return (d - EPOCH).days


def disease_index(tables: Tables, disease: str | None) -> int:
    """A chronic claim's ``disease`` column: the index of its certified disease on the disease
    axis (``chronic_codes``), ``DISEASE_NOT_CERTIFIED`` for none or a code never listed."""
    if disease is None or disease not in tables.chronic_codes:
        return DISEASE_NOT_CERTIFIED
    return tables.chronic_codes.index(disease)


def from_epoch_days(days: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(days))


def _benefit(policy: Policy, scheme: str, med: str, on: dt.date) -> tuple[str, dict[str, Any]]:
    """The resolved ``benefits.<scheme>.<med>.basic`` entry: (source med type, values). A med
    type is paid by its own entry where the scheme has one (a retiree's or, inherited, an
    employee's), else like another (``MED_FALLBACK``), as ``policy.benefits`` groups them."""
    own = ("retiree", "employee") if scheme == "retiree" else (scheme,)
    key = med
    while key in MED_FALLBACK and not any(policy.has(f"benefits.{s}.{key}.basic", on) for s in own):
        key = MED_FALLBACK[key]
    values: dict[str, Any] = {}
    for s in reversed(own):  # the employees' entry first, the retirees' own over it
        if policy.has(f"benefits.{s}.{key}.basic", on):
            values.update(policy.node(f"benefits.{s}.{key}.basic", on))
    return key, values


def without_caps(tables: Tables) -> Tables:
    """The same tables with the insurance's payment limits lifted (``UNCAPPED``): the basic
    fund's annual caps, the critical-illness and large-amount caps, and each chronic disease's
    annual limit. How a claim covered by a major epidemic is settled (``rules.epidemics``:
    exempt from "the medical insurance catalogue, payment limit and drug dosage"). Medical
    assistance's caps stay: assistance is not the insurance's limit. Made once per tables and
    kept."""
    found = tables.derived.get("without_caps")
    if found is None:
        found = dataclasses.replace(
            tables,
            annual_cap=np.full_like(tables.annual_cap, UNCAPPED),
            ci_cap=np.full_like(tables.ci_cap, UNCAPPED),
            la_cap=np.full_like(tables.la_cap, UNCAPPED),
            chronic_cap=np.full_like(tables.chronic_cap, UNCAPPED),
        )
        tables.derived["without_caps"] = found
    return found


def compile_tables(policy: Policy, year: int) -> Tables:
    """Compile the versions of the policy in force during coverage year ``year``; an error
    names the file that gives the parameter its value."""
    try:
        return _compile_tables(policy, year)
    except ParameterError as exc:
        base = exc.path.split("[")[0]
        for layer in policy.layers:
            if any(p == base or p.startswith(base + ".") for p in layer.leaves):
                if layer.file != exc.file:
                    raise ParameterError(layer.file, exc.path, exc.reason) from exc
                break
        raise


def _compile_tables(policy: Policy, year: int) -> Tables:
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    dates = [start] + [d for d in policy.dates() if start < d <= end]
    file = policy.layers[0].file
    nv, ns, nm, nl = len(dates), len(SCHEMES), len(MED_TYPES), len(LEVELS)
    per: list[dict[tuple[str, str], tuple[str, dict[str, Any]]]] = []
    groups: list[str] = []
    max_bands = 1
    max_factors = 3
    for on in dates:
        entries = {}
        for s in SCHEMES:
            for m in MED_TYPES:
                key, values = _benefit(policy, s, m, on)
                entries[(s, m)] = (key, values)
                group = str(values.get("cap_group", key))
                if group not in groups:
                    groups.append(group)
                ratio = values.get("ratio")
                for lv in LEVELS:
                    r = ratio.get(f"level{lv}") if isinstance(ratio, dict) else ratio
                    if isinstance(r, list):
                        max_bands = max(max_bands, len(r))
                factors = values.get("repeat_admission_factors")
                if isinstance(factors, list):
                    max_factors = max(max_factors, len(factors))
        per.append(entries)
    ci_bands_max = max(
        len(b) if isinstance(b := policy.get("critical_illness.bands", on), list) else 1
        for on in dates
    )
    nb = max(max_bands, ci_bands_max)
    n_tiers = max(
        len(c["tiers"])
        for on in dates
        for c in policy.node("medical_assistance.classes", on).values()
    )

    def z(*shape: int) -> I64:
        return np.zeros(shape, dtype=np.int64)

    chronic_codes = listed_codes(policy, dates)

    t = Tables(
        policy=policy,
        version_dates=np.array([epoch_days(d) for d in dates], dtype=np.int64),
        n_bands=nb,
        cap_groups=tuple(groups),
        style=z(nv, ns, nm),
        deductible=z(nv, ns, nm, nl),
        repeat=z(nv, ns, nm, max_factors),
        band_edges=np.full((nv, ns, nm, nl, nb), OPEN, dtype=np.int64),
        band_ratios=z(nv, ns, nm, nl, nb),
        band_basis=z(nv, ns, nm),
        annual_cap=z(nv, ns, nm),
        cap_group=z(nv, ns, nm),
        ded_group=z(nv, ns, nm),
        prepay_b=z(nv),
        cross_prepay=z(nv, len(CROSS_REGIONS)),
        ci_residual_excl_ded=z(nv),
        ci_include_b=z(nv),
        ci_deductible=z(nv, 2),
        ci_edges=np.full((nv, 2, nb), OPEN, dtype=np.int64),
        ci_ratios=z(nv, 2, nb),
        ci_basis=z(nv),
        ci_cap=z(nv, 2),
        ci_vulnerable=np.zeros((nv, len(AID_CLASSES)), dtype=np.bool_),
        la_ratio=z(nv),
        la_cap=z(nv),
        la_group=groups.index("basic") if "basic" in groups else -1,
        n_tiers=n_tiers,
        ma_deductible=z(nv, len(AID_CLASSES), n_tiers),
        ma_ratio=z(nv, len(AID_CLASSES), n_tiers),
        ma_cap=z(nv, len(AID_CLASSES), n_tiers),
        chronic_codes=chronic_codes,
        chronic_class=np.full((nv, len(chronic_codes)), CHRONIC_UNLISTED, dtype=np.int64),
        chronic_cap=np.full((nv, len(chronic_codes)), UNCAPPED, dtype=np.int64),
        chronic_ded=z(nv, len(chronic_codes)),
    )

    def fill_bands(edges: I64, ratios: I64, bands: Bands) -> None:
        k = len(bands.edges)
        edges[:k] = bands.edges
        ratios[:k] = bands.ratios

    for v, on in enumerate(dates):
        # a cap group's cap is declared once, by its first member (policy.benefits)
        group_caps: dict[str, int] = {}
        for s in SCHEMES:
            for m in MED_TYPES:
                key, b = per[v][(s, m)]
                if "annual_cap" in b:
                    group_caps.setdefault(f"{s}:{b.get('cap_group', key)}", int(b["annual_cap"]))
        for si, s in enumerate(SCHEMES):
            for mi, m in enumerate(MED_TYPES):
                key, b = per[v][(s, m)]
                path = f"benefits.{s}.{key}.basic"
                bonus = scaled(b.get("ratio_bonus", 0))
                annual = "annual_deductible" in b
                t.style[v, si, mi] = ANNUAL if annual else ADMISSION
                t.ded_group[v, si, mi] = MED_TYPES.index(key)
                if annual:
                    t.deductible[v, si, mi, :] = int(b["annual_deductible"])
                else:
                    ded = b.get("deductible")
                    if not isinstance(ded, dict):
                        raise ParameterError(file, f"{path}.deductible", "missing: per-level map")
                    factors = list(b.get("repeat_admission_factors", [1])) or [1]
                    factors = (factors + factors[-1:] * max_factors)[:max_factors]
                    t.repeat[v, si, mi, :] = [scaled(f) for f in factors]
                    for li, lv in enumerate(LEVELS):
                        t.deductible[v, si, mi, li] = int(ded.get(f"level{lv}", 0))
                ratio = b.get("ratio")
                if ratio is None:
                    raise ParameterError(file, f"{path}.ratio", "missing")
                for li, lv in enumerate(LEVELS):
                    r = ratio.get(f"level{lv}") if isinstance(ratio, dict) else ratio
                    if r is None:
                        raise ParameterError(file, f"{path}.ratio.level{lv}", "missing")
                    bands = parse_bands(file, f"{path}.ratio.level{lv}", r, bonus)
                    if annual and len(bands.edges) > 1:
                        raise ParameterError(
                            file, f"{path}.ratio", "bands need a per-admission deductible"
                        )
                    fill_bands(t.band_edges[v, si, mi, li], t.band_ratios[v, si, mi, li], bands)
                basis = str(b.get("band_basis", "amount"))
                if basis not in ("amount", "excess"):
                    raise ParameterError(file, f"{path}.band_basis", "must be amount or excess")
                t.band_basis[v, si, mi] = EXCESS if basis == "excess" else AMOUNT
                group = str(b.get("cap_group", key))
                t.annual_cap[v, si, mi] = group_caps.get(f"{s}:{group}", UNCAPPED)
                t.cap_group[v, si, mi] = groups.index(group)

        t.prepay_b[v] = scaled(policy.rate("catalog.category_b_prepay_ratio", on))
        cross = policy.get("benefits.cross_region.prepay_ratio", on)
        for k, name in enumerate(CROSS_REGIONS[1:], start=1):
            t.cross_prepay[v, k] = scaled(cross.get(name, 0))

        ci = policy.node("critical_illness", on)
        if ci["base"] not in ("residual", "residual_excluding_deductible"):
            raise ParameterError(file, "critical_illness.base", f"unknown base {ci['base']!r}")
        t.ci_residual_excl_ded[v] = int(ci["base"] == "residual_excluding_deductible")
        t.ci_include_b[v] = int(bool(ci.get("include_category_b_prepay", False)))
        t.ci_basis[v] = EXCESS if ci.get("band_basis", "amount") == "excess" else AMOUNT
        vul = ci.get("vulnerable", {})
        for vi in (0, 1):
            factor = scaled(vul.get("deductible_factor", 1)) if vi else SCALE
            t.ci_deductible[v, vi] = (int(ci["deductible"]) * factor + SCALE // 2) // SCALE
            bonus = scaled(vul.get("ratio_bonus", 0)) if vi else 0
            bands = parse_bands(file, "critical_illness.bands", ci["bands"], bonus)
            fill_bands(t.ci_edges[v, vi], t.ci_ratios[v, vi], bands)
            uncapped = vi and bool(vul.get("uncapped", False))
            t.ci_cap[v, vi] = UNCAPPED if uncapped else int(ci["cap"])
        for group in vul.get("groups", []):
            if group in AID_CLASSES:
                t.ci_vulnerable[v, AID_CLASSES.index(group)] = True

        t.la_ratio[v] = scaled(policy.rate("large_amount.ratio", on))
        t.la_cap[v] = policy.fen("large_amount.cap", on)

        for name, cls in policy.node("medical_assistance.classes", on).items():
            if name not in AID_CLASSES:
                raise ParameterError(file, f"medical_assistance.classes.{name}", "unknown class")
            a = AID_CLASSES.index(name)
            for ti, tier in enumerate(cls["tiers"]):
                t.ma_deductible[v, a, ti] = int(tier.get("deductible", 0))
                t.ma_ratio[v, a, ti] = scaled(tier["ratio"])
                t.ma_cap[v, a, ti] = int(tier.get("annual_cap", UNCAPPED))

        for code, disease in chronic_diseases(policy, on).items():
            d = chronic_codes.index(code)
            inpatient = disease.cls is ChronicClass.INPATIENT
            t.chronic_class[v, d] = CHRONIC_INPATIENT if inpatient else CHRONIC_CLASS
            t.chronic_cap[v, d] = UNCAPPED if disease.annual_cap is None else disease.annual_cap
            t.chronic_ded[v, d] = int(disease.deductible_applies)
    return t


# ------------------------------------------------------------------ annual caps, read by name


@dataclass(frozen=True)
class CapGroup:
    """One annual cap of the basic pooling fund (统筹基金年度最高支付限额), shared by the med
    types of its group; ``annual_cap`` in fen, ``UNCAPPED`` when there is none."""

    group: str
    med_types: tuple[str, ...]
    annual_cap: int


def _version_on(tables: Tables, on: dt.date) -> int:
    return int(tables.version_of(np.array([epoch_days(on)]))[0])


def basic_caps(tables: Tables, on: dt.date, scheme: str) -> list[CapGroup]:
    """The basic fund's annual caps of ``scheme`` (a ``SCHEME_INPUT`` name) in force on ``on``:
    one per cap group, in the order of the med types."""
    v, s = _version_on(tables, on), SCHEME_INPUT[scheme]
    meds: dict[str, list[str]] = {}
    cap: dict[str, int] = {}
    for m, med in enumerate(MED_TYPES):
        group = tables.cap_groups[int(tables.cap_group[v, s, m])]
        meds.setdefault(group, []).append(med)
        cap[group] = int(tables.annual_cap[v, s, m])
    return [CapGroup(g, tuple(ms), cap[g]) for g, ms in meds.items()]


def critical_illness_cap(tables: Tables, on: dt.date, aid_class: int) -> int:
    """The critical-illness annual cap (大病保险) in force on ``on`` for a person of assistance
    class ``aid_class`` (an ``AID_CLASSES`` index), before any incentive raise; fen."""
    v = _version_on(tables, on)
    return int(tables.ci_cap[v, int(tables.ci_vulnerable[v, aid_class])])


def large_amount_cap(tables: Tables, on: dt.date) -> int:
    """The large-amount annual cap (大额医疗费用补助) in force on ``on``; fen."""
    return int(tables.la_cap[_version_on(tables, on)])
