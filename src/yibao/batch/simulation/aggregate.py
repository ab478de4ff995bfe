"""Totals of a simulation (back-office.md §6) from the seam's per-person sums.

``Accumulator.add`` takes the per-person table of a slice (``engine.settle_households``) or
its arrays (``add_arrays``, the local engine); slices may come in any order and a household may
span slices. ``Accumulator.result`` gives the report: for the baseline and each reform the
TOTALS (contributions and subsidies, each layer's payments, the funds' result, cash paid by
persons, household burden), each reform's delta (reform − baseline) and who it affects.

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
import pyarrow as pa

from yibao.batch.simulation.contributions import AMOUNTS, CATEGORIES, RESIDENT
from yibao.batch.simulation.engine import INCOME, SUMS
from yibao.kernel.segments import I64
from yibao.policy.params import fen_to_yuan

SCHEMES = ("employee", "resident")  # the insurance schemes (policy.vocab.InsuranceScheme)
QUINTILES = 5
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
    parts: list[dict[str, I64]] = field(default_factory=list)  # households' partial sums

    def __post_init__(self) -> None:
        self.sums = [[dict.fromkeys(SUMS, 0) for _ in SCHEMES] for _ in range(self.scenarios)]
        self.changed = [[0, 0] for _ in range(self.scenarios)]

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
            + [cols[f"s{k}_changed"].astype(np.int64) for k in changed],
            2,
        )
        for j, (k, name) in enumerate(names):
            for s in range(2):
                self.sums[k][s][name] += int(by_scheme[j, s])
        for j, k in enumerate(changed, start=len(names)):
            for s in range(2):
                self.changed[k][s] += int(by_scheme[j, s])
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
        self.parts.extend(other.parts)

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

    def result(self, names: list[str]) -> dict[str, Any]:
        """The report: ``names`` are the scenarios' names, baseline first."""
        h = self.households()
        n_h = len(h["key"])
        measured = bool(self.has_income)
        quintile = np.zeros(n_h, dtype=np.int64)
        bounds: list[dict[str, Any]] = []
        if measured:
            income = h["income"]
            per_capita = np.where(income >= 0, income, 0) // np.maximum(h["members"], 1)
            order = np.lexsort((h["key"], per_capita))
            rank = np.empty(n_h, dtype=np.int64)
            rank[order] = np.arange(n_h)
            quintile = rank * QUINTILES // max(n_h, 1)
            for q in range(QUINTILES):
                inq = per_capita[quintile == q]
                bounds.append(
                    {
                        "quintile": q + 1,
                        "households": len(inq),
                        "income_per_member_from": fen_to_yuan(int(inq.min())) if len(inq) else None,
                        "income_per_member_to": fen_to_yuan(int(inq.max())) if len(inq) else None,
                    }
                )
        totals = [self._totals(k, h, quintile, measured) for k in range(self.scenarios)]
        reforms = []
        for k in range(1, self.scenarios):
            burden_change = (h[f"oop{k}"] + h[f"own{k}"]) - (h["oop0"] + h["own0"])
            reforms.append(
                {
                    "name": names[k],
                    "totals": render(totals[k]),
                    "delta": render(diff(totals[k], totals[0])),
                    "affected": {
                        "persons": sum(self.changed[k]),
                        "persons_by_scheme": dict(zip(SCHEMES, self.changed[k], strict=True)),
                        "households": int(np.count_nonzero(h[f"changed{k}"])),
                        "households_better_off": int(np.count_nonzero(burden_change < 0)),
                        "households_worse_off": int(np.count_nonzero(burden_change > 0)),
                        "by_quintile": _gains(burden_change, quintile) if measured else None,
                    },
                }
            )
        return {
            "persons": self.persons,
            "households": n_h,
            "claims": self.claims,
            "total": fen_to_yuan(self.total),
            "burden_measured": measured,
            "quintiles": bounds if measured else None,
            "baseline": render(totals[0]),
            "reforms": reforms,
        }

    def _totals(self, k: int, h: dict[str, I64], quintile: I64, measured: bool) -> dict[str, Any]:
        by_scheme: dict[str, Any] = {}
        for s, name in enumerate(SCHEMES):
            sums = dict(self.sums[k][s])
            sums["fund_balance"] = fund_balance(sums)
            by_scheme[name] = sums
        out: dict[str, Any] = {
            n: sum(by_scheme[s][n] for s in SCHEMES) for n in (*SUMS, "fund_balance")
        }
        oop = h[f"oop{k}"]
        if measured:
            income = h["income"]
            over10 = np.where(income > 0, oop * 10 > income, oop > 0)
            over25 = np.where(income > 0, oop * 4 > income, oop > 0)
            out["households_over_10pct"] = int(np.count_nonzero(over10))
            out["households_over_25pct"] = int(np.count_nonzero(over25))
            for s, name in enumerate(SCHEMES):
                mine = h["scheme"] == s
                by_scheme[name]["households_over_10pct"] = int(np.count_nonzero(over10 & mine))
                by_scheme[name]["households_over_25pct"] = int(np.count_nonzero(over25 & mine))
            out["burden_by_quintile"] = [
                {
                    "households_over_10pct": int(np.count_nonzero(over10[quintile == q])),
                    "households_over_25pct": int(np.count_nonzero(over25[quintile == q])),
                    "out_of_pocket": int(oop[quintile == q].sum()),
                }
                for q in range(QUINTILES)
            ]
        else:
            out["households_over_10pct"] = None
            out["households_over_25pct"] = None
        out["out_of_pocket"] = int(oop.sum())
        out["by_scheme"] = by_scheme
        return out


def _gains(change: I64, quintile: I64) -> list[dict[str, Any]]:
    out = []
    for q in range(QUINTILES):
        mine = change[quintile == q]
        out.append(
            {
                "quintile": q + 1,
                "better_off": int(np.count_nonzero(mine < 0)),
                "worse_off": int(np.count_nonzero(mine > 0)),
                "change": fen_to_yuan(int(mine.sum())),
            }
        )
    return out


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


__all__ = ["AMOUNTS", "Accumulator", "diff", "fund_balance", "render"]
