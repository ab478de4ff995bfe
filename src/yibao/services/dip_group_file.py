"""A group table as a file (YAML or JSON), the shape of ``yibao calc dip``'s scenario:
``groups: [{code, weight, avg_cost} | {code, per_day}]`` (weight and per_day in points, four
places; avg_cost in yuan) and ``institutions: [{code, coefficient}]`` (four places, default 1).
Bad input is refused naming the field."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from yibao.domain.errors import InvalidField
from yibao.policy import yuan_to_fen
from yibao.rules.provider_payment import POINTS_SCALE, RATIO_SCALE
from yibao.services.dip_year import Group, GroupTable


def _scaled(value: Any, scale: int, where: str) -> int:
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise InvalidField(where, "must be a number", value) from None
    scaled = d * scale
    if isinstance(value, bool) or not d.is_finite() or scaled != scaled.to_integral_value():
        raise InvalidField(
            where, f"must be a number with at most {len(str(scale)) - 1} places", value
        )
    if d <= 0 or scaled > 10**12:
        raise InvalidField(where, "must be above 0 and not absurd", value)
    return int(scaled)


def parse_group_table(doc: Any) -> GroupTable:
    """The group table of a parsed document (see the module)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise InvalidField(
            "groups", "must be a list of {code, weight, avg_cost} or {code, per_day}"
        )
    groups: list[Group] = []
    seen: set[str] = set()
    for i, g in enumerate(doc["groups"]):
        where = f"groups[{i}]"
        if not isinstance(g, dict) or not isinstance(g.get("code"), str) or not g["code"]:
            raise InvalidField(f"{where}.code", "must be a non-empty text")
        code = g["code"].strip()
        if code in seen:
            raise InvalidField(f"{where}.code", f"{code} appears twice")
        seen.add(code)
        if "per_day" in g:
            groups.append(
                Group(code, _scaled(g["per_day"], POINTS_SCALE, f"{where}.per_day"), 1, True)
            )
            continue
        weight = _scaled(g.get("weight"), POINTS_SCALE, f"{where}.weight")
        avg = _scaled(g.get("avg_cost"), 100, f"{where}.avg_cost")
        groups.append(Group(code, weight, yuan_to_fen(Decimal(avg).scaleb(-2))))
    coefficients: dict[str, int] = {}
    for i, inst in enumerate(doc.get("institutions") or []):
        where = f"institutions[{i}]"
        if not isinstance(inst, dict) or not isinstance(inst.get("code"), str):
            raise InvalidField(f"{where}.code", "must be a text")
        coefficients[inst["code"]] = _scaled(
            inst.get("coefficient", 1), RATIO_SCALE, f"{where}.coefficient"
        )
    return GroupTable(tuple(groups), coefficients)


def read_group_table(path: Path) -> GroupTable:
    """Read ``path`` (YAML or JSON)."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidField("groups", f"cannot read {path}: {exc}") from None
    return parse_group_table(doc)
