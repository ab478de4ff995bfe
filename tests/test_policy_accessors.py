"""The typed parameter accessors: each returns its type or names the leaf that is not."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from yibao.policy import Policy
from yibao.policy.errors import ParameterError

ON = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy("110000")


def test_amounts_come_out_in_fen(policy: Policy) -> None:
    # The national default large-amount cap is 400,000 yuan (000000.yaml): 40,000,000 fen.
    assert policy.fen("large_amount.cap", ON) == 400_000 * 100


def test_rates_are_exact_decimals(policy: Policy) -> None:
    rate = policy.rate("employee.contribution.employee_rate", ON)
    assert rate == Decimal("0.02")


def test_counts_flags_and_words(policy: Policy) -> None:
    assert policy.count("resident.incentives.continuous.after_years", ON) >= 1
    assert policy.count("no.such.count", ON, default=7) == 7
    assert policy.flag("no.such.flag", ON, default=True) is True
    assert policy.text("no.such.word", ON, default="amount") == "amount"
    assert isinstance(policy.node("employee.waiting", ON), dict)


@pytest.mark.parametrize(
    ("accessor", "path", "expected"),
    [
        ("fen", "employee.contribution.employee_rate", "an amount"),
        ("rate", "employee.waiting", "a rate"),
        ("flag", "large_amount.cap", "true or false"),
        ("text", "large_amount.cap", "a word"),
        ("node", "large_amount.cap", "a group of parameters"),
        ("count", "employee.contribution.employee_rate", "a whole number"),
    ],
)
def test_a_leaf_of_the_wrong_kind_is_named(
    policy: Policy, accessor: str, path: str, expected: str
) -> None:
    with pytest.raises(ParameterError) as err:
        getattr(policy, accessor)(path, ON)
    assert path in str(err.value)
    assert expected in str(err.value)
