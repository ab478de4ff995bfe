"""The DIP year-end settlement with institutions (DIP 年终清算): which group a discharged case
falls into, and the balanced transaction that settles an institution's year. Pure; fen.

During the year the basic pooling fund paid each inpatient settlement as the benefit rules said
(``hifp_pay``, posted at settlement and paid to the institution by the month's clearing): that is
the advance (预付). At the year's end every case is priced by its points (``kernel.dip``) and
the institution is owed ``fund_due`` (standard − what the pooling fund did not pay); the
difference ``fund_due − advanced`` is posted, per scheme, between the pooling fund and the
institution's account ``institution_payable:<code>``.
"""

from __future__ import annotations

from collections.abc import Mapping

from yibao.domain.ledger import AccountKind, AccountRef, Posting, credit, debit
from yibao.policy.vocab import InsuranceScheme


def dip_reference(institution: str, area: str, year: int) -> str:
    """The business key of an institution's year-end in a pooling area: one transaction per
    institution, area and year (``dip-settlement:<code>:<area>:<year>``)."""
    return f"dip-settlement:{institution}:{area}:{year}"


def dip_postings(institution: str, area: str, by_scheme: Mapping[str, int]) -> list[Posting]:
    """An institution's year-end: for each scheme D ``<scheme>_pooling:<area>`` (fund due −
    advanced of the scheme's cases; negative: the fund takes back), C
    ``institution_payable:<code>`` (the total: what the funds now owe the institution, or with
    the other sign what it owes back). Zero legs are dropped; nothing to post gives []."""
    legs = [
        debit(AccountRef.fund(AccountKind.pooling(InsuranceScheme(scheme)), area), fen)
        for scheme, fen in sorted(by_scheme.items())
        if fen != 0
    ]
    total = sum(by_scheme.values())
    if total != 0:
        legs.append(
            credit(AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, institution), total)
        )
    return legs if any(p.amount != 0 for p in legs) and sum(p.amount for p in legs) == 0 else []


def dip_payment_reference(institution: str, area: str, year: int) -> str:
    """The business key of paying out an institution's year-end balance: one transaction per
    institution, area and year (``dip-payment:<code>:<area>:<year>``)."""
    return f"dip-payment:{institution}:{area}:{year}"


def dip_payment_postings(institution: str, area: str, settlement: int) -> list[Posting]:
    """Paying out the year-end's balance as the monthly clearing pays a month
    (``domain.clearing.clearing_postings``): D ``institution_payable:<code>`` (what the
    year-end posted there), C ``cash:<area>`` (paid out of the area's cash). A negative
    settlement (the fund reclaims) gives the signs reversed: the institution pays the money
    back into cash. Nothing to pay gives []."""
    if settlement == 0:
        return []
    return [
        debit(AccountRef.of_institution(AccountKind.INSTITUTION_PAYABLE, institution), settlement),
        credit(AccountRef.fund(AccountKind.CASH, area), settlement),
    ]
