"""The catalogue file (docs/catalogue.md): the shipped illustrative catalogue, the layout's units,
and errors of a malformed file naming the line and the column."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from yibao.policy.catalogue import (
    COLUMNS,
    CatalogueError,
    parse_csv,
    read_catalogue,
    region_chain,
    shipped_catalogue,
    shipped_items,
)
from yibao.policy.vocab import ItemClass, ItemKind

HEADER = "code,name,kind,class,price_limit,max_per_day,valid_from,valid_to\n"
GOOD = "A1,a,drug,A,1.5,2.5,2025-01-01,2025-12-31\n"


def test_the_shipped_catalogue_is_illustrative_and_in_national_formats() -> None:
    path = shipped_catalogue("000000")
    assert path is not None
    assert "ILLUSTRATIVE" in path.read_text(encoding="utf-8").splitlines()[0]
    region, items = shipped_items("000000")
    assert region == "000000" and 150 <= len(items) <= 300
    formats = {
        # X/Z, class (5), generic name (4), dosage form (4), specification (4), maker (5)
        ItemKind.DRUG: re.compile(r"[XZ][A-Z][0-9]{2}[A-Z]{2}A[0-9]{3}[A-Z][0-9]{3}[0-9]{9}"
                                  r"|T[0-9]{9}"),
        ItemKind.CONSUMABLE: re.compile(r"C[0-9]{26}"),
        ItemKind.SERVICE: re.compile(r"00[0-9]{9}0000"),
    }  # fmt: skip
    for item in items:
        assert formats[item.kind].fullmatch(item.code), item.code
    assert {i.kind for i in items} == set(ItemKind)
    assert {i.item_class for i in items} == set(ItemClass)
    assert sum(i.price_limit is not None for i in items) >= 10
    assert all(i.typical_price for i in items)
    # restrictions of each kind appear
    assert any(i.sex for i in items) and any(i.max_age is not None for i in items)
    assert any(i.min_level for i in items) and any(i.indication for i in items)
    assert any(i.max_per_stay for i in items) and any(i.max_per_day for i in items)


def test_a_city_without_its_own_catalogue_uses_the_national_one() -> None:
    assert region_chain("360100") == ["360100", "360000", "000000"]
    assert region_chain("440300") == ["440300", "440000", "000000"]  # no parameter file
    assert shipped_items("360100")[0] == "000000"


def test_units_of_the_layout() -> None:
    (item,) = parse_csv(HEADER + GOOD)
    # 1.5 yuan = 1,500,000 price units; 2.5 units = 25,000 quantity units
    assert item.price_limit == 1_500_000 and item.max_per_day == 25_000
    assert (item.valid_from, item.valid_to) == (dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert item.kind == ItemKind.DRUG and item.item_class == ItemClass.A
    # chrgitm_lv codes are accepted for the class, a BOM and comment lines are skipped
    (coded,) = parse_csv(b"\xef\xbb\xbf# note\n" + (HEADER + GOOD.replace(",A,", ",02,")).encode())
    assert coded.item_class == ItemClass.B


@pytest.mark.parametrize(
    ("row", "line", "field", "reason"),
    [
        ("A2,b,drug,D,,,,\n", 3, "class", "unknown class"),
        ("A2,b,drug,A,-3,,,\n", 3, "price_limit", "must not be negative"),
        ("A2,b,drug,A,abc,,,\n", 3, "price_limit", "is not a number"),
        ("A2,b,drug,A,1.0000001,,,\n", 3, "price_limit", "more than 6 decimals"),
        ("A2,b,drug,A,,,2025-13-01,\n", 3, "valid_from", "not an ISO date"),
        ("A2,b,drug,A,,,2025-02-01,2025-01-01\n", 3, "valid_to", "before valid_from"),
        ("A1,b,drug,A,,,2025-06-01,\n", 3, "code", "already listed on line 2"),
        ("A2,b,pill,A,,,,\n", 3, "kind", "unknown kind"),
        (",b,drug,A,,,,\n", 3, "code", "missing"),
        ("A 2,b,drug,A,,,,\n", 3, "code", "not a national code"),
        ("A2,,drug,A,,,,\n", 3, "name", "missing"),
        ("A2,b,drug,A,,,\n", 3, "row", "has 7 fields"),
        ("A2,b\x01,drug,A,,,,\n", 3, "name", "control character"),
    ],
)
def test_a_malformed_row_names_its_line_and_column(
    row: str, line: int, field: str, reason: str
) -> None:
    with pytest.raises(CatalogueError) as caught:
        parse_csv(HEADER + GOOD + row, "cat.csv")
    error = caught.value
    assert (error.line, error.field) == (line, field)
    assert reason in error.reason
    assert str(error).startswith(f"cat.csv: line {line}: {field}: ")


def test_a_duplicate_code_for_a_later_period_is_a_new_version() -> None:
    items = parse_csv(HEADER + GOOD + "A1,b,drug,B,,,2026-01-01,\n")
    assert [i.item_class for i in items] == [ItemClass.A, ItemClass.B]


def test_a_missing_or_unknown_column_is_named() -> None:
    with pytest.raises(CatalogueError, match=r"line 1: class: missing column"):
        parse_csv("code,name,kind\nA1,a,drug\n", "cat.csv")
    with pytest.raises(CatalogueError, match=r"line 2: colour: unknown column"):
        parse_csv("# c\ncode,name,kind,class,colour\n", "cat.csv")
    with pytest.raises(CatalogueError, match="not UTF-8"):
        parse_csv(HEADER.encode() + b"A1,\xff,drug,A,,,,\n")
    with pytest.raises(CatalogueError, match="no items"):
        parse_csv(HEADER)


def test_parquet_has_the_same_layout(tmp_path: Path) -> None:
    path = tmp_path / "cat.parquet"
    pq.write_table(
        pa.table(
            {
                "code": ["A1", "B1"],
                "name": ["a", "b"],
                "kind": ["drug", "service"],
                "class": ["A", "E"],
                "price_limit": [1.5, None],
            }
        ),
        path,
    )
    with pytest.raises(CatalogueError) as caught:
        read_catalogue(path)
    assert (caught.value.line, caught.value.field) == (2, "class")
    assert set(COLUMNS) >= {"code", "name", "kind", "class", "typical_price"}
