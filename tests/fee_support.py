"""A small catalogue for the fee line tests, built directly as the compiled arrays
(``kernel.classify.CatalogueTable``), and the fixture that makes the fee services use it."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from yibao.kernel.classify import (
    CLASSES,
    NO_LIMIT,
    PRICE_SCALE,
    QTY_SCALE,
    SEX_ANY,
    SEX_FEMALE,
    CatalogueTable,
)
from yibao.kernel.tables import epoch_days
from yibao.policy.vocab import ItemClass
from yibao.services.fees import source

FAR = epoch_days(dt.date(2100, 1, 1))
START = epoch_days(dt.date(2020, 1, 1))

#: code: (class, price limit in yuan or None, sex, max per day in units or None, valid from)
ITEMS: dict[str, tuple[ItemClass, int | None, int, int | None, dt.date]] = {
    "001101000010000": (ItemClass.A, None, SEX_ANY, None, dt.date(2020, 1, 1)),  # a bed day
    "XB01ACA001": (ItemClass.B, 10, SEX_ANY, None, dt.date(2020, 1, 1)),  # limit 10 yuan
    "XC03": (ItemClass.C, None, SEX_ANY, None, dt.date(2020, 1, 1)),
    "XD04": (ItemClass.A, None, SEX_ANY, 2, dt.date(2020, 1, 1)),  # at most 2 a day
    "XE05": (ItemClass.A, None, SEX_ANY, None, dt.date(2025, 6, 1)),  # listed from June 2025
    "XF06": (ItemClass.A, None, SEX_FEMALE, None, dt.date(2020, 1, 1)),
}


def catalogue() -> CatalogueTable:
    codes = tuple(sorted(ITEMS))
    n = len(codes)

    def col(values: list[int]) -> np.ndarray:
        return np.array(values, dtype=np.int64)

    spec = [ITEMS[c] for c in codes]
    return CatalogueTable(
        codes=codes,
        code_id=np.arange(n, dtype=np.int64),
        valid_from=col([epoch_days(s[4]) for s in spec]),
        valid_to=np.full(n, FAR, dtype=np.int64),
        item_class=col([CLASSES.index(s[0]) for s in spec]),
        price_limit=col([NO_LIMIT if s[1] is None else s[1] * PRICE_SCALE for s in spec]),
        sex=col([s[2] for s in spec]),
        min_age=np.zeros(n, dtype=np.int64),
        max_age=np.full(n, NO_LIMIT, dtype=np.int64),
        min_level=np.zeros(n, dtype=np.int64),
        max_per_day=col([NO_LIMIT if s[3] is None else s[3] * QTY_SCALE for s in spec]),
        max_per_stay=np.full(n, NO_LIMIT, dtype=np.int64),
        needs_approval=np.zeros(n, dtype=np.bool_),
    )


@pytest.fixture
def test_catalogue(monkeypatch: pytest.MonkeyPatch) -> CatalogueTable:
    """The fee services read this catalogue for every region."""
    table = catalogue()
    monkeypatch.setattr(source, "catalogue_for", lambda uow, region: table)
    return table
