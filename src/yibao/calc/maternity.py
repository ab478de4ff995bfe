"""``yibao calc maternity``: the maternity allowance (生育津贴) of one birth (back-office.md §8)."""

from __future__ import annotations

from typing import Any

from yibao.calc.scenario import ScenarioError, amount, check_begun, date, load_policy, mapping
from yibao.policy import fen_to_yuan
from yibao.rules.errors import InvalidField
from yibao.rules.maternity import MAX_BABIES, Birth, maternity_allowance

FIELDS = ("region", "policy", "employer_avg_monthly_wage", "birth")
BIRTH_FIELDS = ("date", "difficult", "babies")


def _known(doc: dict[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
    for key in doc:
        if key not in allowed:
            raise ScenarioError(
                f"{prefix}{key}", f"unknown field; expected one of {', '.join(allowed)}"
            )


def maternity_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    _known(doc, FIELDS)
    policy = load_policy(doc)
    wage = amount(doc.get("employer_avg_monthly_wage"), "employer_avg_monthly_wage")
    b = mapping(doc, "birth")
    _known(b, BIRTH_FIELDS, "birth.")
    on = date(b.get("date"), "birth.date")
    check_begun(policy, on, "birth.date")
    difficult = b.get("difficult", False)
    if not isinstance(difficult, bool):
        raise ScenarioError("birth.difficult", "must be true or false")
    babies = b.get("babies", 1)
    if isinstance(babies, bool) or not isinstance(babies, int) or not 1 <= babies <= MAX_BABIES:
        raise ScenarioError("birth.babies", f"must be a whole number from 1 to {MAX_BABIES}")
    for path in ("base", "difficult", "per_extra_baby", "local_extra"):
        if not policy.declares(f"maternity.leave_days.{path}", on):
            raise ScenarioError(
                "birth.date", f"{on} has no maternity.leave_days.{path} in region {policy.region}"
            )
    try:
        r = maternity_allowance(policy, wage, Birth(on, difficult, babies))
    except InvalidField as exc:
        raise ScenarioError(exc.field, exc.reason) from exc
    return {
        "leave_days": r.leave_days,
        "daily": fen_to_yuan(r.daily),
        "allowance": fen_to_yuan(r.allowance),
    }
