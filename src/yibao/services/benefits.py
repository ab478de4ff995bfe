"""What a person is entitled to on a date (待遇): the waiting period and the annual caps of each
fund with what the year's settlements used of them. Read by 1101, 5206, FHIR eligibility and the
demo; amounts in fen (``UNCAPPED``: no cap).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao.domain.errors import RecordError
from yibao.domain.registry import Person
from yibao.kernel.tables import (
    UNCAPPED,
    basic_caps,
    critical_illness_cap,
    large_amount_cap,
)
from yibao.services import settlement as svc
from yibao.services.common import policy_for
from yibao.services.person_file import (
    PersonFile,
    aid_class,
    enrolment_on,
    incentive_raise,
    load_file,
    rule_scheme,
)
from yibao.services.person_file import entitlement as entitlement_of
from yibao.store.uow import UnitOfWork


@dataclass(frozen=True)
class CapUse:
    """One annual cap and what the year's settlements used of it (fen)."""

    #: ``basic``, ``critical_illness`` or ``large_amount``.
    fund: str
    annual_cap: int
    used: int
    #: The basic fund's cap group and the med types sharing it.
    cap_group: str | None = None
    med_types: tuple[str, ...] = ()
    #: Critical illness: the raise earned by continuous insurance and claim-free years (激励).
    incentive_raise: int | None = None

    @property
    def capped(self) -> bool:
        return self.annual_cap < UNCAPPED

    @property
    def remaining(self) -> int | None:
        return max(self.annual_cap - self.used, 0) if self.capped else None


@dataclass(frozen=True)
class Entitlement:
    """The waiting period on a date (``entitled_from`` None: not entitled; ``in_waiting_period``
    None: not enrolled, or the rule could not be applied, ``waiting_rule`` says why) and the
    caps."""

    entitled_from: dt.date | None
    in_waiting_period: bool | None
    waiting_rule: str
    caps: tuple[CapUse, ...]


def annual_caps(
    uow: UnitOfWork, p: Person, on: dt.date, file: PersonFile | None = None
) -> list[CapUse]:
    """The annual caps of the person's scheme on ``on`` and what the year's settlements used
    (``file``: the person's file, when already read); none when not enrolled."""
    file = file or load_file(uow, p)
    e = enrolment_on(file.enrolments, on)
    if e is None or p.id is None:
        return []
    policy = policy_for(e.pooling_area)
    tables = svc.tables_for(policy, on.year)
    scheme = rule_scheme(e)
    state = uow.settlements.state(p.id, on.year)
    out = [
        CapUse("basic", c.annual_cap, state.get(f"cap:{c.group}.paid", 0), c.group, c.med_types)
        for c in basic_caps(tables, on, scheme)
    ]
    if scheme == "resident":
        # as the kernel reads it: the cap of the person's assistance class, plus the raise
        base = critical_illness_cap(tables, on, aid_class(file, on))
        raised = incentive_raise(file, on.year, policy)
        cap = base if base >= UNCAPPED else base + raised
        out.append(CapUse("critical_illness", cap, state.get("ci.paid", 0), incentive_raise=raised))
    elif scheme in ("employee", "flexible", "retiree"):
        out.append(CapUse("large_amount", large_amount_cap(tables, on), state.get("la.paid", 0)))
    return out


def entitlement(uow: UnitOfWork, p: Person, on: dt.date) -> Entitlement:
    """The person's waiting period on ``on`` and remaining caps."""
    file = load_file(uow, p)
    e = enrolment_on(file.enrolments, on)
    if e is None:
        return Entitlement(None, None, f"not enrolled on {on.isoformat()}", ())
    try:
        ent = entitlement_of(file, e, on, policy_for(e.pooling_area))
    except RecordError as exc:
        return Entitlement(None, None, str(exc), ())
    waiting = ent.entitled_from is None or on < ent.entitled_from
    caps = tuple(annual_caps(uow, p, on, file))
    return Entitlement(ent.entitled_from, waiting, ent.rule, caps)
