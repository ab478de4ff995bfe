"""The online path: single-person requests, alone or coalesced into one kernel call.

An online settlement is one person's claim with that person's stored year-to-date state. A
request arrives as the compiled pass takes it: the claim's and the person's fields in one int64
array (``Request.row``, ``one_claim``), the stored state as a column of the kernel's state matrix
(``state_of``); a result's state is a column of the result's matrix and goes back in as it is.
``settle_one`` is one kernel call (``single_pass.settle_row``); ``settle_many`` stacks requests
of different persons into one call (``single_pass.settle_rows``) and splits the result, so a
server under load shares a call's fixed cost across the requests that arrived together.
Importing this module does not import Numba (``kernel.settle``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from yibao.kernel.columns import CLAIM_FIELDS, PERSON_FIELDS, ROW_FIELDS, Claims, Persons
from yibao.kernel.segments import I64
from yibao.kernel.settle import Result, State, settle_claims, state_keys
from yibao.kernel.state import Rows, layout
from yibao.kernel.tables import Tables

_N_CLAIM, _N_ROW = len(CLAIM_FIELDS), len(ROW_FIELDS)


@dataclass
class Request:
    """One person's claims and the person in one int64 array, and the stored state.

    ``row``: each of ``CLAIM_FIELDS`` over the person's n claims (``person`` 0), then each of
    ``PERSON_FIELDS`` (one value): ``11 n + 11`` values. ``state``: the person's year-to-date
    state (``state_of``), None for none."""

    row: I64
    state: State | None = None

    @classmethod
    def of(cls, claims: Claims, person: Persons, state: State | None = None) -> Request:
        """A request from the columns of one person's claims and the person's (one row)."""
        row = np.concatenate(
            [getattr(claims, f) for f in CLAIM_FIELDS]
            + [getattr(person, f) for f in PERSON_FIELDS],
            dtype=np.int64,
            casting="unsafe",
        )
        return cls(row, state)

    def __len__(self) -> int:
        """The number of claims."""
        return (len(self.row) - len(PERSON_FIELDS)) // _N_CLAIM

    def column(self, name: str) -> I64:
        """A field's values: a claim field's over the claims, a person field's (one value)."""
        n = len(self)
        if name not in ROW_FIELDS:
            raise KeyError(f"{name}: not a field of ROW_FIELDS")
        if name in CLAIM_FIELDS:
            k = CLAIM_FIELDS.index(name)
            return self.row[k * n : (k + 1) * n]
        at = _N_CLAIM * n + PERSON_FIELDS.index(name)
        return self.row[at : at + 1]

    def replaced(self, **values: int) -> Request:
        """The request with fields set (a claim field: on every claim), the state the same."""
        new = Request(self.row.copy(), self.state)
        for name, value in values.items():
            new.column(name)[:] = value
        return new

    def columns(self) -> tuple[Claims, Persons]:
        """The request as the batch's columns (views of ``row``)."""
        size, n_person = len(self.row), len(PERSON_FIELDS)
        if size < _N_ROW or (size - n_person) % _N_CLAIM:
            raise ValueError(
                f"row: {size} values, not {_N_CLAIM} a claim and {n_person} for the person "
                "(ROW_FIELDS)"
            )
        return (
            Claims(**{f: self.column(f) for f in CLAIM_FIELDS}),
            Persons(**{f: self.column(f) for f in PERSON_FIELDS}),  # type: ignore[arg-type]
        )


def one_claim(state: State | None = None, **fields: int) -> Request:
    """A one-claim request from the values of ``ROW_FIELDS`` by name (``person`` 0 if not given;
    a missing or unknown field is an error naming it)."""
    fields.setdefault("person", 0)
    unknown = set(fields) - set(ROW_FIELDS)
    if unknown:
        raise TypeError(f"one_claim: unknown field {sorted(unknown)[0]}")
    missing = [f for f in ROW_FIELDS if f not in fields]
    if missing:
        raise TypeError(f"one_claim: missing field {missing[0]}")
    return Request(np.array([fields[f] for f in ROW_FIELDS], dtype=np.int64), state)


def state_of(tables: Tables, values: Mapping[str, int]) -> State:
    """A person's stored state as the kernel keeps it: one column of the state matrix (the
    slots of ``state_keys(tables)``, 0 where not given), read where it lies by the kernel; keys
    the kernel does not keep are passed through."""
    keys, at, _, _, column_at = layout(tables)
    column = np.array([values.get(k, 0) for k in keys], dtype=np.int64).reshape(-1, 1)
    state = Rows(column, column_at)
    for key in values.keys() - at.keys():
        state[key] = np.array([values[key]], dtype=np.int64)
    return State(state)


def _settle_row(tables: Tables, row: I64, state: State | None) -> Result:
    """``single_pass.settle_row``, imported on the first settlement (it imports Numba)."""
    global _settle_row
    from yibao.kernel.single_pass import settle_row

    _settle_row = settle_row
    return settle_row(tables, row, state)


def settle_one(tables: Tables, request: Request) -> Result:
    """One request in one kernel call."""
    row = request.row
    if len(row) == _N_ROW:
        return _settle_row(tables, row, request.state)
    return settle_claims(tables, *request.columns(), request.state)


def settle_many(tables: Tables, requests: list[Request]) -> list[Result]:
    """Settle requests of distinct persons in one kernel call; results in request order."""
    if len(requests) == 1:
        return [settle_one(tables, requests[0])]
    if all(len(r.row) == _N_ROW for r in requests):  # one claim each: the online path
        rows = [r.row for r in requests]
        states = [r.state for r in requests]
        from yibao.kernel.single_pass import settle_rows

        return settle_rows(tables, rows, states)
    return _settle_stacked(tables, requests)


def _settle_stacked(tables: Tables, requests: list[Request]) -> list[Result]:
    """``settle_many`` of requests of several claims: the batch's columns stacked, one call."""
    parts = [r.columns() for r in requests]
    sizes = np.array([len(c.person) for c, _ in parts])
    stacked = {f: np.concatenate([getattr(c, f) for c, _ in parts]) for f in CLAIM_FIELDS[1:]}
    person = np.repeat(np.arange(len(requests), dtype=np.int64), sizes)
    claims = Claims(person=person, **stacked)
    persons = Persons(
        **{f: np.concatenate([getattr(p, f) for _, p in parts]) for f in PERSON_FIELDS}
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


def _part(rows: Mapping[str, I64], lo: int, hi: int) -> Rows | dict[str, I64]:
    """Columns ``lo:hi`` of each row: one view of the matrix when the rows are a ``Rows``."""
    if isinstance(rows, Rows) and rows.own is None:
        return Rows(rows.matrix[:, lo:hi], rows.at)
    return {k: v[lo:hi] for k, v in rows.items()}
