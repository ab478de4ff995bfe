"""Arrow edge of the kernel: claims and persons tables in, settled columns out.

Column names are those of ``yibao.kernel.schema``; amounts are int64 fen.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.kernel.entitled import ALWAYS
from yibao.kernel.schema import CLAIM_COLUMNS, PERSON_COLUMNS
from yibao.kernel.segments import I64
from yibao.kernel.settle import Claims, Persons, Result, State, settle_claims
from yibao.kernel.tables import AID_CLASSES, DISEASE_UNCHECKED, MED_TYPES, SCHEME_INPUT, Tables
from yibao.policy.vocab import CROSS_REGIONS

ClaimsOrPersons = TypeVar("ClaimsOrPersons", Claims, Persons)


class ColumnError(ValueError):
    """A batch column is missing or holds a value the kernel does not know."""


def _chunks(column: pa.ChunkedArray | pa.Array) -> list[pa.Array]:
    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def _codes(
    column: pa.ChunkedArray | pa.Array,
    names: tuple[str, ...],
    field: str,
    null_code: int | None = None,
) -> I64:
    """Each row's index in ``names`` (``null_code`` for a null where nulls are allowed); a
    dictionary-encoded column (Parquet read with ``read_dictionary``) is looked up once per
    dictionary value, not once per row, each chunk's codes written in place."""
    if pa.types.is_dictionary(column.type):
        codes = np.empty(len(column), dtype=np.int64)
        at = 0
        for chunk in _chunks(column):
            _dictionary_codes(chunk, names, field, null_code, codes[at : at + len(chunk)])
            at += len(chunk)
        return codes
    found = pc.index_in(column, value_set=pa.array(names))
    if null_code is not None:
        found = pc.if_else(pc.is_null(column), null_code, found)
    if found.null_count:
        bad = pc.filter(column, pc.is_null(found))[0]
        raise ColumnError(f"{field}: unknown value {bad.as_py()!r}; expected one of {names}")
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


_UNKNOWN = -1


def _dictionary_codes(
    chunk: pa.DictionaryArray, names: tuple[str, ...], field: str, null_code: int | None, out: I64
) -> None:
    """``_codes`` of one dictionary-encoded chunk into ``out``: its dictionary's values looked
    up in ``names`` (a null row looked up as one more value past the dictionary's), then taken
    by the chunk's indices."""
    dictionary = chunk.dictionary
    found = pc.index_in(dictionary, value_set=pa.array(names))
    if null_code is not None and dictionary.null_count:
        found = pc.if_else(pc.is_null(dictionary), null_code, found)
    lookup = np.empty(len(dictionary) + 1, dtype=np.int64)
    lookup[:-1] = pc.fill_null(found, _UNKNOWN).to_numpy(zero_copy_only=False)
    lookup[-1] = _UNKNOWN if null_code is None else null_code
    indices = chunk.indices
    if chunk.null_count:
        indices = pc.fill_null(indices, pa.scalar(len(dictionary), indices.type))
    np.take(lookup, indices.to_numpy(zero_copy_only=False), out=out, mode="clip")
    unknown = lookup[:-1].min(initial=0) == _UNKNOWN or (null_code is None and chunk.null_count)
    if unknown and len(out) and out.min() == _UNKNOWN:
        bad = chunk[int(np.argmin(out))].as_py()
        raise ColumnError(f"{field}: unknown value {bad!r}; expected one of {names}")


def int_column(column: pa.ChunkedArray | pa.Array) -> I64:
    """An integer column as int64 NumPy (copied only where it is not int64 in one chunk)."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _shifted(column: pa.ChunkedArray | pa.Array, by: int) -> I64:
    """A not-null integer column plus ``by``, as int64, in one pass."""
    out = np.empty(len(column), dtype=np.int64)
    at = 0
    for chunk in _chunks(column):
        np.add(chunk.to_numpy(), by, out=out[at : at + len(chunk)], dtype=np.int64)
        at += len(chunk)
    return out


def _days(column: pa.ChunkedArray | pa.Array, fill: int) -> I64:
    if column.null_count or column.type not in (pa.date32(), pa.int32()):
        days = pc.fill_null(pc.cast(column, pa.int32()), fill)
        return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.empty(len(column), dtype=np.int64)
    at = 0
    for chunk in _chunks(column):  # date32: int32 days since 1970-01-01, viewed as such
        out[at : at + len(chunk)] = chunk.view(pa.int32()).to_numpy()
        at += len(chunk)
    return out


def _require(table: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ColumnError(f"{what}: missing columns {missing}")


def claims_from_arrow(table: pa.Table) -> Claims:
    _require(table, CLAIM_COLUMNS, "claims")
    cross = table["cross_region"]
    return Claims(
        person=int_column(table["psn_no"]),
        date=_days(table["date"], 0),
        med_type=_codes(table["med_type"], MED_TYPES, "med_type"),
        level=_shifted(table["level"], -1),
        cross_region=_codes(cross, CROSS_REGIONS, "cross_region", null_code=0),
        total=int_column(table["total"]),
        fully_self_paid=int_column(table["fully_self_paid"]),
        over_limit=int_column(table["over_limit"]),
        category_b=int_column(table["category_b"]),
        # no certified chronic diseases in the files: the chronic benefit alone pays
        disease=np.full(table.num_rows, DISEASE_UNCHECKED, dtype=np.int64),
        listed_self_paid=np.zeros(table.num_rows, dtype=np.int64),
    )


def persons_from_arrow(table: pa.Table) -> Persons:
    _require(table, PERSON_COLUMNS, "persons")
    schemes = tuple(SCHEME_INPUT)
    scheme_codes = np.array([SCHEME_INPUT[s] for s in schemes], dtype=np.int64)
    none = np.zeros(table.num_rows, dtype=np.int64)  # no commercial product (read only)
    return Persons(
        scheme=scheme_codes[_codes(table["scheme"], schemes, "scheme")],
        aid_class=_codes(table["assistance_class"], AID_CLASSES, "assistance_class", null_code=0),
        account_balance=int_column(table["account_balance"]),
        use_account=np.asarray(table["use_account"].to_numpy(zero_copy_only=False), dtype=bool),
        mutual_aid_balance=int_column(table["mutual_aid_balance"]),
        incentive_raise=int_column(table["incentive_raise"]),
        entitled_from=_days(table["entitled_from"], ALWAYS),  # null: no waiting period
        com_deductible=none,
        com_ratio=none,
        com_cap=none,
        com_covers=none,
    )


def in_order(person: I64, date: I64) -> bool:
    """Whether claims are sorted by (person, date), as the kernel takes them."""
    if len(person) < 2:
        return True
    return bool(
        np.all(person[1:] >= person[:-1])
        and np.all((person[1:] != person[:-1]) | (date[1:] >= date[:-1]))
    )


def take(columns: ClaimsOrPersons, rows: I64) -> ClaimsOrPersons:
    """The same columns at ``rows`` (NumPy takes: reordering or picking persons without going
    back to Arrow)."""
    return type(columns)(**{f.name: getattr(columns, f.name)[rows] for f in fields(columns)})


def person_rows(person: I64, psn: I64) -> tuple[I64, I64]:
    """Claims sorted by person key in, (each claim's person number 0..P-1, each person's row
    in ``psn``) out; each run of equal keys is one person (``kernel.runs``: one compiled pass
    for the runs, a merge where ``psn`` is sorted). Raises ``ColumnError`` when a key has no
    row in ``psn``."""
    from yibao.kernel.runs import match_sorted, number_runs  # imports Numba

    run, keys = np.empty(len(person), dtype=np.int64), np.empty(len(person), dtype=np.int64)
    unique = keys[: number_runs(person, run, keys)]
    if len(psn) < 2 or np.all(psn[1:] >= psn[:-1]):
        idx = np.empty(len(unique), dtype=np.int64)
        found = match_sorted(unique, np.ascontiguousarray(psn, dtype=np.int64), idx)
    else:
        sorter = np.argsort(psn, kind="stable")
        pos = np.minimum(np.searchsorted(psn, unique, sorter=sorter), len(psn) - 1)
        idx = sorter[pos]
        found = len(unique) if np.all(psn[idx] == unique) else -1
    if found != len(unique):
        raise ColumnError("persons: a claim's psn_no has no person row")
    return run, idx


def settle_table(
    tables: Tables, claims: pa.Table, persons: pa.Table, state: State | None = None
) -> tuple[pa.Table, Result]:
    """Settle an Arrow batch: claims sorted by (psn_no, date), persons covering them.

    Returns the claims with the output columns appended, and the kernel result (with state for
    the persons in order of first appearance).
    """
    c = claims_from_arrow(claims)
    if not in_order(c.person, c.date):
        order = np.lexsort((c.date, c.person))
        claims = claims.take(pa.array(order))
        c = take(c, order)
    _, idx = person_rows(c.person, int_column(persons["psn_no"]))
    p = take(persons_from_arrow(persons), idx)
    result = settle_claims(tables, c, p, state)
    out = claims
    for name, values in result.columns.items():
        out = out.append_column(name, pa.array(values))
    return out, result
