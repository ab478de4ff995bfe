"""Supervision at pre-settlement (2206): the rules of the area's catalogue whose action is
``warn`` or ``refuse``, over the visit's live fee lines as 2204 classified them, answered as
warnings (rule code and text per line). One read of the visit's lines; nothing is stored.

The line rules run online (duplicate item, quantity over a maximum, sex/age restriction, an
item above the institution's level); the rules over a person's year (split admission, long
stay, visit frequency) run in the batch (``yibao supervise``); a settlement for a person not
insured on its date is refused by settlement itself (rules.md §4).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from yibao.domain.fees import FeeLine
from yibao.kernel.classify import REASONS
from yibao.kernel.supervision import (
    above_level_lines,
    duplicate_lines,
    over_quantity_lines,
    sex_age_lines,
)
from yibao.policy.params import Policy
from yibao.policy.supervision import RuleCatalogue, rule_catalogue
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
