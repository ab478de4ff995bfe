"""Cross-region direct settlement (异地就医直接结算) between two pooling areas: the rules of the
monthly clearing of one pair of areas. Pure: amounts in fen.

A claim treated in another area than the insured's (the visit is cross-region, its institution
registered in the treating area) is settled there under the insured area's policy: the insured
area's funds and the insured's personal account pay it (the settlement's legs), and the treating
area's cash pays the institution in advance when it clears the institution's month
(``domain.clearing.clearing_postings``: D ``cross_region_receivable:<treating>``, C
``cross_region_payable:<insured>``). Once a month each pair of areas clears: the insured area
pays the treating area what its funds and accounts owe for the pair's settlements of the month
less the reversals in it (``owed_to_institution`` summed), closing both accounts.
"""

from __future__ import annotations

import datetime as dt

from yibao.domain.errors import InvalidField
from yibao.domain.ledger import AccountKind, AccountRef, Posting, credit, debit
from yibao.domain.registry import check_area

#: The transaction kind of a pair's clearing.
CROSS_REGION_KIND = "cross_region_clearing"


def pair_reference(insured_area: str, treating_area: str, first: dt.date) -> str:
    """The business key of a pair's month: ``cross_region:<insured>:<treating>:<YYYY-MM>``,
    one payment per pair of areas and month."""
    return f"cross_region:{insured_area}:{treating_area}:{first:%Y-%m}"


def check_pair(insured_area: str | None, treating_area: str | None) -> None:
    """Each area given is six digits; a pair is two different areas."""
    if insured_area is not None:
        check_area(insured_area, "insured_area")
    if treating_area is not None:
        check_area(treating_area, "treating_area")
    if insured_area is not None and insured_area == treating_area:
        raise InvalidField(
            "treating_area", "is the insured area: a cross-region pair is two areas", treating_area
        )


def pair_postings(insured_area: str, treating_area: str, owed: int) -> list[Posting]:
    """The clearing of a pair's month: the insured area pays (D ``cross_region_payable``, C
    ``cash``), the treating area is paid back what it advanced (D ``cash``, C
    ``cross_region_receivable``). Each area's legs balance by themselves; a month whose
    reversals outweigh its settlements gives the signs reversed. Nothing when nothing is owed."""
    if owed == 0:
        return []
    return [
        debit(AccountRef.fund(AccountKind.CROSS_REGION_PAYABLE, insured_area), owed),
        credit(AccountRef.fund(AccountKind.CASH, insured_area), owed),
        debit(AccountRef.fund(AccountKind.CASH, treating_area), owed),
        credit(AccountRef.fund(AccountKind.CROSS_REGION_RECEIVABLE, treating_area), owed),
    ]
