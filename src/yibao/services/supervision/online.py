"""Supervision at pre-settlement (2206): the rules of the area's catalogue whose action is
``warn`` or ``refuse``, over the visit's live fee lines as 2204 classified them, answered as
warnings (rule code and text per line). One read of the visit's lines; nothing is stored.

At settlement (2207, ``refuse_on_lines``) a rule whose action is ``refuse`` refuses the visit
(``SupervisionRefused``: the rule and its lines, nothing stored). The line sums 2207 reads
already count the lines of each classification rule (``FeeRepository.sums``), so the check
reads nothing more (the refusal counts the lines; 2206 names them); only the duplicate-item
rule, a comparison of lines, reads the visit's lines when it refuses, and names them.

The line rules run online (duplicate item, quantity over a maximum, sex/age restriction, an
item above the institution's level); the rules over a person's year (split admission, long
stay, visit frequency) run in the batch (``yibao supervise``); a settlement for a person not
insured on its date is refused by settlement itself (rules.md §4).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from yibao.domain.errors import SupervisionRefused
from yibao.domain.fees import FeeLine, LineSums
from yibao.domain.settlement import Visit
from yibao.kernel.classify import REASONS
from yibao.kernel.supervision import (
    above_level_lines,
    duplicate_lines,
    over_quantity_lines,
    sex_age_lines,
)
from yibao.policy.params import Policy
from yibao.policy.supervision import RuleCatalogue, refusing_rules, rule_catalogue
from yibao.policy.vocab import RuleAction, SupervisionRule
from yibao.store.uow import UnitOfWork

_ONLINE = (RuleAction.WARN, RuleAction.REFUSE)


def line_warnings(lines: list[FeeLine], catalogue: RuleCatalogue) -> list[dict[str, Any]]:
    """The warnings of a visit's classified live lines: per firing line, its serial, the rule
    code, the rule's text and its action."""
    live = [ln for ln in lines if ln.classes is not None]
    if not live:
        return []
    reason = np.array([REASONS.index(ln.classes.reason) for ln in live if ln.classes], np.int64)
    codes = {c: i for i, c in enumerate(sorted({ln.code for ln in live}))}
    twin = duplicate_lines(
        np.zeros(len(live), dtype=np.int64),
        np.array([codes[ln.code] for ln in live], np.int64),
        np.array([ln.fee_date.toordinal() for ln in live], np.int64),
        np.array([ln.quantity for ln in live], np.int64),
        np.array([ln.unit_price for ln in live], np.int64),
    )
    fired = {
        SupervisionRule.DUPLICATE_ITEM: twin >= 0,
        SupervisionRule.OVER_QUANTITY: over_quantity_lines(reason),
        SupervisionRule.SEX_AGE: sex_age_lines(reason),
        SupervisionRule.ABOVE_LEVEL: above_level_lines(reason),
    }
    out = []
    for rule, mask in fired.items():
        entry = catalogue.rule(rule)
        if entry.action not in _ONLINE:
            continue
        for at in np.flatnonzero(mask):
            out.append(
                {
                    "feedetl_sn": live[at].feedetl_sn,
                    "rule": rule.value,
                    "text": entry.text.description,
                    "action": entry.action.value,
                }
            )
    return sorted(out, key=lambda w: (w["feedetl_sn"], w["rule"]))


def visit_warnings(uow: UnitOfWork, mdtrt_id: str, area: str, on: dt.date) -> list[dict[str, Any]]:
    """The supervision warnings of a registered visit's lines (2206)."""
    catalogue = rule_catalogue(Policy(area), on)
    with uow:
        visit = uow.settlements.visit(mdtrt_id)
        if visit is None or visit.id is None:
            return []
        lines = uow.fees.lines(visit.id, live_only=True)
    return line_warnings(lines, catalogue)


def refuse_on_lines(
    uow: UnitOfWork, visit: Visit, sums: LineSums, policy: Policy, on: dt.date
) -> None:
    """Refuse a settlement (2207) of ``visit`` (its live lines summed: ``sums``) when a rule
    of the area's catalogue on ``on`` whose action is ``refuse`` fires on its lines: the first
    such rule in catalogue order, with the number of its lines (a classification rule's from
    ``sums``: nothing is read) or their serials (the duplicate-item rule's, from the visit's
    lines, read only when that rule refuses)."""
    rules = refusing_rules(policy, on)
    if not rules or visit.id is None:
        return
    counted = dict(sums.rule_lines)
    subject = f"visit {visit.mdtrt_id}"
    for rule in rules:
        code = rule.code.value
        if rule.code is not SupervisionRule.DUPLICATE_ITEM:
            if counted.get(code):
                raise SupervisionRefused(subject, code, rule.text.description, counted[code], None)
            continue
        found = line_warnings(uow.fees.lines(visit.id, live_only=True), rule_catalogue(policy, on))
        serials = [w["feedetl_sn"] for w in found if w["rule"] == code]
        if serials:
            raise SupervisionRefused(subject, code, rule.text.description, len(serials), serials)
