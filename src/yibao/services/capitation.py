"""Capitation (按人头付费) for primary care and chronic outpatient care: the year's
reconciliation of a pooling area (年度清算).

Each insured person of the area is enrolled, for a scheme, with the institution that had most of
their outpatient and chronic settlements of the year (``rules.capitation.enrolled_institution``,
at least ``provider_payment.capitation.min_share`` of them). The institution is due
``per_capita`` × its enrolled persons (``capitation_due``) and has been paid, claim by claim,
what the basic pooling fund paid for those persons' settlements there; the difference
(``capitation_settlement``) is posted once per institution, area and year
(``capitation:<code>:<area>:<year>``) between the pooling fund of each scheme and the
institution's ``institution_payable`` account (``domain.dip_year.dip_postings``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from yibao.domain.dip_year import dip_postings
from yibao.domain.errors import InvalidField
from yibao.domain.funds import check_year
from yibao.domain.ledger import LedgerTransaction
from yibao.domain.registry import check_area
from yibao.policy import fen_to_yuan
from yibao.policy.vocab import InsuredCategory
from yibao.rules.capitation import capitation_due, capitation_settlement, enrolled_institution
from yibao.services import clock
from yibao.services.common import policy_for
from yibao.store.capitation import outpatient_care, posted_references
from yibao.store.uow import UnitOfWork

CAPITATION_KIND = "capitation"


def capitation_reference(institution: str, area: str, year: int) -> str:
    """One transaction per institution, area and year."""
    return f"capitation:{institution}:{area}:{year}"


@dataclass(frozen=True)
class InstitutionCapitation:
    """An institution's capitation year (fen), per scheme and in total."""

    institution: str
    enrolled: dict[str, int]
    due: dict[str, int]
    paid_by_claim: dict[str, int]
    transaction_id: int | None = None

    @property
    def settlement(self) -> dict[str, int]:
        return {s: capitation_settlement(self.due[s], self.paid_by_claim[s]) for s in self.due}

    def as_dict(self) -> dict[str, Any]:
        total = sum(self.settlement.values())
        return {
            "institution": self.institution,
            "enrolled": sum(self.enrolled.values()),
            "enrolled_by_scheme": dict(self.enrolled),
            "due": fen_to_yuan(sum(self.due.values())),
            "paid_by_claim": fen_to_yuan(sum(self.paid_by_claim.values())),
            "settlement": fen_to_yuan(total),
            "transaction": self.transaction_id,
        }


def reconcile(
    uow: UnitOfWork, area: str, year: int, *, post: bool = False
) -> list[InstitutionCapitation]:
    """The year's capitation of every institution with enrolled persons in ``area``; with
    ``post``, the differences posted (an institution already posted is not posted again; its
    transaction is shown either way)."""
    check_area(area, "area")
    check_year(year)
    if post and clock.today() <= dt.date(year, 12, 31):
        raise InvalidField("year", f"{year} is not over: reconcile it after 31 December", year)
    policy = policy_for(area)
    on = dt.date(year, 1, 1)
    per_capita = policy.fen("provider_payment.capitation.per_capita", on)
    share = policy.rate("provider_payment.capitation.min_share", on)
    with uow:
        care = outpatient_care(uow.session, area, year)
        by_person: dict[tuple[int, str], dict[str, tuple[int, int]]] = defaultdict(dict)
        for c in care:
            # a settlement names the insured category; the fund is its scheme's
            scheme = InsuredCategory(c.scheme).scheme.value
            visits, fund_paid = by_person[(c.person_id, scheme)].get(c.institution, (0, 0))
            by_person[(c.person_id, scheme)][c.institution] = (
                visits + c.visits,
                fund_paid + c.fund_paid,
            )
        enrolled: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        paid: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (_, scheme), places in by_person.items():
            code = enrolled_institution({k: v[0] for k, v in places.items()}, share)
            if code is not None:
                enrolled[code][scheme] += 1
                paid[code][scheme] += places[code][1]
        found = [
            InstitutionCapitation(
                code,
                dict(enrolled[code]),
                {s: capitation_due(n, per_capita) for s, n in enrolled[code].items()},
                dict(paid[code]),
            )
            for code in sorted(enrolled)
        ]
        refs = [capitation_reference(i.institution, area, year) for i in found]
        done = posted_references(uow.session, refs)
        out = []
        for i, ref in zip(found, refs, strict=True):
            txn_id = done.get(ref)
            if post and txn_id is None:
                legs = dip_postings(i.institution, area, i.settlement)
                if legs:
                    txn_id = uow.ledger.post(
                        LedgerTransaction.of(
                            CAPITATION_KIND,
                            dt.date(year, 12, 31),
                            legs,
                            f"capitation {year} of area {area} with {i.institution}",
                            ref,
                        )
                    )
            out.append(
                InstitutionCapitation(i.institution, i.enrolled, i.due, i.paid_by_claim, txn_id)
            )
        if post:
            uow.commit()
        return out
