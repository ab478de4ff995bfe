"""A claim's amounts from its visit's fee detail lines (费用明细): the sums of the live lines'
stored classification (``services.fees``) stand for the claim's total, fully self-paid, over
limit and category-B amounts; the kernel then takes the category-B pre-payment share
(``catalog.category_b_prepay_ratio``) of the summed category B, as for any claim. A claim of a
visit without lines keeps its own amounts."""

from __future__ import annotations

from yibao.domain.errors import InvalidField
from yibao.domain.fees import LineSums
from yibao.domain.settlement import Claim
from yibao.policy import fen_to_yuan

#: The amounts lines derive, with the national name a request would give each by.
DERIVED = {
    "fully_self_paid": "fulamt_ownpay_amt",
    "over_limit": "overlmt_selfpay",
    "category_b": "category_b",
}


def claim_amounts(claim: Claim, lines: LineSums | None) -> tuple[int, int, int, int]:
    """(total, fully self-paid, over limit, category B) of the claim, in fen: from the visit's
    live lines when it has any, else as the claim gives them. With lines, a stated total must
    be the lines' sum, and the other three must not be given."""
    if lines is None:
        if not claim.gave("total"):
            raise InvalidField(
                "medfee_sumamt",
                "missing: give the amount in yuan, or upload the visit's fee detail lines (2204)",
            )
        return claim.total, claim.fully_self_paid, claim.over_limit, claim.category_b
    for name, national in DERIVED.items():
        if claim.gave(name):
            raise InvalidField(
                national,
                "must not be given: the visit has fee detail lines (2204), from which it is "
                "derived",
            )
    if lines.last_day is not None and claim.date < lines.last_day:
        raise InvalidField(
            "date",
            f"{claim.date.isoformat()} is before the visit's last fee detail line "
            f"({lines.last_day.isoformat()}): settle the visit on or after it",
            claim.date,
        )
    if claim.gave("total") and claim.total != lines.amount:
        raise InvalidField(
            "medfee_sumamt",
            f"{fen_to_yuan(claim.total)} is not the sum of the visit's fee detail lines "
            f"({fen_to_yuan(lines.amount)})",
        )
    return lines.amount, lines.fully_self_paid, lines.over_limit, lines.category_b
