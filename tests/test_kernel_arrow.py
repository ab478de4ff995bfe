"""The kernel's Arrow edge: column contract, ordering, person lookup and clear column errors."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from yibao.kernel.arrow import ColumnError, settle_table
from yibao.kernel.tables import compile_tables
from yibao.policy import Policy

TABLES = compile_tables(Policy("000000"), 2025)


def claims(**overrides: list[object]) -> pa.Table:
    cols: dict[str, list[object]] = {
        "psn_no": [20, 10, 20],
        "date": [dt.date(2025, 6, 1), dt.date(2025, 5, 1), dt.date(2025, 5, 1)],
        "med_type": ["inpatient", "inpatient", "outpatient"],
        "level": [2, 2, 1],
        "cross_region": [None, "referred", None],
        "total": [1_000_000, 1_000_000, 50_000],
        "fully_self_paid": [0, 0, 0],
        "over_limit": [0, 0, 0],
        "category_b": [0, 0, 0],
    }
    cols.update(overrides)
    return pa.table(cols)


PERSONS = pa.table(
    {
        "psn_no": [10, 20],
        "scheme": ["resident", "employee"],
        "assistance_class": [None, "dibao"],
        "account_balance": [0, 100_000],
        "use_account": [True, True],
        "mutual_aid_balance": [0, 0],
        "incentive_raise": [0, 0],
        "entitled_from": pa.array([None, None], type=pa.date32()),
    }
)


def test_settle_table_orders_claims_and_appends_the_layers() -> None:
    out, _ = settle_table(TABLES, claims(), PERSONS)
    assert out["psn_no"].to_pylist() == [10, 20, 20]
    assert out["med_type"].to_pylist() == ["inpatient", "outpatient", "inpatient"]
    # person 10, resident, referred: (9000 - 400) x 0.75 = 6450.00
    assert out["hifp_pay"].to_pylist()[0] == 645_000
    total = out["total"].to_pylist()
    parts = [out[c].to_pylist() for c in ("fund_pay_sumamt", "acct_pay", "acct_mulaid_pay",
                                          "psn_cash_pay")]  # fmt: skip
    assert [sum(p[i] for p in parts) for i in range(3)] == total


def test_unknown_values_and_missing_persons_are_named() -> None:
    with pytest.raises(ColumnError, match="med_type: unknown value 'dental'"):
        settle_table(TABLES, claims(med_type=["dental", "inpatient", "inpatient"]), PERSONS)
    with pytest.raises(ColumnError, match="claims: missing columns"):
        settle_table(TABLES, claims().drop_columns(["total"]), PERSONS)
    with pytest.raises(ColumnError, match="has no person row"):
        settle_table(TABLES, claims(psn_no=[30, 10, 20]), PERSONS)


def dictionary_encoded(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """The table with its string columns ``names`` dictionary-encoded, as Parquet reads them
    with ``read_dictionary``."""
    for name in names:
        at = table.schema.get_field_index(name)
        table = table.set_column(at, name, table[name].dictionary_encode())
    return table


def test_dictionary_columns_settle_as_their_strings() -> None:
    plain, _ = settle_table(TABLES, claims(), PERSONS)
    encoded, _ = settle_table(
        TABLES,
        dictionary_encoded(claims(), ("med_type", "cross_region")),
        dictionary_encoded(PERSONS, ("scheme", "assistance_class")),
    )
    for name in ("hifp_pay", "maf_pay", "acct_pay", "psn_cash_pay", "fund_pay_sumamt"):
        assert encoded[name].to_pylist() == plain[name].to_pylist(), name
    assert plain["maf_pay"].to_pylist() != [0, 0, 0]  # the dibao person's aid was decoded


def test_unknown_dictionary_values_are_named() -> None:
    bad = dictionary_encoded(claims(med_type=["inpatient", "dental", "inpatient"]), ("med_type",))
    with pytest.raises(ColumnError, match="med_type: unknown value 'dental'"):
        settle_table(TABLES, bad, PERSONS)
    # a null where none is allowed is named too (cross_region's null is "registered")
    bad = dictionary_encoded(claims(med_type=["inpatient", None, "inpatient"]), ("med_type",))
    with pytest.raises(ColumnError, match="med_type: unknown value None"):
        settle_table(TABLES, bad, PERSONS)
    # a value no row uses does not matter
    unused = pa.DictionaryArray.from_arrays(
        pa.array([0, 0, 1], type=pa.int32()), pa.array(["inpatient", "outpatient", "dental"])
    )
    out, _ = settle_table(TABLES, claims().set_column(2, "med_type", unused), PERSONS)
    assert out["med_type"].to_pylist() == ["inpatient", "outpatient", "inpatient"]
