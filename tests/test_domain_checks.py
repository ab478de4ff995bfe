"""The domain's value checks refuse what only looks right, naming the field."""

from __future__ import annotations

import pytest

from yibao.domain.errors import InvalidField
from yibao.domain.settlement import check_level


@pytest.mark.parametrize("level", [1, 2, 3])
def test_levels_one_to_three_are_accepted(level: int) -> None:
    assert check_level(level) == level


@pytest.mark.parametrize("given", [0, 4, 2.0, 1.5, True, "2", None])
def test_anything_else_is_refused_with_the_field(given: object) -> None:
    # 2.0 == 2 and True == 1 in Python, so a membership test alone would let them through
    with pytest.raises(InvalidField) as err:
        check_level(given, "med_level")
    assert err.value.field == "med_level"
