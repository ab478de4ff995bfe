"""Arrow edge of the kernel: claims and persons tables in, settled columns out.

Column names are those of ``yibao.kernel.schema``; amounts are int64 fen.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from yibao.kernel.entitled import ALWAYS
from yibao.kernel.schema import CLAIM_COLUMNS, PERSON_COLUMNS
from yibao.kernel.segments import I64
from yibao.kernel.settle import Claims, Persons, Result, State, settle_claims
from yibao.kernel.tables import AID_CLASSES, DISEASE_UNCHECKED, MED_TYPES, SCHEME_INPUT, Tables
from yibao.policy.vocab import CROSS_REGIONS


class ColumnError(ValueError):
    """A batch column is missing or holds a value the kernel does not know."""


def _codes(
    column: pa.ChunkedArray | pa.Array,
    names: tuple[str, ...],
    field: str,
    null_code: int | None = None,
) -> I64:
    codes = pc.index_in(column, value_set=pa.array(names))
    if null_code is not None:
        codes = pc.if_else(pc.is_null(column), null_code, codes)
    if codes.null_count:
        bad = pc.filter(column, pc.is_null(codes))[0]
        raise ColumnError(f"{field}: unknown value {bad.as_py()!r}; expected one of {names}")
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64)


def _int(column: pa.ChunkedArray | pa.Array) -> I64:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)


def _days(column: pa.ChunkedArray | pa.Array, fill: int) -> I64:
    days = (
        pc.fill_null(pc.cast(column, pa.int32()), fill)
        if column.null_count
        else pc.cast(column, pa.int32())
    )
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64)


def _require(table: pa.Table, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise ColumnError(f"{what}: missing columns {missing}")


def claims_from_arrow(table: pa.Table) -> Claims:
    _require(table, CLAIM_COLUMNS, "claims")
    cross = table["cross_region"]
    return Claims(
        person=_int(table["psn_no"]),
        date=_days(table["date"], 0),
        med_type=_codes(table["med_type"], MED_TYPES, "med_type"),
        level=_int(table["level"]) - 1,
        cross_region=_codes(cross, CROSS_REGIONS, "cross_region", null_code=0),
        total=_int(table["total"]),
        fully_self_paid=_int(table["fully_self_paid"]),
        over_limit=_int(table["over_limit"]),
        category_b=_int(table["category_b"]),
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
        account_balance=_int(table["account_balance"]),
        use_account=np.asarray(table["use_account"].to_numpy(zero_copy_only=False), dtype=bool),
        mutual_aid_balance=_int(table["mutual_aid_balance"]),
        incentive_raise=_int(table["incentive_raise"]),
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
        c = claims_from_arrow(claims)
    first = np.empty(len(c), dtype=np.bool_)  # each run of equal keys is one person
    first[:1] = True
    np.not_equal(c.person[1:], c.person[:-1], out=first[1:])
    unique = c.person[first]
    psn = _int(persons["psn_no"])
    sorter = np.argsort(psn, kind="stable")
    pos = np.minimum(np.searchsorted(psn, unique, sorter=sorter), max(len(psn) - 1, 0))
    idx = sorter[pos] if len(psn) else pos
    if not len(psn) or np.any(psn[idx] != unique):
        raise ColumnError("persons: a claim's psn_no has no person row")
    p = persons_from_arrow(persons.take(pa.array(idx)))
    result = settle_claims(tables, c, p, state)
    out = claims
    for name, values in result.columns.items():
        out = out.append_column(name, pa.array(values))
    return out, result
