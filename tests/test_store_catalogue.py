"""The catalogue in the store (SQLite and PostgreSQL): versions by date, an idempotent reload,
all-or-nothing loads, the region chain and the cached compiled table; the commands."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from tests.store_support import *  # noqa: F403  (fixtures: db_url, engine, uow)
from yibao.cli import app
from yibao.kernel.tables import epoch_days
from yibao.policy.catalogue import CatalogueError, shipped_items
from yibao.policy.vocab import ItemClass
from yibao.services import catalogue
from yibao.store.catalogue_models import CatalogueItemRow, CatalogueLoadRow
from yibao.store.repositories import catalogue as store_catalogue
from yibao.store.repositories.catalogue import CatalogueRepository
from yibao.store.repositories.fees import UploadRows
from yibao.store.uow import UnitOfWork

HEADER = "code,name,kind,class,price_limit\n"
V2025 = HEADER + "A1,a,drug,A,\nB1,b,drug,B,10\n"
V2026 = HEADER + "A1,a,drug,B,\nC1,c,consumable,C,\n"
JAN_2025, JAN_2026 = dt.date(2025, 1, 1), dt.date(2026, 1, 1)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        loads = conn.scalar(select(func.count()).select_from(CatalogueLoadRow))
        items = conn.scalar(select(func.count()).select_from(CatalogueItemRow))
    return int(loads or 0), int(items or 0)


def test_versions_by_date_and_an_idempotent_reload(engine: Engine, tmp_path: Path) -> None:
    uow = lambda: UnitOfWork.for_engine(engine)  # noqa: E731
    first = catalogue.load(uow(), write(tmp_path, "2025.csv", V2025), "360000", JAN_2025)
    assert (first.unchanged, first.load.items) == (False, 2)
    again = catalogue.load(uow(), tmp_path / "2025.csv", "360000", JAN_2025)
    assert again.unchanged and again.load.id == first.load.id
    assert counts(engine) == (1, 2)
    catalogue.load(uow(), write(tmp_path, "2026.csv", V2026), "360000", JAN_2026)
    source, versions = catalogue.show(uow(), "A1", "360100")
    assert source == "360000"
    assert [(v.item_class, v.valid_from, v.valid_to) for v in versions] == [
        (ItemClass.A, JAN_2025, dt.date(2025, 12, 31)),
        (ItemClass.B, JAN_2026, None),
    ]
    # B1 ends with 2025; C1 begins in 2026
    assert catalogue.show(uow(), "B1", "360000", JAN_2026) == ("360000", [])
    assert catalogue.show(uow(), "B1", "360000", dt.date(2025, 6, 1))[1][0].price_limit == (
        10_000_000
    )
    # the same day again with another file replaces that version
    catalogue.load(uow(), write(tmp_path, "2026b.csv", V2026 + "D1,d,service,A,\n"),
                   "360000", JAN_2026)  # fmt: skip
    assert counts(engine) == (2, 5)


def test_a_bad_file_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    uow = lambda: UnitOfWork.for_engine(engine)  # noqa: E731
    catalogue.load(uow(), write(tmp_path, "ok.csv", V2025), "360000", JAN_2025)
    bad = write(tmp_path, "bad.csv", V2026 + "E1,e,drug,A,-5\n")
    with pytest.raises(CatalogueError, match=r"bad.csv: line 4: price_limit: must not be"):
        catalogue.load(uow(), bad, "360000", JAN_2026)
    assert counts(engine) == (1, 2)
    with pytest.raises(CatalogueError, match="region"):
        catalogue.load(uow(), tmp_path / "ok.csv", "36", JAN_2026)
    with pytest.raises(CatalogueError, match="from"):
        catalogue.load(uow(), tmp_path / "ok.csv", "360000", dt.date(9999, 1, 1))


def test_the_compiled_table_follows_the_chain_and_the_loads(engine: Engine, tmp_path: Path) -> None:
    uow = UnitOfWork.for_engine(engine)
    national = len(shipped_items("000000")[1])
    with uow:  # nothing stored: the shipped national catalogue
        table = catalogue.catalogue_table(uow, "360100")
        assert len(table.codes) == national
        assert catalogue.catalogue_table(uow, "360100") is table  # cached
    catalogue.load(UnitOfWork.for_engine(engine), write(tmp_path, "jx.csv", V2025),
                   "360000", JAN_2025)  # fmt: skip
    with uow:  # the province's items on top of the national ones
        table = catalogue.catalogue_table(uow, "360100")
        assert len(table.codes) == national + 2
        ids = table.code_ids(["A1", "B1", "001109000010000"])
        rows = table.rows(ids, np.full(3, epoch_days(dt.date(2025, 3, 1))))
        assert (rows >= 0).all()
        # another province does not see Jiangxi's items
        assert len(catalogue.catalogue_table(uow, "110000").codes) == national


def test_the_commands(db_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "2025.csv", V2025)
    runner = CliRunner()
    args = ["catalogue", "load", str(path), "--region", "360000", "--from", "2025-01-01",
            "--db", db_url, "--json"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["items"] == 2
    assert json.loads(runner.invoke(app, args).stdout)["unchanged"] is True
    shown = runner.invoke(
        app, ["catalogue", "show", "B1", "--region", "360100", "--db", db_url, "--json"]
    )
    assert shown.exit_code == 0, shown.stderr
    (version,) = json.loads(shown.stdout)["versions"]
    assert (version["name"], version["price_limit"], version["valid_from"]) == (
        "b", "10", "2025-01-01",
    )  # fmt: skip
    bad = write(tmp_path, "bad.csv", "code,name,kind\nA1,a,drug\n")
    load_bad = ["catalogue", "load", str(bad), "--region", "360000", "--from", "2026-01-01"]
    refused = runner.invoke(app, [*load_bad, "--db", db_url])
    assert refused.exit_code == 2
    assert "bad.csv: line 1: class: missing column" in " ".join(refused.stderr.split())
    missing = runner.invoke(app, ["catalogue", "show", "NOPE", "--db", db_url])
    assert missing.exit_code == 1


def test_a_parquet_file_loads_like_its_csv(engine: Engine, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "jx.parquet"
    pq.write_table(
        pa.table({"code": ["A1", "B1"], "name": ["a", "b"], "kind": ["drug", "drug"],
                  "class": ["A", "B"], "price_limit": [None, 10.0]}),
        path,
    )  # fmt: skip
    done = catalogue.load(UnitOfWork.for_engine(engine), path, "360000", JAN_2025)
    assert done.load.items == 2
    _, (b1,) = catalogue.show(UnitOfWork.for_engine(engine), "B1", "360000")
    assert (b1.item_class, b1.price_limit, b1.valid_from) == (ItemClass.B, 10_000_000, JAN_2025)


def test_the_stamps_read_with_uploads_serve_their_transaction_only(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch of uploads reads the catalogue's stamps with its visits' rows (one statement on
    PostgreSQL, ``FeeRepository.for_upload``): the stamps of those regions are then not read
    again in that transaction, and are read again in the next one or for another region."""
    catalogue.load(UnitOfWork.for_engine(engine), write(tmp_path, "jx.csv", V2025),
                   "360000", JAN_2025)  # fmt: skip
    chain = ["360100", "360000", "000000"]
    with UnitOfWork.for_engine(engine) as uow:
        expected = CatalogueRepository(uow.session).stamps(chain)
    assert [s[0] for s in expected] == ["360000"]

    def not_read(*_: object, **__: object) -> None:
        raise AssertionError("the stamps were read again")

    postgresql = engine.dialect.name == "postgresql"
    with UnitOfWork.for_engine(engine) as uow:
        repo = CatalogueRepository(uow.session)
        assert uow.fees.for_upload([1], [1], chain) == UploadRows({}, {}, {})  # no such visit
        with monkeypatch.context() as m:
            if postgresql:  # elsewhere each read is its own statement, as before
                m.setattr(store_catalogue.STAMPS, "rows", not_read)
            assert repo.stamps(chain) == expected
            assert repo.stamps(["360000"]) == expected
            assert repo.stamps(["000000"]) == ()
        assert repo.stamps(["360000", "110000"]) == expected  # another region: read
        uow.rollback()
        with monkeypatch.context() as m:
            m.setattr(store_catalogue.STAMPS, "rows", not_read)
            with pytest.raises(AssertionError, match="read again"):
                repo.stamps(chain)  # the next transaction reads them
