"""``yibao calc dip`` and ``yibao calc drg``: a year's cases pointed, the point value, each
case's standard and fund due, and each institution's settlement against its advances
(back-office.md section 3; ``rules.provider_payment``, ``kernel.dip``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from yibao.calc.scenario import ScenarioError, amount, check_begun, load_policy
from yibao.kernel.dip import (
    KINDS,
    KernelRangeError,
    case_fund_due,
    case_points,
    case_standards,
    institution_sums,
    total_points,
)
from yibao.policy import fen_to_yuan
from yibao.policy.money import AmountError, parse_fund_yuan
from yibao.rules.provider_payment import (
    POINTS_SCALE,
    RATIO_SCALE,
    ProviderPaymentError,
    outlier_thresholds,
    point_value,
    point_value_text,
    points_text,
    scaled,
    settlement_fen,
)

FIELDS = (
    "region",
    "policy",
    "year",
    "fund_available",
    "reimbursement_ratio",
    "groups",
    "institutions",
    "cases",
)
GROUP_FIELDS = ("code", "weight", "avg_cost", "per_day")
INSTITUTION_FIELDS = ("code", "coefficient", "advanced")
CASE_FIELDS = ("id", "institution", "group", "cost", "patient_paid", "days")
#: Bounds that keep the exact integer arithmetic in range (absurd inputs are refused).
MAX_WEIGHT = Decimal(1_000_000)
MAX_COEFFICIENT = Decimal(100)
MAX_DAYS = 3660
MAX_ITEMS = 1_000_000


def _unknown(doc: dict[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in known:
            field = f"{where}.{key}" if where else str(key)
            raise ScenarioError(field, f"unknown field; expected {', '.join(known)}")


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    raw = doc.get(key)
    if not isinstance(raw, list) or not raw:
        raise ScenarioError(key, "must be a non-empty list")
    if len(raw) > MAX_ITEMS:
        raise ScenarioError(key, f"more than {MAX_ITEMS} entries")
    return raw


def _code(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ScenarioError(field, "missing or not a code")
    text = str(value)
    if not text or len(text) > 64 or not text.isprintable() or text != text.strip():
        raise ScenarioError(field, "must be a printable code of at most 64 characters")
    return text


def _decimal(value: Any, field: str, *, scale: int, ceiling: Decimal, positive: bool) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ScenarioError(field, "missing or not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ScenarioError(field, f"not a number: {value!r}") from exc
    if not number.is_finite() or number < 0 or (positive and number == 0):
        raise ScenarioError(field, "must be a positive number" if positive else "must be ≥ 0")
    if number > ceiling:
        raise ScenarioError(field, f"above {ceiling}")
    try:
        return scaled(number, scale, field)
    except ProviderPaymentError as exc:
        raise ScenarioError(field, exc.reason) from exc


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9999:
        raise ScenarioError("year", "missing or not a year")
    return value


def _groups(doc: dict[str, Any]) -> tuple[dict[str, int], list[tuple[int, int, bool]]]:
    index: dict[str, int] = {}
    rows: list[tuple[int, int, bool]] = []  # (weight × 10^4, avg_cost fen, per-diem)
    for i, group in enumerate(_list(doc, "groups")):
        where = f"groups[{i}]"
        if not isinstance(group, dict):
            raise ScenarioError(where, f"must be a mapping of {', '.join(GROUP_FIELDS)}")
        _unknown(group, GROUP_FIELDS, where)
        code = _code(group.get("code"), f"{where}.code")
        if code in index:
            raise ScenarioError(f"{where}.code", f"{code} is listed twice")
        if "per_day" in group:
            for other in ("weight", "avg_cost"):
                if other in group:
                    raise ScenarioError(f"{where}.{other}", "a per-diem group has per_day only")
            per_day = _decimal(
                group["per_day"],
                f"{where}.per_day",
                scale=POINTS_SCALE,
                ceiling=MAX_WEIGHT,
                positive=True,
            )
            rows.append((per_day, 1, True))
        else:
            weight = _decimal(
                group.get("weight"),
                f"{where}.weight",
                scale=POINTS_SCALE,
                ceiling=MAX_WEIGHT,
                positive=True,
            )
            avg = amount(group.get("avg_cost"), f"{where}.avg_cost")
            if avg <= 0:
                raise ScenarioError(f"{where}.avg_cost", "must be above 0")
            rows.append((weight, avg, False))
        index[code] = len(index)
    return index, rows


def _institutions(doc: dict[str, Any]) -> tuple[dict[str, int], list[tuple[str, int, int]]]:
    index: dict[str, int] = {}
    rows: list[tuple[str, int, int]] = []  # (code, coefficient × 10^4, advanced fen)
    for i, inst in enumerate(_list(doc, "institutions")):
        where = f"institutions[{i}]"
        if not isinstance(inst, dict):
            raise ScenarioError(where, f"must be a mapping of {', '.join(INSTITUTION_FIELDS)}")
        _unknown(inst, INSTITUTION_FIELDS, where)
        code = _code(inst.get("code"), f"{where}.code")
        if code in index:
            raise ScenarioError(f"{where}.code", f"{code} is listed twice")
        coefficient = _decimal(
            inst.get("coefficient", 1),
            f"{where}.coefficient",
            scale=RATIO_SCALE,
            ceiling=MAX_COEFFICIENT,
            positive=True,
        )
        try:
            advanced = parse_fund_yuan(inst.get("advanced", 0), f"{where}.advanced")
        except AmountError as exc:
            raise ScenarioError(exc.field, exc.reason) from exc
        index[code] = len(index)
        rows.append((code, coefficient, advanced))
    return index, rows


def _days(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise ScenarioError(field, f"must be a whole number of days from 1 to {MAX_DAYS}")
    return value


def dip_scenario(doc: dict[str, Any], method: str = "dip") -> dict[str, Any]:
    """The answer of back-office.md section 3 for a ``calc dip`` (or ``drg``) scenario."""
    _unknown(doc, FIELDS, "")
    policy = load_policy(doc)
    year = _year(doc.get("year"))
    on = dt.date(year, 1, 1)
    check_begun(policy, on, "year")
    thresholds = outlier_thresholds(policy, method, on)
    try:
        fund = parse_fund_yuan(doc.get("fund_available"), "fund_available")
    except AmountError as exc:
        raise ScenarioError(exc.field, exc.reason) from exc
    ratio_raw = doc.get("reimbursement_ratio")
    ratio = Decimal(
        _decimal(
            ratio_raw, "reimbursement_ratio", scale=RATIO_SCALE, ceiling=Decimal(1), positive=True
        )
    ).scaleb(-4)
    group_index, groups = _groups(doc)
    inst_index, institutions = _institutions(doc)
    raw_cases = _list(doc, "cases")
    n = len(raw_cases)
    ids: list[str] = []
    seen: set[str] = set()
    g = np.empty(n, np.int64)
    h = np.empty(n, np.int64)
    cost = np.empty(n, np.int64)
    paid = np.empty(n, np.int64)
    days = np.zeros(n, np.int64)
    for i, case in enumerate(raw_cases):
        where = f"cases[{i}]"
        if not isinstance(case, dict):
            raise ScenarioError(where, f"must be a mapping of {', '.join(CASE_FIELDS)}")
        _unknown(case, CASE_FIELDS, where)
        cid = _code(case.get("id"), f"{where}.id")
        if cid in seen:
            raise ScenarioError(f"{where}.id", f"{cid} is listed twice")
        seen.add(cid)
        ids.append(cid)
        group = _code(case.get("group"), f"{where}.group")
        if group not in group_index:
            raise ScenarioError(f"{where}.group", f"unknown group {group!r}")
        inst = _code(case.get("institution"), f"{where}.institution")
        if inst not in inst_index:
            raise ScenarioError(f"{where}.institution", f"unknown institution {inst!r}")
        g[i] = group_index[group]
        h[i] = inst_index[inst]
        if case.get("cost") is None:
            raise ScenarioError(f"{where}.cost", "missing: a case needs its total cost")
        cost[i] = amount(case.get("cost"), f"{where}.cost")
        paid[i] = amount(case.get("patient_paid", 0), f"{where}.patient_paid")
        if paid[i] > cost[i]:
            raise ScenarioError(f"{where}.patient_paid", "is above the case's cost")
        per_diem_group = groups[group_index[group]][2]
        if per_diem_group:
            days[i] = _days(case.get("days"), f"{where}.days")
        elif "days" in case:
            _days(case.get("days"), f"{where}.days")
    weight = np.array([r[0] for r in groups], np.int64)[g]
    avg = np.array([r[1] for r in groups], np.int64)[g]
    per_diem = np.array([r[2] for r in groups], np.bool_)[g]
    coefficient = np.array([r[1] for r in institutions], np.int64)[h]
    try:
        pointed = case_points(cost, weight, avg, per_diem, days, coefficient, thresholds)
        total = total_points(pointed.points)
        try:
            value = point_value(fund, ratio, total)
        except ProviderPaymentError as exc:
            raise ScenarioError(exc.field, exc.reason) from exc
        standard = case_standards(pointed.points, value)
    except KernelRangeError as exc:
        raise ScenarioError("cases", f"amounts out of range ({exc})") from exc
    due = case_fund_due(standard, paid)
    sums = institution_sums(h, len(institutions), pointed.points, standard, due)
    return {
        "point_value": point_value_text(value),
        "total_points": points_text(total),
        "cases": [
            {
                "id": ids[i],
                "kind": KINDS[int(pointed.kind[i])],
                "review": bool(pointed.review[i]),
                "points": points_text(int(pointed.points[i])),
                "standard": fen_to_yuan(int(standard[i])),
                "fund_due": fen_to_yuan(int(due[i])),
            }
            for i in range(n)
        ],
        "institutions": [
            {
                "code": code,
                "points": points_text(int(sums.points[j])),
                "standard": fen_to_yuan(int(sums.standard[j])),
                "fund_due": fen_to_yuan(int(sums.fund_due[j])),
                "advanced": fen_to_yuan(advanced),
                "settlement": fen_to_yuan(settlement_fen(int(sums.fund_due[j]), advanced)),
            }
            for j, (code, _, advanced) in enumerate(institutions)
        ],
    }


def drg_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    """``calc drg``: the same shape, parameters ``provider_payment.drg.*``."""
    return dip_scenario(doc, "drg")
