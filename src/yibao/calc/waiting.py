"""``yibao calc waiting``: the waiting period of an enrolment."""

from __future__ import annotations

from typing import Any

from yibao.calc.scenario import ScenarioError, choice, date, load_policy, mapping
from yibao.policy.vocab import GroupKind, InsuredCategory
from yibao.rules.waiting import INSURED, LAPSED, Enrolment, Person, waiting_period

#: The special groups, and ``hardship`` (accepted here only: no region lists it yet).
GROUPS = (*GroupKind, "hardship")


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ScenarioError(field, "must be a whole number ≥ 0")
    return value


def _optional_count(doc: dict[str, Any], key: str, field: str) -> int | None:
    return None if doc.get(key) is None else _count(doc[key], field)


def waiting_scenario(doc: dict[str, Any]) -> dict[str, Any]:
    policy = load_policy(doc)
    p = mapping(doc, "person")
    scheme = choice(p.get("scheme"), "person.scheme", tuple(InsuredCategory))
    groups = p.get("groups") or []
    if not isinstance(groups, list):
        raise ScenarioError("person.groups", "must be a list")
    for i, g in enumerate(groups):
        choice(g, f"person.groups[{i}]", GROUPS)
    birth = date(p["birth_date"], "person.birth_date") if p.get("birth_date") else None
    history: dict[int, str] = {}
    for year, status in mapping(doc, "history").items():
        try:
            y = int(year)
        except (TypeError, ValueError) as exc:
            raise ScenarioError(f"history.{year}", "keys must be years") from exc
        history[y] = str(choice(status, f"history.{year}", (INSURED, LAPSED)))
    e = mapping(doc, "enrolment")
    in_period = e.get("in_collection_period", False)
    if not isinstance(in_period, bool):
        raise ScenarioError("enrolment.in_collection_period", "must be true or false")
    enrolment = Enrolment(
        date=date(e.get("date"), "enrolment.date"),
        in_collection_period=in_period,
        repaired_years=_count(e.get("repaired_years", 0), "enrolment.repaired_years"),
        coverage_year=_optional_count(e, "coverage_year", "enrolment.coverage_year"),
        break_months=_optional_count(e, "break_months", "enrolment.break_months"),
        transfer_gap_months=_optional_count(
            e, "transfer_gap_months", "enrolment.transfer_gap_months"
        ),
        carried_months=_count(e.get("carried_months", 0), "enrolment.carried_months"),
        zero_claim_years=_count(e.get("zero_claim_years", 0), "enrolment.zero_claim_years"),
    )
    if enrolment.repaired_years > sum(1 for s in history.values() if s == LAPSED):
        raise ScenarioError("enrolment.repaired_years", "more years repaired than lapsed")
    w = waiting_period(policy, Person(str(scheme), birth, frozenset(groups)), history, enrolment)
    return {
        "fixed_months": w.fixed_months,
        "variable_months": w.variable_months,
        "repaired_months": w.repaired_months,
        "total_months": w.total_months,
        "benefit_start": w.benefit_start.isoformat(),
        "rule": w.rule,
    }
