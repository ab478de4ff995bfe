"""The online path: single-person requests, alone or coalesced into one kernel call.

An online settlement is one person's claim with that person's stored year-to-date state. Each
kernel call pays a fixed cost at its Python edge (a few microseconds: the columns and state in,
the result's columns out); ``settle_many`` stacks many requests of different persons into one
batch (each its own person) and splits the result, so a server under load shares that cost
across the requests that arrived together.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, fields

import numpy as np

from yibao.kernel.segments import I64
from yibao.kernel.settle import Claims, Persons, Result, State, settle_claims, state_keys
from yibao.kernel.state import Rows
from yibao.kernel.tables import Tables


@dataclass
class Request:
    """One person's claims (``claims.person`` all 0), the person, and the stored state (1 row)."""

    claims: Claims
    person: Persons
    state: State | None = None


def settle_one(tables: Tables, request: Request) -> Result:
    return settle_claims(tables, request.claims, request.person, request.state)


def settle_many(tables: Tables, requests: list[Request]) -> list[Result]:
    """Settle requests of distinct persons in one kernel call; results in request order."""
    if len(requests) == 1:
        return [settle_one(tables, requests[0])]
    sizes = np.array([len(r.claims) for r in requests])
    person = np.repeat(np.arange(len(requests), dtype=np.int64), sizes)
    stacked = {
        f.name: np.concatenate([getattr(r.claims, f.name) for r in requests])
        for f in fields(Claims)
        if f.name != "person"
    }
    claims = Claims(person=person, **stacked)
    persons = Persons(
        **{
            f.name: np.concatenate([getattr(r.person, f.name) for r in requests])
            for f in fields(Persons)
        }
    )
    zero = np.zeros(1, dtype=np.int64)
    state = State(
        {
            k: np.concatenate([r.state.values.get(k, zero) if r.state else zero for r in requests])
            for k in state_keys(tables)
        }
    )
    result = settle_claims(tables, claims, persons, state)
    bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
    out = []
    for i in range(len(requests)):
        lo, hi = bounds[i], bounds[i + 1]
        out.append(
            Result(_part(result.columns, lo, hi), State(_part(result.state.values, i, i + 1)))
        )
    return out


def _part(rows: Mapping[str, I64], lo: int, hi: int) -> MutableMapping[str, I64]:
    """Columns ``lo:hi`` of each row: one view of the matrix when the rows are a ``Rows``."""
    if isinstance(rows, Rows) and rows.own is None:
        return Rows(rows.matrix[:, lo:hi], rows.at)
    return {k: v[lo:hi] for k, v in rows.items()}
