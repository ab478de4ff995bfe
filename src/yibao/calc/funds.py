"""``yibao calc funds``: reserve months and warnings of a province's cities, and the year's
draws and gap shares of its adjustment fund (back-office.md section 2, ``rules.funds``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from yibao.calc.scenario import ScenarioError, check_begun, choice, load_policy
from yibao.policy import NATIONAL
from yibao.policy.money import AmountError, parse_fund_yuan
from yibao.policy.vocab import InsuranceScheme
from yibao.rules.funds import (
    AreaFigures,
    adjust_year,
    adjustment_parameters,
    province_of,
    warning_thresholds,
)

FIELDS = frozenset(
    {
        "region",
        "policy",
        "year",
        "scheme",
        "province_income_last_year",
        "adjustment_balance",
        "areas",
    }
)
AREA_FIELDS = ("code", "income_last_year", "expenditure_last_year", "balance", "gap")
#: At most this many areas (a province has a few dozen cities).
MAX_AREAS = 1000


def _unknown(doc: dict[str, Any], known: frozenset[str] | tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in known:
            field = f"{where}.{key}" if where else str(key)
            raise ScenarioError(field, f"unknown field; expected {', '.join(sorted(known))}")


def _yuan(value: Any, field: str, *, signed: bool = False) -> int:
    if value is None:
        raise ScenarioError(field, "missing")
    try:
        return parse_fund_yuan(value, field, signed=signed)
    except AmountError as exc:
        raise ScenarioError(exc.field, exc.reason) from exc


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9999:
        raise ScenarioError("year", "missing or not a year")
    return value


def _code(value: Any, field: str, province: str | None) -> str:
    if not isinstance(value, str) or len(value) != 6 or not value.isascii() or not value.isdigit():
        raise ScenarioError(field, "must be a pooling area code of 6 digits, as a string")
    if province is not None and province_of(value) != province:
        raise ScenarioError(field, f"{value} is not in province {province}")
    return value


def _areas(doc: dict[str, Any], province: str | None) -> list[AreaFigures]:
    raw = doc.get("areas")
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("areas", "must be a non-empty list of areas")
    if len(raw) > MAX_AREAS:
        raise ScenarioError("areas", f"more than {MAX_AREAS} areas")
    out: list[AreaFigures] = []
    seen: set[str] = set()
    for i, area in enumerate(raw):
        where = f"areas[{i}]"
        if not isinstance(area, dict):
            raise ScenarioError(where, f"must be a mapping of {', '.join(AREA_FIELDS)}")
        _unknown(area, AREA_FIELDS, where)
        code = _code(area.get("code"), f"{where}.code", province)
        if code in seen:
            raise ScenarioError(f"{where}.code", f"{code} is listed twice")
        seen.add(code)
        out.append(
            AreaFigures(
                code=code,
                income_last_year=_yuan(area.get("income_last_year"), f"{where}.income_last_year"),
                expenditure_last_year=_yuan(
                    area.get("expenditure_last_year"), f"{where}.expenditure_last_year"
                ),
                balance=_yuan(area.get("balance"), f"{where}.balance", signed=True),
                gap=_yuan(area.get("gap", 0), f"{where}.gap"),
            )
        )
    return out


def funds_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    _unknown(doc, FIELDS, "")
    policy = load_policy(doc)
    year = _year(doc.get("year"))
    on = dt.date(year, 1, 1)
    check_begun(policy, on, "year")
    choice(doc.get("scheme"), "scheme", tuple(InsuranceScheme))
    province = None if policy.region == NATIONAL else province_of(policy.region)
    areas = _areas(doc, province)
    income = _yuan(doc.get("province_income_last_year"), "province_income_last_year")
    if sum(a.income_last_year for a in areas) > income:
        raise ScenarioError(
            "province_income_last_year", "is below the sum of the areas' income_last_year"
        )
    balance = _yuan(doc.get("adjustment_balance"), "adjustment_balance")
    result = adjust_year(
        areas, income, balance, adjustment_parameters(policy, on), warning_thresholds(policy, on)
    )
    return result.as_dict()
