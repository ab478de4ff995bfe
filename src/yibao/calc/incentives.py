"""``yibao calc incentives``: the critical illness cap of a year with its incentive raises."""

from __future__ import annotations

from typing import Any

from yibao.calc.scenario import ScenarioError, amount, load_policy, mapping
from yibao.policy import fen_to_yuan
from yibao.rules.incentives import YearRecord, incentives


def incentives_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    policy = load_policy(doc)
    history: dict[int, YearRecord] = {}
    for key, record in mapping(doc, "history").items():
        field = f"history.{key}"
        try:
            y = int(key)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(field, "keys must be years") from exc
        if not isinstance(record, dict):
            raise ScenarioError(field, "must be {insured: true|false, fund_paid: yuan}")
        insured = record.get("insured")
        if not isinstance(insured, bool):
            raise ScenarioError(f"{field}.insured", "must be true or false")
        used = record.get("used_raise", False)
        if not isinstance(used, bool):
            raise ScenarioError(f"{field}.used_raise", "must be true or false")
        paid = amount(record.get("fund_paid", 0), f"{field}.fund_paid", allow_none=True)
        history[y] = YearRecord(insured=insured, fund_paid=paid, used_raise=used)
    year = doc.get("year")
    if isinstance(year, bool) or not isinstance(year, int):
        raise ScenarioError("year", "missing or not a year")
    r = incentives(policy, history, year)
    return {
        "base_cap": fen_to_yuan(r.base_cap),
        "continuous_raise": fen_to_yuan(r.continuous_raise),
        "zero_claim_raise": fen_to_yuan(r.zero_claim_raise),
        "cap": fen_to_yuan(r.cap),
        "continuous_years": r.continuous_years,
    }
