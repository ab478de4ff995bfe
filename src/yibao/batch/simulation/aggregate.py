"""Totals of a simulation (back-office.md §6) from the seam's per-person sums.

``Accumulator.add`` takes the per-person table of a slice (``engine.settle_households``) or
its arrays (``add_arrays``, the local engine); slices may come in any order and a household may
span slices. Households are reduced to their burden aggregates (``Burden``: mergeable sums
and counts by scenario, scheme and income quintile) under the area's exact quintile cut points
(``quintile_cuts``): by ``result`` for the local engine, by each Spark partition for its
whole households (``reduce_households``). ``Accumulator.result`` gives the report: for the
baseline and each reform the TOTALS (contributions and subsidies, each layer's payments, the
funds' result, cash paid by persons, household burden), each reform's delta (reform −
baseline) and who it affects.

Definitions (docs/simulation.md):

- ``fund_balance``: the year's result of the insurance funds (basic pooling, critical illness,
  large-amount): contributions − personal-account credits − hifp − hifmi − hifob. Medical
  assistance (maf) is financed by the fiscal budget and reported apart.
- Out-of-pocket: what the household pays itself, from cash or personal accounts:
  psn_cash_pay + acct_pay + acct_mulaid_pay.
- Burden (SDG 3.8.2): a household is over 10% (25%) when its out-of-pocket is above 10% (25%)
  of its annual disposable income (``household_income``); a household with no positive income
  and some out-of-pocket is over both. Quintiles are of income per member, each a fifth of the
  households (ties by household id). A household's scheme is its head's (the member whose
  ``psn_no`` is the ``household_id``; else the first member's): employee (in service,
  flexible, retiree) or resident.
- A person is affected when any of their claims or their own contribution changes; a household
  when any member is; it gains (loses) when its out-of-pocket plus own contributions fall (rise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from yibao.batch.simulation.contributions import AMOUNTS, CATEGORIES, RESIDENT
from yibao.batch.simulation.engine import INCOME, INPATIENT, SUMS, inpatient_by_level
from yibao.kernel.quintiles import QUINTILES, per_member, quintile_cuts, quintile_of
from yibao.kernel.segments import I64
from yibao.policy.params import fen_to_yuan

SCHEMES = ("employee", "resident")  # the insurance schemes (policy.vocab.InsuranceScheme)
OUT_OF_POCKET = ("psn_cash_pay", "acct_pay", "acct_mulaid_pay")
#: amounts in TOTALS shown as yuan strings; every other number is a count
MONEY = frozenset({*SUMS, "fund_balance", "out_of_pocket", "total"})


def _reduce(key: I64, values: Mapping[str, I64], how: Mapping[str, str]) -> dict[str, I64]:
    """Group rows by ``key``: each value column summed, or its ``min``/``max``."""
    order = np.argsort(key, kind="stable")
    k = key[order]
    first = np.empty(len(k), dtype=np.bool_)
    first[:1] = True
    np.not_equal(k[1:], k[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    out = {"key": k[starts]}
    for name, v in values.items():
        ufunc = {"sum": np.add, "min": np.minimum, "max": np.maximum}[how.get(name, "sum")]
        out[name] = ufunc.reduceat(v[order], starts) if len(k) else v[:0]
    return out


@dataclass
class Accumulator:
    scenarios: int
    persons: int = 0
    claims: int = 0
    total: int = 0
    has_income: bool | None = None
    #: per scenario, per insurance scheme: each amount summed
    sums: list[list[dict[str, int]]] = field(default_factory=list)
    changed: list[list[int]] = field(default_factory=list)  # per reform, per scheme: persons
    #: the baseline's ``engine.INPATIENT`` amounts, per name, per scheme (the calibration's)
    inpatient: dict[str, list[int]] = field(default_factory=dict)
    parts: list[dict[str, I64]] = field(default_factory=list)  # households' partial sums
    #: households already reduced (``reduce_households``: a Spark partition's), or None
    burden: Burden | None = None

    def __post_init__(self) -> None:
        self.sums = [[dict.fromkeys(SUMS, 0) for _ in SCHEMES] for _ in range(self.scenarios)]
        self.changed = [[0, 0] for _ in range(self.scenarios)]
        self.inpatient = {name: [0, 0] for name in INPATIENT}

    def inpatient_by_level(self) -> dict[tuple[str, int], tuple[int, int]]:
        """The baseline's inpatient insurance funds' payments and policy-scope amounts by
        (scheme, institution level), fen: what ``synth.calibration.calibration_table`` takes
        instead of settling the area again."""
        return inpatient_by_level(self.inpatient, SCHEMES)

    def add(self, table: pa.Table) -> None:
        """A per-person table of the seam (``engine.output_schema``)."""
        category = np.asarray(
            pa.compute.index_in(table["category"], value_set=pa.array(CATEGORIES)).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.int64,
        )
        income_col = table[INCOME]
        income = (
            None
            if income_col.null_count == len(income_col)
            else np.asarray(income_col.fill_null(-1).to_numpy(), dtype=np.int64)
        )
        arrays = {
            name: np.asarray(table[name].to_numpy(zero_copy_only=False), dtype=np.int64)
            for name in table.column_names
            if name not in ("category", INCOME)
        }
        self.add_arrays(arrays, category, income)

    def add_arrays(self, cols: Mapping[str, I64], category: I64, income: I64 | None) -> None:
        """Per-person arrays: ``psn_no``, ``household_id``, ``claims``, ``total`` and the
        ``s<k>_*`` sums; ``category`` codes (``contributions.CATEGORIES``); ``income`` (fen,
        negative: none) or None."""
        if len(category) == 0:
            return
        present = income is not None and bool(np.any(income >= 0))
        self.has_income = present if self.has_income is None else (self.has_income and present)
        self.persons += len(category)
        self.claims += int(cols["claims"].sum())
        self.total += int(cols["total"].sum())
        from yibao.batch.simulation.sums import person_sums

        n = len(category)
        scheme = (category == RESIDENT).astype(np.int64)
        # every amount by scheme, in one compiled pass over the persons
        names = [(k, name) for k in range(self.scenarios) for name in SUMS]
        changed = [k for k in range(1, self.scenarios)]
        by_scheme = person_sums(
            scheme,
            np.arange(2, dtype=np.int64),
            [cols[f"s{k}_{name}"] for k, name in names]
            + [cols[f"s{k}_changed"].astype(np.int64) for k in changed]
            + [cols[f"s0_{name}"] for name in INPATIENT],
            2,
        )
        for j, (k, name) in enumerate(names):
            for s in range(2):
                self.sums[k][s][name] += int(by_scheme[j, s])
        for j, k in enumerate(changed, start=len(names)):
            for s in range(2):
                self.changed[k][s] += int(by_scheme[j, s])
        for j, name in enumerate(INPATIENT, start=len(names) + len(changed)):
            for s in range(2):
                self.inpatient[name][s] += int(by_scheme[j, s])
        self.parts.append(self._households(cols, scheme, income, n))

    def _households(
        self, cols: Mapping[str, I64], scheme: I64, income: I64 | None, n: int
    ) -> dict[str, I64]:
        """The slice's households: their members, out-of-pocket, own contributions and changed
        members summed per scenario; the head's scheme (+2 where the head is not in the slice)."""
        from yibao.batch.simulation.sums import person_sums

        psn, hh = cols["psn_no"], cols["household_id"]
        income = income if income is not None else np.full(n, -1, np.int64)
        columns = [np.ones(n, dtype=np.int64)]
        for k in range(self.scenarios):
            columns += [cols[f"s{k}_{name}"] for name in OUT_OF_POCKET]
            columns.append(cols[f"s{k}_person_contributions"])
            if k:
                columns.append(cols[f"s{k}_changed"].astype(np.int64))
        row = np.searchsorted(psn, hh)
        inside = row < n
        heads_here = bool(
            np.all(inside)
            and (n < 2 or np.all(psn[1:] > psn[:-1]))
            and np.array_equal(psn[np.minimum(row, n - 1)], hh)
        )
        if heads_here:  # every household's head in the slice: sum onto the head's row
            summed = person_sums(row, np.arange(n, dtype=np.int64), columns, n)
            at = np.flatnonzero(summed[0])
            out = {"key": psn[at], "scheme": scheme[at], "income": income[at]}
            summed = summed[:, at]
        else:  # sort by household
            values = {str(j): c for j, c in enumerate(columns)}
            values["scheme"] = scheme + np.where(psn == hh, 0, 2)
            values["income"] = income
            reduced = _reduce(hh, values, {"scheme": "min", "income": "max"})
            out = {"key": reduced["key"], "scheme": reduced["scheme"], "income": reduced["income"]}
            summed = np.stack([reduced[str(j)] for j in range(len(columns))])
        out["members"] = summed[0]
        j = 1
        for k in range(self.scenarios):
            out[f"oop{k}"] = summed[j] + summed[j + 1] + summed[j + 2]
            out[f"own{k}"] = summed[j + 3]
            j += 4
            if k:
                out[f"changed{k}"] = summed[j]
                j += 1
        return out

    def merge(self, other: Accumulator) -> None:
        """Another slice's accumulator (same scenarios) into this one."""
        if other.has_income is not None:
            self.has_income = (
                other.has_income
                if self.has_income is None
                else self.has_income and other.has_income
            )
        self.persons += other.persons
        self.claims += other.claims
        self.total += other.total
        for k in range(self.scenarios):
            for s in range(len(SCHEMES)):
                for name in SUMS:
                    self.sums[k][s][name] += other.sums[k][s][name]
                self.changed[k][s] += other.changed[k][s]
        for name in INPATIENT:
            for s in range(len(SCHEMES)):
                self.inpatient[name][s] += other.inpatient[name][s]
        self.parts.extend(other.parts)
        if other.burden is not None:
            self.burden = other.burden if self.burden is None else self.burden.merged(other.burden)

    def households(self) -> dict[str, I64]:
        """Every household once (partial sums of the slices merged)."""
        if not self.parts:
            return {"key": np.zeros(0, np.int64)}
        merged = {n: np.concatenate([p[n] for p in self.parts]) for n in self.parts[0]}
        how = {"scheme": "min", "income": "max"}
        how.update({n: "max" for n in merged if n.startswith("changed")})
        key = merged.pop("key")
        # slices of whole households in order (a generated area's parts): nothing to merge
        distinct = len(key) < 2 or bool(np.all(key[1:] > key[:-1]))
        out = {"key": key, **merged} if distinct else _reduce(key, merged, how)
        out["scheme"] = out["scheme"] % 2
        self.parts = [out]
        return out

    def reduce_households(self, cuts: list[tuple[int, int]] | None) -> None:
        """Reduce the households held (whole: no other slice may hold a part of one) to their
        burden aggregates (``Burden``) under the quintile ``cuts`` (``quintile_cuts`` of the
        whole area), and drop them: what a Spark partition sends to the driver."""
        h = self.households()
        found = household_burden(h, self.scenarios, cuts)
        self.burden = found if self.burden is None else self.burden.merged(found)
        self.parts = []

    def result(self, names: list[str]) -> dict[str, Any]:
        """The report: ``names`` are the scenarios' names, baseline first."""
        measured = bool(self.has_income)
        burden = self.burden or Burden(self.scenarios)
        if self.parts:  # households held here: cut the quintiles and reduce them
            h = self.households()
            cuts = (
                quintile_cuts(h["key"], per_member(h["income"], h["members"])) if measured else None
            )
            burden = burden.merged(household_burden(h, self.scenarios, cuts))
        bounds = [
            {
                "quintile": q + 1,
                "households": burden.q_households[q],
                "income_per_member_from": _yuan(burden.q_min[q]),
                "income_per_member_to": _yuan(burden.q_max[q]),
            }
            for q in range(QUINTILES)
        ]
        totals = [self._totals(k, burden, measured) for k in range(self.scenarios)]
        reforms = []
        for k in range(1, self.scenarios):
            reforms.append(
                {
                    "name": names[k],
                    "totals": render(totals[k]),
                    "delta": render(diff(totals[k], totals[0])),
                    "affected": {
                        "persons": sum(self.changed[k]),
                        "persons_by_scheme": dict(zip(SCHEMES, self.changed[k], strict=True)),
                        "households": burden.changed[k],
                        "households_better_off": sum(burden.better[k]),
                        "households_worse_off": sum(burden.worse[k]),
                        "by_quintile": [
                            {
                                "quintile": q + 1,
                                "better_off": burden.better[k][q],
                                "worse_off": burden.worse[k][q],
                                "change": fen_to_yuan(burden.change[k][q]),
                            }
                            for q in range(QUINTILES)
                        ]
                        if measured
                        else None,
                    },
                }
            )
        return {
            "persons": self.persons,
            "households": burden.households,
            "claims": self.claims,
            "total": fen_to_yuan(self.total),
            "burden_measured": measured,
            "quintiles": bounds if measured else None,
            "baseline": render(totals[0]),
            "reforms": reforms,
        }

    def _totals(self, k: int, b: Burden, measured: bool) -> dict[str, Any]:
        by_scheme: dict[str, Any] = {}
        for s, name in enumerate(SCHEMES):
            sums = dict(self.sums[k][s])
            sums["fund_balance"] = fund_balance(sums)
            by_scheme[name] = sums
        out: dict[str, Any] = {
            n: sum(by_scheme[s][n] for s in SCHEMES) for n in (*SUMS, "fund_balance")
        }
        if measured:
            out["households_over_10pct"] = sum(b.over10[k])
            out["households_over_25pct"] = sum(b.over25[k])
            for s, name in enumerate(SCHEMES):
                by_scheme[name]["households_over_10pct"] = b.over10_scheme[k][s]
                by_scheme[name]["households_over_25pct"] = b.over25_scheme[k][s]
            out["burden_by_quintile"] = [
                {
                    "households_over_10pct": b.over10[k][q],
                    "households_over_25pct": b.over25[k][q],
                    "out_of_pocket": b.oop[k][q],
                }
                for q in range(QUINTILES)
            ]
        else:
            out["households_over_10pct"] = None
            out["households_over_25pct"] = None
        out["out_of_pocket"] = sum(b.oop[k])
        out["by_scheme"] = by_scheme
        return out


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else fen_to_yuan(fen)


def _grid(rows: int, cols: int) -> list[list[int]]:
    return [[0] * cols for _ in range(rows)]


@dataclass
class Burden:
    """Households reduced to what the report needs of them (SDG 3.8.2 burden, winners and
    losers), per scenario ``k`` and income quintile ``q``: sums and counts that add up across
    slices of whole households, and each quintile's lowest and highest income per member. A
    Spark partition sends this instead of its households (``Accumulator.reduce_households``).
    """

    scenarios: int
    households: int = 0
    q_households: list[int] = field(default_factory=lambda: [0] * QUINTILES)
    q_min: list[int | None] = field(default_factory=lambda: [None] * QUINTILES)
    q_max: list[int | None] = field(default_factory=lambda: [None] * QUINTILES)
    #: [k][q]: households above 10% (25%) of income, and their out-of-pocket
    over10: list[list[int]] = field(default_factory=list)
    over25: list[list[int]] = field(default_factory=list)
    oop: list[list[int]] = field(default_factory=list)
    #: [k][scheme]: households above 10% (25%), by the head's scheme
    over10_scheme: list[list[int]] = field(default_factory=list)
    over25_scheme: list[list[int]] = field(default_factory=list)
    #: [k]: households with a changed member; [k][q]: better off, worse off, the change (fen)
    changed: list[int] = field(default_factory=list)
    better: list[list[int]] = field(default_factory=list)
    worse: list[list[int]] = field(default_factory=list)
    change: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        k = self.scenarios
        for name in ("over10", "over25", "oop", "better", "worse", "change"):
            if not getattr(self, name):
                setattr(self, name, _grid(k, QUINTILES))
        for name in ("over10_scheme", "over25_scheme"):
            if not getattr(self, name):
                setattr(self, name, _grid(k, len(SCHEMES)))
        if not self.changed:
            self.changed = [0] * k

    def merged(self, other: Burden) -> Burden:
        """The sum of two slices' burdens (of different households)."""

        def add(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
            return [
                [x + y for x, y in zip(ra, rb, strict=True)] for ra, rb in zip(a, b, strict=True)
            ]

        def pick(a: int | None, b: int | None, f: Any) -> int | None:
            return b if a is None else a if b is None else int(f(a, b))

        return Burden(
            self.scenarios,
            self.households + other.households,
            [a + b for a, b in zip(self.q_households, other.q_households, strict=True)],
            [pick(a, b, min) for a, b in zip(self.q_min, other.q_min, strict=True)],
            [pick(a, b, max) for a, b in zip(self.q_max, other.q_max, strict=True)],
            add(self.over10, other.over10),
            add(self.over25, other.over25),
            add(self.oop, other.oop),
            add(self.over10_scheme, other.over10_scheme),
            add(self.over25_scheme, other.over25_scheme),
            [a + b for a, b in zip(self.changed, other.changed, strict=True)],
            add(self.better, other.better),
            add(self.worse, other.worse),
            add(self.change, other.change),
        )


def household_burden(
    h: Mapping[str, I64], scenarios: int, cuts: list[tuple[int, int]] | None
) -> Burden:
    """Whole households (``Accumulator.households``) reduced to a ``Burden``; ``cuts`` None:
    no income measured (every household in the first quintile, the bounds left empty)."""
    b = Burden(scenarios)
    n = len(h["key"])
    b.households = n
    if n == 0:
        return b
    income = h["income"]
    if cuts is not None:
        pc = per_member(income, h["members"])
        quintile = quintile_of(h["key"], pc, cuts)
        for q in range(QUINTILES):
            mine = pc[quintile == q]
            b.q_households[q] = len(mine)
            if len(mine):
                b.q_min[q], b.q_max[q] = int(mine.min()), int(mine.max())
    else:
        quintile = np.zeros(n, dtype=np.int64)

    def by_q(values: I64) -> list[int]:
        return [int(values[quintile == q].sum()) for q in range(QUINTILES)]

    def count_q(mask: npt.NDArray[np.bool_]) -> list[int]:
        return [int(np.count_nonzero(mask[quintile == q])) for q in range(QUINTILES)]

    for k in range(scenarios):
        oop = h[f"oop{k}"]
        over10 = np.where(income > 0, oop * 10 > income, oop > 0)
        over25 = np.where(income > 0, oop * 4 > income, oop > 0)
        b.over10[k], b.over25[k] = count_q(over10), count_q(over25)
        b.oop[k] = by_q(oop)
        for s in range(len(SCHEMES)):
            mine = h["scheme"] == s
            b.over10_scheme[k][s] = int(np.count_nonzero(over10 & mine))
            b.over25_scheme[k][s] = int(np.count_nonzero(over25 & mine))
        if k:
            change = (h[f"oop{k}"] + h[f"own{k}"]) - (h["oop0"] + h["own0"])
            b.changed[k] = int(np.count_nonzero(h[f"changed{k}"]))
            b.better[k], b.worse[k] = count_q(change < 0), count_q(change > 0)
            b.change[k] = by_q(change)
    return b


def fund_balance(sums: Mapping[str, int]) -> int:
    return (
        sums["contributions"]
        - sums["account_credits"]
        - sums["hifp_pay"]
        - sums["hifmi_pay"]
        - sums["hifob_pay"]
    )


def diff(a: Any, b: Any) -> Any:
    """a − b over a TOTALS tree (counts and fen; None stays None)."""
    if isinstance(a, dict):
        return {k: diff(v, b[k]) for k, v in a.items()}
    if isinstance(a, list):
        return [diff(x, y) for x, y in zip(a, b, strict=True)]
    if a is None or b is None:
        return None
    return int(a) - int(b)


def render(totals: Any, key: str = "") -> Any:
    """Money as yuan strings with two places; counts as they are."""
    if isinstance(totals, dict):
        return {k: render(v, k) for k, v in totals.items()}
    if isinstance(totals, list):
        return [render(v, key) for v in totals]
    if totals is not None and key in MONEY:
        return fen_to_yuan(int(totals))
    return totals


__all__ = ["AMOUNTS", "Accumulator", "Burden", "diff", "fund_balance", "render"]
