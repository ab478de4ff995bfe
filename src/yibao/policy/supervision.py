"""The supervision rule catalogue (智能监控规则库) as data: what each shipped rule reads and means
(fixed here), and what it does in a region on a date (``supervision.*`` in the region files: its
action, severity and thresholds), so a bureau switches a rule on or off, makes it refuse, or
tunes its threshold without a code change (back-office.md §4, docs/supervision.md).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from yibao.policy.errors import ParameterError
from yibao.policy.params import Policy
from yibao.policy.vocab import LineReason, RuleAction, Severity, SupervisionRule


@dataclass(frozen=True)
class RuleText:
    """What a rule is: its description and the fields it reads (fixed by the code)."""

    description: str
    fields: tuple[str, ...]
    parameters: tuple[str, ...] = ()


#: Every shipped rule's description, fields read and parameters.
RULE_TEXTS: dict[SupervisionRule, RuleText] = {
    SupervisionRule.DUPLICATE_ITEM: RuleText(
        "重复收费: the same item billed twice for one person on one day (same quantity and price)",
        ("psn_no", "code", "fee_date", "quantity", "unit_price"),
    ),
    SupervisionRule.OVER_QUANTITY: RuleText(
        "超限量: quantity above the catalogue's daily or per-stay maximum",
        ("code", "fee_date", "quantity", "catalogue.max_per_day", "catalogue.max_per_stay"),
    ),
    SupervisionRule.SEX_AGE: RuleText(
        "限性别/限年龄: an item restricted to the other sex or to other ages",
        ("code", "fee_date", "sex", "birth_date", "catalogue.sex", "catalogue.age"),
    ),
    SupervisionRule.SPLIT_ADMISSION: RuleText(
        "分解住院: a readmission for the same principal diagnosis soon after discharge",
        ("psn_no", "admit_date", "date", "diagnosis"),
        ("supervision.readmission_days",),
    ),
    SupervisionRule.LONG_STAY: RuleText(
        "超长住院: a stay longer than its diagnosis group's limit",
        ("admit_date", "date", "diagnosis"),
        ("supervision.stay_limit_days",),
    ),
    SupervisionRule.DEAD_OR_UNINSURED: RuleText(
        "死亡/未参保结算: a settlement dated after the person's death or outside their cover",
        ("psn_no", "date", "death_date", "enrolment"),
    ),
    SupervisionRule.ABOVE_LEVEL: RuleText(
        "超医疗机构级别: an item the institution's level may not bill",
        ("code", "level", "catalogue.min_level"),
    ),
    SupervisionRule.VISIT_FREQUENCY: RuleText(
        "就诊频次异常: more visits by one person in a window of days than plausible",
        ("psn_no", "date"),
        ("supervision.frequency.window_days", "supervision.frequency.max_visits"),
    ),
}


#: The line rules fired by a line's classification (2204's reason): the reasons of each.
LINE_RULE_REASONS: dict[SupervisionRule, tuple[LineReason, ...]] = {
    SupervisionRule.OVER_QUANTITY: (LineReason.DAY_QUANTITY, LineReason.STAY_QUANTITY),
    SupervisionRule.SEX_AGE: (LineReason.SEX, LineReason.AGE),
    SupervisionRule.ABOVE_LEVEL: (LineReason.LEVEL,),
}
#: The rules run over a visit's lines at settlement time: 2206 warns, 2207 refuses on them.
ONLINE_RULES: tuple[SupervisionRule, ...] = (SupervisionRule.DUPLICATE_ITEM, *LINE_RULE_REASONS)
#: The rules run over the visit itself and the person's other visits at settlement time (each
#: reads at most one query, and only when its action is ``warn`` or ``refuse``).
VISIT_RULES: tuple[SupervisionRule, ...] = (
    SupervisionRule.DEAD_OR_UNINSURED,
    SupervisionRule.SPLIT_ADMISSION,
    SupervisionRule.LONG_STAY,
    SupervisionRule.VISIT_FREQUENCY,
)


@dataclass(frozen=True)
class CatalogueRule:
    """One rule of a region's catalogue on a date."""

    code: SupervisionRule
    action: RuleAction
    severity: Severity
    text: RuleText


@dataclass(frozen=True)
class RuleCatalogue:
    """A region's supervision rules and thresholds on a date."""

    rules: tuple[CatalogueRule, ...]
    readmission_days: int
    frequency_window_days: int
    frequency_max_visits: int
    #: stay limit (days) by ICD-10 category or chapter letter; ``default`` for the rest
    stay_limit_days: dict[str, int]

    def rule(self, code: SupervisionRule) -> CatalogueRule:
        return next(r for r in self.rules if r.code == code)

    def active(self, code: SupervisionRule) -> bool:
        return self.rule(code).action != RuleAction.OFF

    def acting(self, *actions: RuleAction) -> tuple[CatalogueRule, ...]:
        return tuple(r for r in self.rules if r.action in actions)

    def stay_limit(self, diagnosis: str | None) -> int:
        """The stay limit of a principal diagnosis: its category's, its chapter's, or the
        default."""
        limits = self.stay_limit_days
        code = (diagnosis or "").strip().upper()
        for key in (code[:3], code[:1]):
            if key and key in limits:
                return limits[key]
        return limits["default"]


def rule_catalogue(policy: Policy, on: dt.date) -> RuleCatalogue:
    """The supervision catalogue of ``policy``'s region on ``on``; a rule or a threshold the
    files do not set, or set to something unknown, is an error naming the parameter."""
    configured = policy.subtree("supervision.rules", on)
    rules = []
    for code in SupervisionRule:
        entry = configured.get(code.value)
        path = f"supervision.rules.{code.value}"
        if not isinstance(entry, dict):
            raise ParameterError(policy.source_file("supervision", on), path, "not set")
        try:
            action = RuleAction(str(entry.get("action")))
            severity = Severity(str(entry.get("severity")))
        except ValueError as e:
            raise ParameterError(policy.source_file(path + ".action", on), path, str(e)) from e
        rules.append(CatalogueRule(code, action, severity, RULE_TEXTS[code]))
    limits = {k.upper() if k != "default" else k: int(v) for k, v in _stay(policy, on).items()}
    values = {
        "readmission_days": policy.count("supervision.readmission_days", on),
        "window": policy.count("supervision.frequency.window_days", on),
        "max_visits": policy.count("supervision.frequency.max_visits", on),
    }
    for name, value in [*values.items(), *(("stay_limit_days." + k, v) for k, v in limits.items())]:
        if value < 1 or value > 3660:
            raise ParameterError(
                policy.source_file("supervision", on), f"supervision.{name}", "out of 1..3660"
            )
    return RuleCatalogue(
        tuple(rules),
        values["readmission_days"],
        values["window"],
        values["max_visits"],
        limits,
    )


def _stay(policy: Policy, on: dt.date) -> dict[str, int]:
    table = policy.subtree("supervision.stay_limit_days", on)
    if "default" not in table:
        raise ParameterError(
            policy.source_file("supervision", on), "supervision.stay_limit_days.default", "not set"
        )
    return table


@lru_cache(maxsize=64)
def _change_dates(policy: Policy) -> tuple[dt.date, ...]:
    return tuple(policy.dates())


def _step(policy: Policy, on: dt.date) -> dt.date:
    """The last date on or before ``on`` at which some parameter of ``policy`` changes: the
    catalogue is the same on both, so the caches below hold one entry per step, not one per
    claim date (``on`` itself before the first change)."""
    dates = _change_dates(policy)
    at = bisect_right(dates, on)
    return dates[at - 1] if at else on


def refusing_rules(policy: Policy, on: dt.date) -> tuple[CatalogueRule, ...]:
    """The online rules (``ONLINE_RULES``) whose action in ``policy``'s region on ``on`` is
    ``refuse``: what 2207 checks a visit's lines against (none by default)."""
    return _refusing(policy, _step(policy, on), ONLINE_RULES)


def refusing_visit_rules(policy: Policy, on: dt.date) -> tuple[CatalogueRule, ...]:
    """The visit rules (``VISIT_RULES``) whose action in ``policy``'s region on ``on`` is
    ``refuse``: what 2207 checks a visit and the person's other visits against (by default
    only ``dead_or_uninsured``, which reads nothing)."""
    return _refusing(policy, _step(policy, on), VISIT_RULES)


def cached_catalogue(policy: Policy, on: dt.date) -> RuleCatalogue:
    """``rule_catalogue``, read once per policy and step of its parameters (2206 and 2207 ask
    for it per request)."""
    return _catalogue(policy, _step(policy, on))


@lru_cache(maxsize=1024)
def _catalogue(policy: Policy, on: dt.date) -> RuleCatalogue:
    return rule_catalogue(policy, on)


@lru_cache(maxsize=1024)
def _refusing(
    policy: Policy, on: dt.date, which: tuple[SupervisionRule, ...]
) -> tuple[CatalogueRule, ...]:
    return tuple(r for r in _catalogue(policy, on).acting(RuleAction.REFUSE) if r.code in which)
