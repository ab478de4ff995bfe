"""Supervision at pre-settlement (2206): the rules of the area's catalogue whose action is
``warn`` or ``refuse``, over the visit's live fee lines as 2204 classified them, answered as
warnings (rule code and text per line). One read of the visit's lines; nothing is stored.

At settlement (2207, ``refuse_on_lines``) a rule whose action is ``refuse`` refuses the visit
(``SupervisionRefused``: the rule and its lines, nothing stored). The line sums 2207 reads
already count the lines of each classification rule and the repeated lines
(``FeeRepository.sums``), so the check reads nothing more (the refusal counts the lines; 2206
names them); only a refusing duplicate-item rule that fires reads the visit's lines, to name
the repeated ones.

The line rules run online (duplicate item, quantity over a maximum, sex/age restriction, an
item above the institution's level), and so do the rules over the visit and the person's
other visits (``VISIT_RULES``) when a region makes them ``warn`` or ``refuse``: settlement
after the person's death (no query: the registry's date of death is read with the person),
a stay over its group's limit (no query unless the stay passes the shortest limit: then the
visit's principal diagnosis), a split admission (one indexed query per admission: the
person's previous admission with the same principal diagnosis) and the visit frequency (one
query: the person's visit days in the window). A rule left at ``review`` (the default for the
last three) costs nothing. A settlement for a person not insured on its date is refused by
settlement itself (rules.md §4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from yibao.domain.errors import SupervisionRefused
from yibao.domain.fees import FeeLine, LineSums
from yibao.domain.registry import Person
from yibao.domain.settlement import Visit
from yibao.kernel.classify import NO_LIMIT, REASONS
from yibao.kernel.supervision import (
    above_level_lines,
    dead_or_uninsured,
    duplicate_lines,
    frequent_visits,
    long_stays,
    over_quantity_lines,
    sex_age_lines,
    split_admissions,
)
from yibao.kernel.tables import epoch_days
from yibao.policy.params import Policy
from yibao.policy.supervision import (
    VISIT_RULES,
    CatalogueRule,
    RuleCatalogue,
    cached_catalogue,
    refusing_rules,
    refusing_visit_rules,
)
from yibao.policy.vocab import MedType, RuleAction, SupervisionRule
from yibao.services.common import policy_for
from yibao.store.uow import UnitOfWork

_ONLINE = (RuleAction.WARN, RuleAction.REFUSE)
_ADMISSIONS = (MedType.INPATIENT.value, MedType.MATERNITY.value)


def _days(*values: dt.date) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array([epoch_days(v) for v in values], dtype=np.int64)


@dataclass(frozen=True)
class VisitHit:
    """A visit rule that fired online: the rule and what fired (said to the clerk)."""

    rule: CatalogueRule
    why: str


def visit_hits(
    uow: UnitOfWork,
    visit: Visit | None,
    person: Person,
    on: dt.date,
    rules: Sequence[CatalogueRule],
    catalogue: RuleCatalogue,
) -> list[VisitHit]:
    """The ``rules`` (of ``VISIT_RULES``) that fire on a settlement of ``person`` on ``on``
    (of ``visit``, when registered), in the given order; each runs the kernel's function over
    the visit and what it reads of the person's other visits (inside the caller's unit of
    work)."""
    out: list[VisitHit] = []
    admission = visit is not None and visit.id is not None and visit.med_type in _ADMISSIONS
    for rule in rules:
        code = rule.code
        if code is SupervisionRule.DEAD_OR_UNINSURED and person.died_on is not None:
            died = _days(person.died_on)
            if dead_or_uninsured(_days(on), died, _days(dt.date.min), np.array([NO_LIMIT]))[0]:
                out.append(
                    VisitHit(
                        rule,
                        f"settled on {on.isoformat()}, after the person's death on "
                        f"{person.died_on.isoformat()}",
                    )
                )
        elif code is SupervisionRule.LONG_STAY and admission and visit is not None:
            discharge = visit.end_date or on
            stay = (discharge - visit.begin_date).days
            if stay <= min(catalogue.stay_limit_days.values()):
                continue  # within every limit: no diagnosis read
            diagnosis = uow.supervision.principal_diagnosis(visit.id or 0)
            limit = catalogue.stay_limit(diagnosis)
            inpatient = np.ones(1, dtype=np.bool_)
            limits = np.array([limit], dtype=np.int64)
            if long_stays(_days(visit.begin_date), _days(discharge), inpatient, limits)[0]:
                out.append(VisitHit(rule, f"a stay of {stay} days, above the limit {limit}"))
        elif code is SupervisionRule.SPLIT_ADMISSION and admission and visit is not None:
            found = uow.supervision.previous_admission(
                visit.id or 0, visit.person_id, visit.begin_date
            )
            if found is None:
                continue
            other, admitted, discharged, _ = found
            earlier = split_admissions(
                np.zeros(2, dtype=np.int64),
                _days(admitted, visit.begin_date),
                _days(discharged, visit.end_date or on),
                np.zeros(2, dtype=np.int64),
                np.ones(2, dtype=np.bool_),
                catalogue.readmission_days,
            )
            if earlier[1] == 0:
                out.append(
                    VisitHit(
                        rule,
                        f"admitted {(visit.begin_date - discharged).days} day(s) after "
                        f"visit {other} was discharged, same principal diagnosis",
                    )
                )
        elif code is SupervisionRule.VISIT_FREQUENCY:
            window = catalogue.frequency_window_days
            first = on - dt.timedelta(days=window - 1)
            but = visit.id if visit is not None else None
            days = uow.supervision.visit_days(person.id or 0, first, on, but)
            every = _days(*days, on)
            over = frequent_visits(
                np.zeros(len(every), dtype=np.int64),
                every,
                window,
                catalogue.frequency_max_visits,
            )
            if over[-1]:
                most = catalogue.frequency_max_visits
                out.append(VisitHit(rule, f"{len(every)} visits in {window} days (at most {most})"))
    return out


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


def visit_warnings(
    uow: UnitOfWork,
    mdtrt_id: str | None,
    person_id: int,
    area: str,
    on: dt.date,
    lines: list[FeeLine] | None = None,
) -> list[dict[str, Any]]:
    """The supervision warnings of a pre-settlement (2206): each line of the registered visit
    that fires a line rule, then (``feedetl_sn`` None) each visit rule that fires on the
    visit or the person, of the rules whose action is ``warn`` or ``refuse``. ``lines``: the
    visit's live lines classified with lines not stored (``fees.preview_upload``), instead
    of the stored ones."""
    catalogue = cached_catalogue(policy_for(area), on)
    rules = [r for r in catalogue.rules if r.code in VISIT_RULES and r.action in _ONLINE]
    with uow:
        visit = uow.settlements.visit(mdtrt_id) if mdtrt_id else None
        if lines is None:
            lines = uow.fees.lines(visit.id, live_only=True) if visit and visit.id else []
        person = uow.persons.get(person_id) if rules else None
        hits = visit_hits(uow, visit, person, on, rules, catalogue) if person else []
    found = [
        {
            "feedetl_sn": None,
            "rule": h.rule.code.value,
            "text": h.rule.text.description,
            "action": h.rule.action.value,
            "detail": h.why,
        }
        for h in hits
    ]
    return found + line_warnings(lines, catalogue)


def refuse_on_visit(
    uow: UnitOfWork, visit: Visit | None, person: Person, policy: Policy, on: dt.date
) -> None:
    """Refuse a settlement (2207) of ``person`` on ``on`` (of ``visit`` when registered) when
    a visit rule (``VISIT_RULES``) whose action is ``refuse`` fires: the first in catalogue
    order, naming what fired. With the national catalogue only ``dead_or_uninsured`` refuses,
    read from the person (no query)."""
    rules = refusing_visit_rules(policy, on)
    if not rules:
        return
    if person.died_on is None and all(r.code is SupervisionRule.DEAD_OR_UNINSURED for r in rules):
        return
    hits = visit_hits(uow, visit, person, on, rules, cached_catalogue(policy, on))
    if hits:
        subject = f"visit {visit.mdtrt_id}" if visit is not None else f"person {person.label}"
        first = hits[0]
        raise SupervisionRefused(
            subject, first.rule.code.value, first.rule.text.description, 0, None, first.why
        )


def refuse_on_lines(
    uow: UnitOfWork, visit: Visit, sums: LineSums, policy: Policy, on: dt.date
) -> None:
    """Refuse a settlement (2207) of ``visit`` (its live lines summed: ``sums``) when a rule
    of the area's catalogue on ``on`` whose action is ``refuse`` fires on its lines: the first
    such rule in catalogue order, with the number of its lines (a classification rule's from
    ``sums``: nothing is read) or their serials (the duplicate-item rule's: the sums count the
    repeated lines, and only when there are some are the visit's lines read to name them)."""
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
        if not counted.get(code):
            continue  # no repeated line (counted by the sums): nothing read
        found = line_warnings(
            uow.fees.lines(visit.id, live_only=True), cached_catalogue(policy, on)
        )
        serials = [w["feedetl_sn"] for w in found if w["rule"] == code]
        if serials:
            raise SupervisionRefused(subject, code, rule.text.description, len(serials), serials)
