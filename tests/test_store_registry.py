"""Registry (一人一档) on SQLite and PostgreSQL: IDs, households, relatives, groups, import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from tests.store_support import nid
from yibao.domain.errors import AlreadyExists, InvalidField, InvalidNationalId
from yibao.domain.identity import Sex
from yibao.domain.registry import RelationKind
from yibao.services import registry
from yibao.store.bulk import ImportFileError
from yibao.store.uow import UnitOfWork


def _count(uow: UnitOfWork) -> int:
    with uow:
        return uow.persons.count()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("360426198506150018", "check digit is wrong (expected 9)"),
        ("36042619850615001", "must be 18 characters, got 17"),
        ("36042619850615A019", "the first 17 characters must be digits"),
        ("360426198513150010", "birth date or birth-place code is not valid"),
    ],
)
def test_invalid_national_id_refused_naming_field_and_reason(
    uow: UnitOfWork, raw: str, reason: str
) -> None:
    if "birth date" in reason:  # make the checksum right so the date is what fails
        from stdnum.cn import ric

        raw = raw[:17] + ric.calc_check_digit(raw)
    with pytest.raises(InvalidNationalId) as info:
        registry.add_person(uow, raw, "王五")
    assert info.value.field == "national_id"
    assert info.value.reason == reason
    assert _count(uow) == 0


def test_person_reads_birth_date_and_sex_from_id(uow: UnitOfWork) -> None:
    man = registry.add_person(uow, nid(1, dt.date(1990, 2, 3)), " 张三 ", phone="138 0000 0000")
    woman = registry.add_person(uow, nid(2, dt.date(1992, 12, 31)), "李四")
    assert (man.birth_date, man.sex) == (dt.date(1990, 2, 3), Sex.MALE)
    assert (woman.birth_date, woman.sex) == (dt.date(1992, 12, 31), Sex.FEMALE)
    assert man.name == "张三"
    with uow:
        stored = uow.persons.require(nid(1, dt.date(1990, 2, 3)))
    assert stored.id == man.id and stored.phone == "138 0000 0000"


def test_duplicate_person_refused(uow: UnitOfWork) -> None:
    registry.add_person(uow, nid(1), "张三")
    with pytest.raises(AlreadyExists):
        registry.add_person(uow, nid(1), "张三")
    assert _count(uow) == 1


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("name", {"name": "  "}),
        ("phone", {"phone": "call me"}),
        ("region", {"region": "3601"}),
        ("household", {"household": "H\x01-1"}),
        ("address", {"address": "红谷滩区 1 号"}),  # an address belongs to a household
        ("address", {"household": "H-1", "address": "红谷滩区\x00"}),
    ],
)
def test_invalid_fields_named(uow: UnitOfWork, field: str, kwargs: dict[str, str]) -> None:
    args = {"name": "张三", **kwargs}
    name = args.pop("name")
    with pytest.raises(InvalidField) as info:
        registry.add_person(uow, nid(1), name, **args)
    assert info.value.field == field
    assert _count(uow) == 0


def test_household_relatives_and_groups(uow: UnitOfWork) -> None:
    father = registry.add_person(uow, nid(1, dt.date(1960, 1, 1), "110101"), "父", household="H-1")
    son = registry.add_person(uow, nid(3, dt.date(1988, 1, 1)), "子", household="H-1")
    grandson = registry.add_person(uow, nid(5, dt.date(2024, 1, 1)), "孙", household="H-1")
    assert father.household_id == son.household_id == grandson.household_id
    registry.add_relation(uow, son.label, father.label, "parent")
    registry.add_relation(uow, father.label, grandson.label, RelationKind.GRANDCHILD)
    with uow:
        assert uow.persons.relation(son.id or 0, father.id or 0) is RelationKind.PARENT
        assert uow.persons.relation(father.id or 0, son.id or 0) is RelationKind.CHILD
        assert uow.persons.relation(grandson.id or 0, father.id or 0) is RelationKind.GRANDPARENT
        assert len(uow.persons.members(father.household_id or 0)) == 3
    with pytest.raises(InvalidField):  # a different relation between the same two persons
        registry.add_relation(uow, son.label, father.label, "sibling")
    with pytest.raises(InvalidField):
        registry.add_relation(uow, son.label, father.label, "cousin")

    registry.add_group(uow, grandson.label, "newborn", dt.date(2024, 1, 1), dt.date(2024, 3, 30))
    registry.add_group(uow, father.label, "dibao", dt.date(2023, 7, 1))
    with pytest.raises(InvalidField):
        registry.add_group(uow, father.label, "tekun", dt.date(2023, 7, 1), dt.date(2023, 6, 1))
    with uow:
        assert [
            g.kind.value for g in uow.persons.groups(grandson.id or 0, dt.date(2024, 2, 1))
        ] == ["newborn"]
        assert uow.persons.groups(grandson.id or 0, dt.date(2024, 5, 1)) == []
        assert [g.kind.value for g in uow.persons.groups(father.id or 0, dt.date(2025, 1, 1))] == [
            "dibao"
        ]


def _population() -> pa.Table:
    ids = [nid(i, dt.date(1990 + i % 20, 1 + i % 12, 1 + i % 28)) for i in range(1, 41)]
    ids[5] = ids[5][:17] + ("0" if ids[5][17] != "0" else "1")  # bad checksum
    ids[7] = ids[3]  # duplicate inside the file
    return pa.table(
        {
            "national_id": ids,
            "name": [f"人{i}" if i != 9 else "" for i in range(40)],  # row 10: no name
            "phone": [f"1380000{i:04d}" for i in range(40)],
            "household": [f"H{i // 4}" for i in range(40)],
            "region": ["360426"] * 40,
            "ignored": list(range(40)),
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bulk_import(engine: Engine, uow: UnitOfWork, tmp_path: Path, fmt: str) -> None:
    table = _population()
    path = tmp_path / f"people.{fmt}"
    if fmt == "csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    registry.add_person(uow, table["national_id"][0].as_py(), "已有")  # already registered
    seen: list[tuple[int, int | None]] = []
    report = registry.import_persons(
        engine, path, batch_size=7, progress=lambda d, t: seen.append((d, t))
    )
    assert report.read == 40
    assert report.invalid == 2
    assert {(e.row, e.field) for e in report.errors} == {(6, "national_id"), (10, "name")}
    assert report.inserted == 36  # 38 valid, one already there, one repeated in the file
    assert report.duplicates == 2
    assert report.households_created == 10
    assert report.batches == 6
    assert seen[-1][0] == 40
    assert _count(uow) == 37
    with uow:
        p = uow.persons.require(table["national_id"][1].as_py())
        assert p.phone == "13800000001" and p.region == "360426"
        assert uow.persons.household_of(p.household_id or 0).code == "H0"
    again = registry.import_persons(engine, path)
    assert again.inserted == 0 and again.duplicates == 38


def test_import_refuses_file_without_national_id(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("name,phone\n张三,1\n", encoding="utf-8")
    with pytest.raises(ImportFileError) as info:
        registry.import_persons(engine, path)
    assert info.value.field == "national_id"
