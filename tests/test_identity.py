"""National IDs: checksum, birth date and sex from stdnum.cn.ric; birth-place codes as issued."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.cn import ric

from yibao.domain.errors import InvalidNationalId
from yibao.domain.identity import parse_national_id


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def test_a_code_created_after_the_birth_year_is_accepted() -> None:
    # 360426 (a county code in use from 1983) issued to a man born in 1940
    number = with_check("36042619400101001")
    pid = parse_national_id(number)
    assert (pid.birth_date, pid.sex.value) == (dt.date(1940, 1, 1), "M")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        (with_check("99999919900101002"), "birth-place"),  # no such area code
        (with_check("36042619900101002")[:-1] + "0", "check digit"),
        ("3604261990", "18 characters"),
    ],
)
def test_invalid_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(InvalidNationalId) as err:
        parse_national_id(number)
    assert reason in str(err.value)
