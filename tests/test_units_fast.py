"""The integer fast paths of ``policy.catalogue.to_units`` and ``domain.fees.units_text`` give
what the Decimal paths give, refusals with the same reasons."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.fees import units_text
from yibao.policy.catalogue import MAX_PRICE_YUAN, PRICE_SCALE, QTY_SCALE, _to_units, to_units

NUMBERS = st.one_of(
    st.from_regex(r"[0-9]{1,9}(\.[0-9]{1,8})?", fullmatch=True),
    st.sampled_from(
        ["1000000", "1000000.000001", "1000000.0", "0", "0.0000000", " 1.5", "-2", "1e3"]
    ),
)


def _outcome(f: object, value: str, scale: int) -> object:
    try:
        return f(value, scale, MAX_PRICE_YUAN, "yuan")  # type: ignore[operator]
    except ValueError as exc:
        return str(exc)


@given(NUMBERS, st.sampled_from([QTY_SCALE, PRICE_SCALE]))
def test_to_units_as_the_decimal_path(value: str, scale: int) -> None:
    assert _outcome(to_units, value, scale) == _outcome(_to_units, value, scale)


def test_to_units_by_hand() -> None:
    assert to_units("12.5", QTY_SCALE, MAX_PRICE_YUAN, "u") == 125_000
    assert to_units("0.000001", PRICE_SCALE, MAX_PRICE_YUAN, "yuan") == 1
    assert to_units("1000000", PRICE_SCALE, MAX_PRICE_YUAN, "yuan") == 10**12
    assert to_units("2.50000", QTY_SCALE, MAX_PRICE_YUAN, "u") == 25_000  # zeros past 4 places


@given(st.integers(0, 10**15), st.sampled_from([(QTY_SCALE, 4), (PRICE_SCALE, 6)]))
def test_units_text_as_decimal(value: int, scale_places: tuple[int, int]) -> None:
    scale, places = scale_places
    expected = str((Decimal(value) / scale).quantize(Decimal(1).scaleb(-places)))
    assert units_text(value, scale, places) == expected


def test_units_text_by_hand() -> None:
    assert units_text(125_000, QTY_SCALE, 4) == "12.5000"
    assert units_text(0, PRICE_SCALE, 6) == "0.000000"
    assert units_text(1, PRICE_SCALE, 6) == "0.000001"
