"""A person's year-to-date state (累计): the accumulators each layer carries across claims,
and the state once a settlement is reversed (冲正)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from yibao.kernel.segments import I64
from yibao.kernel.tables import MED_TYPES, Tables

#: State key: the admission ranks below ``admissions`` (the highest rank held) that no
#: settlement in force holds, one bit a rank (bit 0 = the first admission), left by reversals.
FREE_ADMISSIONS = "admissions.free"
#: Ranks beyond this are not tracked as free (the repeat-admission factors end long before).
MAX_TRACKED_RANK = 62


def state_keys(tables: Tables) -> list[str]:
    """Names of the year-to-date accumulators: ``<layer>.raw`` is the uncapped running total of
    a capped layer's payments, ``<layer>.paid`` what it paid, ``<schedule>.base`` a running base.
    ``chr:<code>`` is a listed chronic disease's annual limit (门诊慢特病); ``com`` the person's
    supplementary commercial insurance (惠民保): its deductible's base, its cap, last."""
    layers = [f"cap:{g}" for g in tables.cap_groups] + ["ci", "la", "acct", "mulaid"]
    layers += [f"ma:{t}" for t in range(tables.n_tiers)]
    layers += [f"chr:{code}" for code in tables.chronic_codes]
    keys = ["admissions", FREE_ADMISSIONS, "ci.base"] + [f"ded:{m}.base" for m in MED_TYPES]
    keys += [f"ma:{t}.base" for t in range(tables.n_tiers)]
    keys += [f"{layer}.{k}" for layer in layers for k in ("raw", "paid")]
    return [*keys, "com.base", "com.raw", "com.paid"]


class Slots(NamedTuple):
    """Where each accumulator of ``state_keys`` sits along the compiled kernel's state matrix
    (``[key, person]``): a layer's ``.raw`` slot, its ``.paid`` slot right after it."""

    admissions: int
    free: int
    ci_base: int
    ded_base: int  # ded:<m>.base of med type m at ded_base + m
    ma_base: int  # ma:<t>.base at ma_base + t
    cap: int  # cap:<g>.raw at cap + 2g
    ci: int
    la: int
    acct: int
    mulaid: int
    ma: int  # ma:<t>.raw at ma + 2t
    chronic: int  # chr:<code>.raw of the disease d (``Tables.chronic_codes[d]``) at chronic + 2d
    commercial: int  # com.base, then com.raw and com.paid


def slots(tables: Tables) -> Slots:
    """The slots of ``state_keys(tables)``."""
    at = {k: i for i, k in enumerate(state_keys(tables))}
    return Slots(
        admissions=at["admissions"],
        free=at[FREE_ADMISSIONS],
        ci_base=at["ci.base"],
        ded_base=at[f"ded:{MED_TYPES[0]}.base"],
        ma_base=at["ma:0.base"] if tables.n_tiers else 0,
        cap=at[f"cap:{tables.cap_groups[0]}.raw"],
        ci=at["ci.raw"],
        la=at["la.raw"],
        acct=at["acct.raw"],
        mulaid=at["mulaid.raw"],
        ma=at["ma:0.raw"] if tables.n_tiers else 0,
        chronic=at[f"chr:{tables.chronic_codes[0]}.raw"] if tables.chronic_codes else 0,
        commercial=at["com.base"],
    )


class Layout(NamedTuple):
    """The state's keys (``state_keys``), their slots by name (a state matrix's rows), the slots
    of ``Slots`` as an array, the names of the medical-assistance tier columns, and the slots by
    name again (an object of its own) of a state of one person in a contiguous matrix of its own
    (``kernel.online.state_of``: the kernel reads it where it lies)."""

    keys: list[str]
    at: dict[str, int]
    slots: I64
    tier_names: list[str]
    column_at: dict[str, int]


def layout(tables: Tables) -> Layout:
    """The ``Layout`` of ``tables`` (built once: a state read by name keeps the same ``at``)."""
    found: Layout | None = tables.derived.get("layout")
    if found is None:
        keys = state_keys(tables)
        tier_names = [f"{k}:{t}" for t in range(tables.n_tiers) for k in ("ma_base", "maf_pay")]
        at = {k: i for i, k in enumerate(keys)}
        found = tables.derived["layout"] = Layout(
            keys, at, np.array(slots(tables), dtype=np.int64), tier_names, dict(at)
        )
    return found


class Rows(MutableMapping[str, I64]):
    """The rows of a matrix (``[column, claim]`` of results, ``[slot, person]`` of state) by
    name, each row made (a view) when it is read: a one-claim settlement does not pay for views
    of rows nobody reads. Changing it first turns it into a plain mapping of its rows."""

    __slots__ = ("at", "matrix", "own")

    def __init__(self, matrix: I64, at: dict[str, int]) -> None:
        self.matrix = matrix
        self.at = at  # name → row of ``matrix``
        self.own: dict[str, I64] | None = None  # the rows, once changed

    def __getitem__(self, name: str) -> I64:
        if self.own is not None:
            return self.own[name]
        row: I64 = self.matrix[self.at[name]]
        return row

    def __iter__(self) -> Iterator[str]:
        return iter(self.at if self.own is None else self.own)

    def __len__(self) -> int:
        return len(self.at if self.own is None else self.own)

    def __contains__(self, name: object) -> bool:
        return name in (self.at if self.own is None else self.own)

    def _owned(self) -> dict[str, I64]:
        if self.own is None:
            self.own = {name: self.matrix[k] for name, k in self.at.items()}
        return self.own

    def __setitem__(self, name: str, value: I64) -> None:
        self._owned()[name] = value

    def __delitem__(self, name: str) -> None:
        del self._owned()[name]

    def __repr__(self) -> str:
        return f"Rows({dict(self)!r})"


@dataclass(slots=True)
class State:
    """Each person's year-to-date accumulators (fen, counts), one row per person."""

    values: MutableMapping[str, I64] = field(default_factory=dict)

    @classmethod
    def zeros(cls, tables: Tables, n: int) -> State:
        return cls({k: np.zeros(n, dtype=np.int64) for k in state_keys(tables)})

    def get(self, key: str, n: int) -> I64:
        if key not in self.values:
            self.values[key] = np.zeros(n, dtype=np.int64)
        return self.values[key]

    def row(self, i: int) -> dict[str, int]:
        """Person ``i``'s accumulators by key."""
        values = self.values
        if type(values) is Rows and values.own is None:  # one column of the matrix
            column = values.matrix[:, i].tolist()
            return {k: column[j] for k, j in values.at.items()}
        return {k: int(v[i]) for k, v in values.items()}


def released_rank(held: int, free: int, rank: int) -> tuple[int, int]:
    """``(admissions, free)`` once the admission of ``rank`` no longer holds it (a reversal):
    the highest rank goes down past every free rank below it; a lower rank becomes free, and the
    next admission takes it (``layers.basic.admission_numbers``)."""
    if rank <= 0 or rank > held:
        return held, free
    if rank < held:
        if rank <= MAX_TRACKED_RANK:
            free |= 1 << (rank - 1)
        return held, free
    held -= 1
    while held > 0 and free >> (held - 1) & 1:
        free &= ~(1 << (held - 1))
        held -= 1
    return held, free


def reversed_state(
    state: Mapping[str, int], delta: Mapping[str, int], admission_no: int = 0
) -> dict[str, int]:
    """The year-to-date state once a settlement is reversed (冲正): ``delta`` (what the settlement
    added to each accumulator) taken out, and every layer's uncapped running total
    (``<layer>.raw``) set to what the layer paid (``<layer>.paid``).

    Every accumulator is then what the settlements still in force contributed: the admission
    ranks they hold (the reversed admission's rank, ``admission_no``, is released: the next
    admission takes it and bears its repeat-admission deductible, so the year's deductibles are
    those of the admissions in force), the deductible and critical-illness bases, and each
    layer's paid total (later settlements stay as they were paid). ``raw = paid`` makes the
    next claim's room under a cap exactly ``cap − paid``: an in-force claim's uncapped share
    that a cap, reached because of the reversed claim, kept it from being paid is dropped, not
    carried into the next claim. Without a reversal ``raw`` exceeds ``paid`` only once the cap
    is reached, where both give the same (in a year of one parameter version; where a cap
    changes within the year, a reversal also drops the excess over the old cap that a raised
    cap would pay with the next claim)."""
    out = {k: v - delta.get(k, 0) for k, v in state.items()}
    out.update({k: -v for k, v in delta.items() if k not in state})
    out["admissions"], out[FREE_ADMISSIONS] = released_rank(
        state.get("admissions", 0), state.get(FREE_ADMISSIONS, 0), admission_no
    )
    for layer in {k.rsplit(".", 1)[0] for k in out if k.endswith((".raw", ".paid"))}:
        out[f"{layer}.raw"] = out.get(f"{layer}.paid", 0)
    return {k: v for k, v in out.items() if v}
