"""Department files by layout: bad rows reported by row number and field, the rest read;
a file without its layout refused whole; the vectorised ID check agrees with the one ID
parser (``parse_national_id``) and upgrades 15-digit IDs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compare.compare_support import as_15, nid, swap, write_csv
from yibao.domain.errors import InvalidNationalId
from yibao.domain.identity import make_national_id, normalise_ids, parse_national_id, upgrade_15
from yibao.services.compare.files import LayoutError, read_department


def test_bad_rows_are_reported_by_row_and_field_and_the_rest_read(tmp_path: Path) -> None:
    good, other = nid(11), nid(12, dt.date(1960, 2, 29))
    rows = [
        {"id_no": good, "name": "王伟", "sex": "M", "birth_date": "1985-06-15"},  # row 1
        {"id_no": swap(good, 3), "name": "李娜", "sex": "F", "birth_date": "1985-06-15"},  # 2
        {"id_no": "", "name": "张敏", "sex": "F", "birth_date": "1990-01-01"},  # 3
        {"id_no": other, "name": "刘强", "sex": "X", "birth_date": "1960-02-29"},  # 4
        {"id_no": as_15(other), "name": "刘强", "sex": "M", "birth_date": "1960-02-30"},  # 5
        {"id_no": other, "name": "", "sex": "M", "birth_date": "1960-02-29"},  # 6
        {"id_no": as_15(other), "name": "陈杰", "sex": "m", "birth_date": "1960-02-29"},  # 7
    ]
    path = write_csv(tmp_path / "hh.csv", "household", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write(f"{good},多一列,M,1985-06-15,地址,H1,extra\n")  # row 8: a field too many
        f.write(f"{good},赵军,M,1985-06-15,地址,H1\n")  # row 9
    read = read_department("household", path)
    errors = [(e["row_no"], e["field"], e["reason"], e["kept"]) for e in read.errors.to_pylist()]
    assert errors == [
        (2, "id_no", "check digit is wrong", True),
        (3, "id_no", "missing", True),
        (4, "sex", "must be M or F", False),
        (5, "birth_date", "not a date YYYY-MM-DD", False),
        (6, "name", "missing", False),
        (8, "*", "has 7 fields, expected 6", False),
    ]
    assert read.rows["row_no"].to_pylist() == [1, 2, 3, 7, 9]
    assert read.rows["id_no"].to_pylist() == [good, None, None, other, good]  # 15 → 18
    assert read.rows["sex"].to_pylist() == ["M", "F", "F", "M", "M"]
    assert read.read == 9 and read.dropped == 4


def test_a_file_without_its_layout_is_refused_naming_the_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "death", [], header=["id_no", "name", "died"])
    with pytest.raises(LayoutError, match="missing column\\(s\\) death_date"):
        read_department("death", path)
    table = pa.table({"id_no": [nid(1)], "name": ["王伟"]})
    pq.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(LayoutError, match="death_date"):
        read_department("death", tmp_path / "d.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(LayoutError, match="not a readable Parquet"):
        read_department("death", tmp_path / "junk.parquet")


def test_parquet_with_typed_dates_and_ints(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id_no": [nid(1), nid(3)],
            "name": ["王伟", "李强"],
            "employer": ["E1", "E2"],
            "year": pa.array([2025, 2025], pa.int64()),
            "months": pa.array([12, 13], pa.int64()),
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    read = read_department("employment", tmp_path / "e.parquet")
    assert read.rows["months"].to_pylist() == [12]
    assert read.errors.to_pylist()[0]["reason"] == "not a whole number from 1 to 12"


@settings(max_examples=200, deadline=None)
@given(
    st.dates(dt.date(1900, 1, 1), dt.date(2025, 12, 31)),
    st.integers(0, 999),
    st.integers(0, 15),
)
def test_vectorised_check_agrees_with_the_parser(birth: dt.date, seq: int, i: int) -> None:
    number = make_national_id("360100", birth, seq)
    swapped = swap(number, i)
    got, reason = normalise_ids(pa.array([number, swapped, number.lower()]))
    assert got.to_pylist()[0] == parse_national_id(number).number
    if swapped != number:  # an adjacent transposition always breaks MOD 11-2
        assert got.to_pylist()[1] is None and reason[1] == 4
        with pytest.raises(InvalidNationalId):
            parse_national_id(swapped)
    if birth.year < 2000:
        short = as_15(number)
        assert upgrade_15(short) == number
        assert normalise_ids(pa.array([short]))[0].to_pylist() == [number]
