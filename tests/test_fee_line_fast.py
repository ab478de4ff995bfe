"""``fee_line`` and ``fee_line_class`` (a line and a classification made by setting their slots)
make what the dataclasses' constructors make: every field set, equal, hashed alike, frozen."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from yibao.domain.fees import FeeLine, FeeLineClass, fee_line, fee_line_class
from yibao.policy.vocab import FeeLineStatus, ItemClass, LineReason


def test_fee_line_class_is_the_constructor_s() -> None:
    values = (ItemClass.B, 1, 2, 3, 4, LineReason.CLASS_B)
    made, built = fee_line_class(*values), FeeLineClass(*values)
    assert [f.name for f in dataclasses.fields(FeeLineClass)] == list(FeeLineClass.__slots__)
    assert dataclasses.astuple(made) == values
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.in_scope = 5  # type: ignore[misc]


def test_fee_line_is_the_constructor_s() -> None:
    classes = FeeLineClass(ItemClass.A, 0, 0, 700, 0, LineReason.CLASS_A)
    values = ("SN1", "XA01", 20_000, 350_000, 700, dt.date(2025, 5, 1), "1",
              FeeLineStatus.CANCELLED, classes, 42)  # fmt: skip
    made, built = fee_line(*values), FeeLine(*values)
    names = [f.name for f in dataclasses.fields(FeeLine)]
    assert names == list(FeeLine.__slots__)
    assert [getattr(made, n) for n in names] == list(values)  # every field set, in order
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert made.with_classes(None) == dataclasses.replace(built, classes=None)
    assert made.with_amount(5) == dataclasses.replace(built, amount=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.amount = 5  # type: ignore[misc]
